"""Fields that take a code of one of the registry's lists, never free text.

Text typed about a person can always carry who they are (a name, a split IIN, an address),
and no filter finds every form; a code from a list cannot (DESIGN.md §2.5).
"""

from marshmallow import fields, validate

from registry.episodes.codes import input_codes


def coded(list_name: str, description: str, **kwargs) -> fields.String:
    """Return a string field that accepts only the input codes of one code list."""
    return fields.String(
        validate=validate.OneOf(
            input_codes(list_name), error=f"Unknown code; see {list_name} at GET /api/v1/codes."
        ),
        metadata={"description": f"{description} A code of {list_name} at GET /api/v1/codes."},
        **kwargs,
    )
