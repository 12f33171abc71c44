"""A service's texts in the language of the page, falling back to the ones it was written in."""

TRANSLATED_FIELDS = ("name", "address", "description")


def localized(service, field: str, language: str) -> str | None:
    """Return a service's name, address or description in `language`, else its own text."""
    translated = ((getattr(service, "translations", None) or {}).get(language) or {}).get(field)
    return translated or getattr(service, field, None)
