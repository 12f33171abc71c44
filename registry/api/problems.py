"""Map every error to an RFC 9457 application/problem+json answer, in one place."""

import logging
import traceback

from flask import Flask, Response, current_app, g, json
from marshmallow import Schema, fields
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from registry.errors import RegistryError, ValidationFailed

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("registry.errors")


class ProblemSchema(Schema):
    """An RFC 9457 problem; `errors` maps field paths to messages on 422."""

    type = fields.String(metadata={"description": "URI reference naming the problem type"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    request_id = fields.String()


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
    extra: dict | None = None,
) -> Response:
    """Build a problem+json response."""
    body = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    if g.get("request_id"):
        body["request_id"] = g.request_id
    body.update(extra or {})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: dict | list, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {"a.b.0.c": [message, …]}."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_body": list(messages)}
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    flat: dict[str, list[str]] = {}
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten_messages(value, path))
    return flat


def _webargs_errors(exc: HTTPException) -> dict | None:
    """Return per-field errors that webargs attached to a 422, without the location level."""
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if not messages:
        return None
    merged: dict = {}
    for by_location in messages.values():  # {"json": {...}, "query": {...}}
        merged.update(flatten_messages(by_location))
    return merged


def _rollback() -> None:
    from registry.extensions import db

    db.session.rollback()


def handle_registry_error(exc: RegistryError) -> Response:
    """Answer a domain error, recording an audit note for refused actions."""
    _rollback()
    if exc.audit is not None:
        from registry.audit.log import record_refusal

        record_refusal(exc.audit, status=exc.status)
    return problem(
        exc.status,
        exc.title,
        exc.detail,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def handle_http_exception(exc: HTTPException) -> Response:
    """Answer werkzeug and webargs HTTP errors (400, 404, 405, 413, 415, 422, 429…)."""
    _rollback()
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update((getattr(exc, "data", None) or {}).get("headers") or {})
    if exc.code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = "60"
    if exc.code == 422:  # webargs: the same problem type as our own validation errors
        return problem(
            422,
            ValidationFailed.title,
            _GENERIC_DETAIL[422],
            slug=ValidationFailed.slug,
            errors=_webargs_errors(exc),
            headers=headers,
        )
    # Our own generic text: webargs and werkzeug descriptions can quote parts of the input.
    return problem(exc.code or 500, exc.name, _GENERIC_DETAIL.get(exc.code), headers=headers)


_GENERIC_DETAIL = {
    400: "the request body or parameters cannot be read",
    401: "a valid bearer token is required",
    404: "no such resource",
    405: "this method is not allowed here",
    413: "the request body is too large",
    415: "send the body as application/json",
    422: "the input breaks the rules named in 'errors'",
    429: "too many requests; try again later",
}


def handle_too_deep(exc: RecursionError) -> Response:
    """Answer a body nested too deeply for the JSON parser as 400, not 500."""
    _rollback_quietly()
    return problem(400, "Bad Request", "the request body is nested too deeply")


def handle_integrity_error(exc: IntegrityError) -> Response:
    """Answer a uniqueness or reference clash that slipped past the services as 409."""
    _rollback()
    log.warning("integrity error", extra={"error": type(exc.orig).__name__})
    return problem(409, "Conflict", "the change clashes with existing data", slug="conflict")


def handle_database_down(exc: Exception) -> Response:
    """Answer a lost or busy database with 503 and Retry-After, quickly."""
    _rollback_quietly()
    log.error("database unavailable", extra={"error": type(exc).__name__})
    return problem(
        503,
        "Service unavailable",
        "the database is unavailable; try again",
        slug="service-unavailable",
        headers={"Retry-After": "5"},
    )


def handle_limit_store_down(exc: RedisError) -> Response:
    """Answer 503 when rate limits fail closed and their store is down (never a bare 500)."""
    _rollback_quietly()
    log.error("rate-limit store unavailable", extra={"error": type(exc).__name__})
    return problem(
        503,
        "Service unavailable",
        "the service cannot check its request limits; try again",
        slug="service-unavailable",
        headers={"Retry-After": "5"},
    )


def _rollback_quietly() -> None:
    try:
        _rollback()
    except Exception:  # the connection may be gone; the pool discards it
        log.debug("rollback failed after database error")


def handle_unexpected(exc: Exception) -> Response:
    """Answer 500 without echoing the exception, and log it with the request id."""
    if current_app.testing:
        raise exc  # fail loudly in tests
    _rollback_quietly()
    # Type and frames only: an exception's message can quote input, even an identifier.
    frames = traceback.extract_tb(exc.__traceback__)[-10:]
    log.error(
        "unhandled error",
        extra={
            "error": type(exc).__name__,
            "frames": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames],
        },
    )
    return problem(
        500, "Internal server error", "something went wrong on our side", slug="internal-error"
    )


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; registered after flask-smorest so that ours win."""
    app.register_error_handler(RegistryError, handle_registry_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(RecursionError, handle_too_deep)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(PoolTimeout, handle_database_down)
    # Only raised when RATELIMIT_FAIL_OPEN is off (fail open swallows store errors).
    app.register_error_handler(RedisError, handle_limit_store_down)
    app.register_error_handler(Exception, handle_unexpected)
