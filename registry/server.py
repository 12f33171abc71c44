"""The server layer: gunicorn's asyncio worker reads each request whole, then a thread runs it.

gunicorn's sync and threaded workers read a request body on the thread that runs the app, so
a client that sends its body slowly holds that thread: three such clients stalled the service.
Here the worker's event loop reads the headers and the body (within REQUEST_BODY_SECONDS and
the largest body any route accepts, else 408 or 413), and only a complete request reaches the
WSGI app, on a2wsgi's pool of `threads` threads. A slow client costs a socket, not a thread.

One worker process is the default: flask-limiter's memory:// counters are then exact. Several
processes need a shared limit store (Redis), or each would allow the whole limit again.
"""

import asyncio
import json
from http import HTTPStatus

from a2wsgi import WSGIMiddleware
from gunicorn.workers.gasgi import ASGIWorker

from registry import load_config
from registry.web import new_request_id, secure

# The one route that takes a whole file: POST of an import (registry/api/imports).
IMPORT_PATH = "/api/v1/admin/imports"

_DETAIL = {
    408: "the request was not sent in time",
    413: "the request body is too large",
}


class BodyTooLarge(Exception):
    """The body grew past the largest one any route accepts."""


class WholeRequests:
    """ASGI app that reads a request's body whole, in bounded time and size, then runs WSGI."""

    def __init__(
        self,
        wsgi_app,
        *,
        threads: int,
        body_seconds: float,
        max_body: int,
        larger_paths: dict[str, int] | None = None,
    ):
        self.app = WSGIMiddleware(wsgi_app, workers=threads)
        self.body_seconds = body_seconds
        self.max_body = max_body
        # Paths that take larger bodies (an import's file) than every other route may send.
        self.larger_paths = larger_paths or {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        max_body = self.larger_paths.get(scope.get("path", ""), self.max_body)
        if declared.isdigit() and int(declared) > max_body:
            await refuse(send, scope, 413)  # at once, before a byte of the body
            return
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await read_body(receive, max_body)
        except TimeoutError:
            await refuse(send, scope, 408)
            return
        except BodyTooLarge:
            await refuse(send, scope, 413)
            return
        if body is None:
            # The client left, or the server stopped waiting for the next piece of its body
            # (gunicorn's `timeout`): where anyone still listens, that is a 408 too.
            await refuse(send, scope, 408)
            return
        await self.app(scope, replay(body, receive), send)


async def read_body(receive, limit: int) -> bytes | None:
    """Return the whole body, or None when the client disconnected first."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return bytes(body)


def replay(body: bytes, receive):
    """Return a receive callable that gives the read body once, then the client's own events."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive_again():
        return pending.pop() if pending else await receive()

    return receive_again


async def refuse(send, scope, status: int) -> None:
    """Answer a refused request with problem+json and our usual headers, then close."""
    title = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": _DETAIL[status]}
    ).encode()
    request_id = new_request_id(_header(scope, b"x-request-id"))
    headers = secure(
        [("Content-Type", "application/problem+json"), ("Connection", "close")],
        request_id,
        cacheable=False,
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str:
    """Return a request header's value ('' when absent)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


class WholeRequestWorker(ASGIWorker):
    """gunicorn's asyncio worker serving the WSGI app through WholeRequests."""

    @classmethod
    def check_config(cls, cfg, log) -> None:
        """Accept `threads`: here it sizes the pool that runs the WSGI app."""

    def load_wsgi(self) -> None:
        """Load the WSGI app and put the whole-request layer in front of it."""
        super().load_wsgi()
        config = load_config()
        self.asgi = WholeRequests(
            self.asgi,
            threads=self.cfg.threads,
            body_seconds=config["REQUEST_BODY_SECONDS"],
            max_body=max(config["MAX_CONTENT_LENGTH"], config["PROTOCOL_MAX_REQUEST_BYTES"]),
            larger_paths={IMPORT_PATH: config["IMPORT_MAX_REQUEST_BYTES"]},
        )


def per_process_limits_problem(workers: int, storage_uri: str) -> str | None:
    """Return why `workers` processes cannot keep these rate limits, or None when they can."""
    if workers > 1 and storage_uri.startswith("memory://"):
        return (
            f"{workers} worker processes with REGISTRY_RATELIMIT_STORAGE_URI=memory:// would "
            f"each count the rate limits apart, allowing {workers} times each limit: run one "
            "worker process (GUNICORN_WORKERS=1, the default; GUNICORN_THREADS sets its "
            "threads) or set REGISTRY_RATELIMIT_STORAGE_URI to a shared store "
            "(redis://host:6379/0)"
        )
    return None
