"""Language choice without cookies: `?lang=` carried in links and forms, else Accept-Language."""

from flask import current_app, request
from flask_babel import get_locale


def languages() -> list[str]:
    """Return the site's languages; the first is the fallback."""
    return current_app.config["SITE_LANGUAGES"].split(",")


def select_locale() -> str:
    """Pick the page language: an explicit choice first, then the browser's preference."""
    offered = languages()
    chosen = request.values.get("lang", "")
    if chosen in offered:
        return chosen
    return request.accept_languages.best_match(offered) or offered[0]


def current_language() -> str:
    """Return the language code of this request's page."""
    return str(get_locale().language)
