"""The server as `make run` starts it: slow clients, exact rate limits, access logs, its limits."""

import json
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from registry.access.pow import solve
from tests.hardening.stack import BIN, ROOT, free_port
from tests.hardening.workload import call, make_slots, users_of

# Slow connections held open here (bench/slow_clients.py holds 100), and the answer time allowed.
SLOW_CONNECTIONS = 20
ANSWER_SECONDS = 1.0


def open_slow_bookings(base: str, count: int) -> list[socket.socket]:
    """Open connections that send a booking's headers and only the start of its body."""
    parts = urlsplit(base)
    head = (
        b"POST /api/v1/public/bookings HTTP/1.1\r\nHost: registry\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    connections = []
    for _ in range(count):
        connection = socket.create_connection((parts.hostname, parts.port), timeout=5)
        connection.sendall(head + b'{"slot_id": ')
        connections.append(connection)
    return connections


def book(base: str, slot_id: int) -> list[float]:
    """Book a place as a browser does; return the seconds each of its two requests took."""
    challenge = call(base, "GET", "/api/v1/public/challenge", timeout=5)
    assert challenge.status == 200, challenge.body
    body = {"slot_id": slot_id, "altcha": solve(challenge.body)}
    booking = call(base, "POST", "/api/v1/public/bookings", body=body, timeout=5)
    assert booking.status == 201, booking.body
    return [challenge.seconds, booking.seconds]


@pytest.mark.slow
def test_slow_request_bodies_do_not_stall_the_service(stack):
    users = users_of(stack.seed())
    server = stack.server(workers=None)  # gunicorn.conf.py's own choice, as `make run`
    [slot_id] = make_slots(server.url, users["manager"], count=1, capacity=50)
    slow = open_slow_bookings(server.url, SLOW_CONNECTIONS)
    try:
        time.sleep(0.5)  # every slow connection has reached the server
        seconds = [call(server.url, "GET", "/healthz", timeout=5).seconds for _ in range(5)]
        for _ in range(3):
            seconds += book(server.url, slot_id)
        assert max(seconds) < ANSWER_SECONDS, seconds
    finally:
        for connection in slow:
            connection.close()


@pytest.mark.slow
def test_a_body_not_sent_in_time_is_refused_with_408(stack):
    stack.env["REGISTRY_REQUEST_BODY_SECONDS"] = "1"
    stack.seed()
    server = stack.server(workers=None)
    [connection] = open_slow_bookings(server.url, 1)
    try:
        started = time.monotonic()
        answer = connection.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 3
    finally:
        connection.close()
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as big:
        big.sendall(
            b"POST /api/v1/public/bookings HTTP/1.1\r\nHost: registry\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
        )
        assert big.recv(4096).startswith(b"HTTP/1.1 413")  # at once, before any body


@pytest.mark.slow
def test_configured_rate_limits_hold_on_the_default_server(stack):
    stack.env["REGISTRY_CHALLENGE_LIMIT"] = "40 per minute"
    stack.env["REGISTRY_AUTH_FAILURE_LIMIT"] = "30 per minute"
    stack.seed()
    server = stack.server(workers=None)

    def statuses(path: str, token: str, count: int) -> list[int]:
        def status(_) -> int:
            return call(server.url, "GET", path, token).status

        with ThreadPoolExecutor(8) as pool:  # parallel clients, as a script would send them
            return list(pool.map(status, range(count)))

    challenges = statuses("/api/v1/public/challenge", "", 120)
    assert 40 <= challenges.count(200) <= 44, challenges  # within 10% of the configured 40
    assert set(challenges) == {200, 429}
    failures = statuses("/api/v1/me", "rgt_" + "x" * 43, 90)
    assert 30 <= failures.count(401) <= 33, failures
    assert set(failures) == {401, 429}


@pytest.mark.slow
def test_the_memory_store_refuses_several_worker_processes(stack):
    started = subprocess.run(
        [
            *(str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")),
            *("--bind", f"127.0.0.1:{free_port()}", "--workers", "2", "wsgi:app"),
        ],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert started.returncode != 0
    assert "REGISTRY_RATELIMIT_STORAGE_URI" in started.stderr  # the message says what to set


@pytest.mark.slow
def test_access_log_lines_stay_json_whatever_the_path(stack):
    stack.seed()
    server = stack.server(workers=None)
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as connection:
        # A newline, a NUL, a quote and a backslash, percent-encoded as a client may send them.
        connection.sendall(
            b"GET /healthz%0A%7B%22forged%22:1%7D%00%22%5C HTTP/1.1\r\nHost: registry\r\n"
            b"Connection: close\r\n\r\n"
        )
        assert connection.recv(4096).startswith(b"HTTP/1.1 404")
    log = stack.folder / "access.log"
    deadline = time.monotonic() + 5
    while '"status":404' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    assert not any("forged" in line for line in lines)  # no line of the client's making
    [logged] = [line for line in lines if line["status"] == 404]
    assert logged["path"] == '/healthz\n{"forged":1}\x00"\\'
