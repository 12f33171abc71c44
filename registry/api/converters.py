"""Path converters that refuse, as no route (404), values the database cannot hold."""

from flask import Flask
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.routing import IntegerConverter

# Ids are PostgreSQL `integer` columns; a larger number would fail in the driver, not match.
MAX_ID = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` that matches only numbers an integer column can hold."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bound_integer_paths(app: Flask, api) -> None:
    """Make every `<int:…>` route segment a database id, and document its maximum."""
    app.url_map.converters["int"] = DatabaseIdConverter
    api.register_converter(DatabaseIdConverter, integerconverter2paramschema)
