"""Request hooks: request ids, content-type checks and security headers."""

import re
import uuid

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import UnsupportedMediaType

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
STATIC_PREFIXES = ("/static/", "/api/v1/docs/static/", "/api/v1/docs/local/")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def assign_request_id() -> None:
    """Reuse a well-formed X-Request-ID from the proxy, or make one."""
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def note_read_only() -> None:
    """Remember whether the view promised not to write (see registry.database.read_only)."""
    view = current_app.view_functions.get(request.endpoint or "")
    g.read_only = getattr(view, "read_only", False)


def require_json_body() -> None:
    """Refuse an API body that is not JSON (415) before any view parses it."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    has_body = (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )
    if has_body and not request.is_json:
        raise UnsupportedMediaType()


# Set on every answer; the CSP and caching depend on what is answered.
_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


def secure_headers(response: Response) -> Response:
    """Add security headers; nothing but static assets may be cached."""
    headers = response.headers
    headers.extend(_ALWAYS)
    headers["X-Request-ID"] = g.get("request_id", "")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = (
            PAGE_CSP if response.mimetype == "text/html" else API_CSP
        )
    if not request.path.startswith(STATIC_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return response


def register_web_hooks(app: Flask) -> None:
    """Install the hooks in the order they must run."""
    app.before_request(assign_request_id)
    app.before_request(note_read_only)
    app.before_request(require_json_body)
    app.after_request(secure_headers)
    # g outlives a request when an app context is shared (CLI, tests): forget the promise.
    app.teardown_request(lambda _exc: g.pop("read_only", None))
