"""The server layer reads a request whole, within its size cap, before the WSGI app runs."""

import asyncio
import json

from registry.server import WholeRequests


def serve(
    chunks: list[bytes],
    max_body: int = 10,
    headers=(),
    complete: bool = True,
    path: str = "/x",
    larger_paths: dict | None = None,
) -> tuple[list[dict], list[bytes]]:
    """Run one request through WholeRequests; return what it sent and the bodies the app read.

    With `complete` false the client disconnects after the last chunk instead of ending.
    """
    read: list[bytes] = []

    def app(environ, start_response):
        read.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1 or not complete}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "http_version": "1.1",
        "headers": list(headers),
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    front = WholeRequests(
        app, threads=2, body_seconds=5, max_body=max_body, larger_paths=larger_paths
    )
    asyncio.run(front(scope, receive, send))
    return sent, read


def test_the_app_gets_the_whole_body_at_once():
    sent, read = serve([b"abc", b"def", b"gh"])
    assert read == [b"abcdefgh"]
    assert sent[0]["status"] == 200


def test_a_body_growing_past_the_cap_is_refused_before_the_app_runs():
    sent, read = serve([b"123456", b"789012"], max_body=10)
    assert read == []
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["status"] == 413


def test_a_declared_length_past_the_cap_is_refused_unread():
    sent, read = serve([b"1"], max_body=10, headers=[(b"content-length", b"11")])
    assert read == [] and sent[0]["status"] == 413


def test_only_the_import_path_takes_a_larger_body():
    larger = {"/api/v1/admin/imports": 20}
    chunks = [b"123456", b"789012"]
    sent, read = serve(chunks, path="/api/v1/admin/imports", larger_paths=larger)
    assert read == [b"123456789012"] and sent[0]["status"] == 200
    sent, read = serve(chunks, path="/api/v1/patients", larger_paths=larger)
    assert read == [] and sent[0]["status"] == 413


def test_a_client_gone_before_its_body_ended_never_reaches_the_app():
    sent, read = serve([b"12", b"34"], complete=False)
    assert read == []
    assert sent[0]["status"] == 408  # if anyone still listens
