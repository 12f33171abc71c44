"""Non-JSON answers of the statistics endpoints: charts of standard tables."""

from flask import Response

CHART_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
# The TDI endpoint's other 200 bodies, for the OpenAPI document.
TDI_ALTERNATIVES = {
    "text/csv": {"schema": {"type": "string"}},
    "image/png": _BINARY,
    "image/svg+xml": {"schema": {"type": "string"}},
}


def chart(definition: dict, parts: dict, release_ref: str, fmt: str) -> Response:
    """Return a chart of a protected standard table; the release id travels in a header."""
    from registry.stats import charts  # matplotlib takes seconds to import: only when drawing

    body = charts.render(definition, parts, fmt)
    return Response(body, mimetype=CHART_TYPES[fmt], headers={"X-Release": release_ref})
