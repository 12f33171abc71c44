"""Non-JSON answers of the statistics endpoints: charts of standard tables."""

from flask import Response

from registry.stats import charts

_BINARY = {"schema": {"type": "string", "format": "binary"}}
# The TDI endpoint's other 200 bodies, for the OpenAPI document.
TDI_ALTERNATIVES = {
    "text/csv": {"schema": {"type": "string"}},
    "image/png": _BINARY,
    "image/svg+xml": {"schema": {"type": "string"}},
}


def chart(definition: dict, parts: dict, release_ref: str, fmt: str) -> Response:
    """Return a chart of a protected standard table; the release id travels in a header."""
    body = charts.render(definition, parts, fmt)
    return Response(body, mimetype=charts.FORMATS[fmt], headers={"X-Release": release_ref})
