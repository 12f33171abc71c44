"""Request hooks and the answer envelope: request ids, content-type checks, security headers."""

import re
import uuid

from flask import Flask, Request, current_app, g, request
from werkzeug.exceptions import UnsupportedMediaType

from registry.errors import ValidationFailed
from registry.input_text import (
    UNSTORABLE,
    unstorable_fields,
    unstorable_json_paths,
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
REQUEST_ID_KEY = "registry.request_id"  # the WSGI environ key the middleware fills
STATIC_PREFIXES = ("/static/", "/api/v1/docs/static/", "/api/v1/docs/local/")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

# Set on every answer; the CSP and caching depend on what is answered.
_ALWAYS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]
# Only a document (a page) has an opener or browser features to restrict.
_DOCUMENT = [
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
_NO_STORE = ("Cache-Control", "no-store")


def new_request_id(given: str) -> str:
    """Reuse a well-formed X-Request-ID from the proxy, or make one."""
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


class AnswerHeaders:
    """WSGI middleware: a request id for every request, security headers on every answer.

    It sits outside Flask so that error answers get the headers too, and because adding
    them to the header list the server writes costs a fraction of setting them one by one
    on the response object.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = new_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        environ[REQUEST_ID_KEY] = request_id
        cacheable = environ.get("PATH_INFO", "").startswith(STATIC_PREFIXES)

        def start(status, headers, exc_info=None):
            return start_response(status, secure(headers, request_id, cacheable), exc_info)

        return self.wsgi_app(environ, start)


def secure(headers: list, request_id: str, cacheable: bool) -> list:
    """Return an answer's headers with the security headers; only static assets may be cached."""
    names = {name.lower(): value for name, value in headers}
    if "x-request-id" in names or (not cacheable and "cache-control" in names):
        dropped = {"x-request-id"} if cacheable else {"x-request-id", "cache-control"}
        headers = [h for h in headers if h[0].lower() not in dropped]
    headers.extend(_ALWAYS)
    headers.append(("X-Request-ID", request_id))
    html = names.get("content-type", "").startswith("text/html")
    if html:
        headers.extend(_DOCUMENT)
    if "content-security-policy" not in names:
        headers.append(("Content-Security-Policy", PAGE_CSP if html else API_CSP))
    if not cacheable:
        headers.append(_NO_STORE)
    return headers


def prepare_request() -> None:
    """Note the request id and the view's read-only promise; refuse a non-JSON API body."""
    req = request._get_current_object()  # one lookup instead of one per attribute
    given = req.environ.get(REQUEST_ID_KEY)
    g.request_id = given or new_request_id(req.headers.get("X-Request-ID", ""))
    view = current_app.view_functions.get(req.endpoint or "")
    # Remembered for registry.database.read_only: such views never take the write lock.
    g.read_only = getattr(view, "read_only", False)
    # Flask reads this per request: it must be set before anything (below) reads the body.
    larger = getattr(view, "body_limit_setting", None)
    if larger:
        req.max_content_length = current_app.config[larger]
    if req.method in _BODY_METHODS and req.path.startswith("/api/"):
        has_body = (
            bool(req.content_length)
            or "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        )
        uploads = getattr(view, "takes_files", False) and req.mimetype == "multipart/form-data"
        if has_body and not req.is_json and not uploads:
            raise UnsupportedMediaType()
    refuse_unstorable_text(req)


def refuse_unstorable_text(req: Request) -> None:
    """Refuse, before any view, a NUL or lone surrogate in any string the request carries."""
    bad = []
    if req.view_args:
        path_strings = ((k, v) for k, v in req.view_args.items() if isinstance(v, str))
        bad.extend(unstorable_fields(path_strings, "path"))
    if req.query_string:
        bad.extend(unstorable_fields(req.args.items(multi=True), "query"))
    if req.method in _BODY_METHODS:
        if req.is_json:
            bad.extend(unstorable_json_paths(req.get_data(cache=True)))
        elif req.mimetype in _FORM_TYPES:
            bad.extend(unstorable_fields(req.form.items(multi=True), "form"))
    if bad:
        raise ValidationFailed(errors={path: [UNSTORABLE] for path in bad})


def larger_body(setting: str):
    """Let a view take bodies up to a setting's size in bytes, above MAX_CONTENT_LENGTH."""

    def mark(view):
        view.body_limit_setting = setting
        return view

    return mark


def takes_files(view):
    """Let an API view take a multipart/form-data upload instead of a JSON body."""
    view.takes_files = True
    return view


def register_web_hooks(app: Flask) -> None:
    """Install the answer envelope and the request hook."""
    app.wsgi_app = AnswerHeaders(app.wsgi_app)
    app.before_request(prepare_request)
    # g outlives a request when an app context is shared (CLI, tests): forget the promise.
    app.teardown_request(lambda _exc: g.pop("read_only", None))
