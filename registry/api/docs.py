"""Interactive API docs: Swagger UI served from our own origin, no CDN, no inline script."""

from pathlib import Path

from flask import Blueprint, Response, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

docs = Blueprint("docs", __name__, url_prefix="/api/v1/docs")
docs.policy = "public"

_ASSETS = Path(__file__).parent / "docs_assets"
# Swagger UI sets inline style attributes, so styles (only) may be inline on this page.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>registry API v1</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


@docs.route("", methods=["GET"])
def page() -> Response:
    """Serve the Swagger UI page for /api/v1/openapi.json."""
    html = _PAGE.format(
        css=url_for("docs.asset", name="swagger-ui.css"),
        bundle=url_for("docs.asset", name="swagger-ui-bundle.js"),
        init=url_for("docs.local", name="init.js"),
        spec=url_for("api-docs.openapi_json"),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _DOCS_CSP
    return response


@docs.route("/static/<path:name>", methods=["GET"])
def asset(name: str) -> Response:
    """Serve a file of the Swagger UI bundle."""
    return send_from_directory(swagger_ui_path, name, max_age=3600)


@docs.route("/local/<path:name>", methods=["GET"])
def local(name: str) -> Response:
    """Serve our own script that starts Swagger UI."""
    return send_from_directory(_ASSETS, name, max_age=3600)
