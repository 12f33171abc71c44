"""Free text that people type: bounded, and refused when it carries a direct identifier.

Override reasons and re-identification purposes are stored and shown to other staff; an IIN,
a phone number or an e-mail address typed into them would sit in the database in clear, which
the registry promises never to do. Names cannot be told from words; these shapes can.
"""

import re

from marshmallow import ValidationError, fields, validate

# Calendar days are not identifiers on their own, and clinical notes are full of them.
_DATES = re.compile(r"\b(?:\d{4}-\d{2}-\d{2}|\d{2}[./]\d{2}[./]\d{4})\b")
# Ten or more digits, however grouped: an IIN (12), a phone number (10-11), a document number.
_LONG_NUMBER = re.compile(r"(?<!\d)(?:\d[\s()+\-.]{0,3}){9,}\d(?!\d)")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
REFUSED = (
    "must not contain an identifier (a long number such as an IIN or a phone number, or an"
    " e-mail address); describe it without one"
)


_NO_IDENTIFIERS = "Refused with 422 if it holds a number of 10+ digits or an e-mail address."


def no_identifier(text: str) -> None:
    """Refuse text with an identifier shape, without ever echoing the text."""
    undated = _DATES.sub(" ", text)
    if _LONG_NUMBER.search(undated) or _EMAIL.search(undated):
        raise ValidationError(REFUSED)


def free_text(min_length: int, max_length: int, description: str, **kwargs) -> fields.String:
    """Return a bounded free-text field that refuses identifiers."""
    return fields.String(
        validate=[validate.Length(min=min_length, max=max_length), no_identifier],
        metadata={"description": f"{description} {_NO_IDENTIFIERS}"},
        **kwargs,
    )
