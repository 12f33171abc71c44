"""Slow clients: /healthz and booking latency while 100 connections send a booking body slowly.

Each slow connection sends the headers of POST /api/v1/public/bookings and the start of its
body, then nothing more. The body deadline is raised for the run so that all of them stay open
throughout (the worst case; by default the server answers them 408 after 30 s). Meanwhile one
client asks for /healthz and another books (challenge, solve, POST), each in turn. Target: the
p99 of /healthz and of a booking (challenge and POST) at most 1 s, as `make run` serves them.
"""

import argparse
import http.client
import json
import socket
import statistics
import sys
import threading
import time

from common import ROOT, Instance, free_port, gunicorn

sys.path.insert(0, str(ROOT))
from tests.hardening.workload import make_slots  # the soak test's, shared

TARGET_SECONDS = 1.0
# Each request gives up after this; a stalled service then counts this long.
REQUEST_TIMEOUT = 40.0
SETTINGS = {
    "REGISTRY_ALTCHA_MAX_NUMBER": "10",
    "REGISTRY_REQUEST_BODY_SECONDS": "3600",
    # One client books throughout: lift the per-client caps meant for people.
    "REGISTRY_CHALLENGE_LIMIT": "100000000 per minute",
    "REGISTRY_BOOKING_LIMIT": "100000000 per minute",
    "REGISTRY_BOOKINGS_PER_CLIENT": "100000000",
}
SLOW_HEAD = (
    b"POST /api/v1/public/bookings HTTP/1.1\r\nHost: registry\r\n"
    b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
)


def open_slow(port: int, count: int) -> list[socket.socket]:
    """Open `count` connections that send a booking's headers and the start of its body."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(SLOW_HEAD + b'{"slot_id": ')
        connections.append(connection)
    return connections


def still_open(connections: list[socket.socket]) -> int:
    """Count the slow connections the server has neither answered nor closed."""
    waiting = 0
    for connection in connections:
        connection.setblocking(False)
        try:
            connection.recv(1)
        except BlockingIOError:
            waiting += 1  # nothing to read: still waiting for its body
        except OSError:
            pass
    return waiting


def timed(port: int, method: str, path: str, body: dict | None = None) -> tuple[float, dict]:
    """Send one request; return its seconds and decoded answer (REQUEST_TIMEOUT on a failure)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    start = time.perf_counter()
    try:
        headers = {"Content-Type": "application/json", "Connection": "close"}
        connection.request(method, path, json.dumps(body) if body else None, headers)
        answer = connection.getresponse()
        data = answer.read()
        seconds = time.perf_counter() - start
        if answer.status >= 300:
            return REQUEST_TIMEOUT, {}
        return seconds, json.loads(data)
    except (OSError, http.client.HTTPException):
        return REQUEST_TIMEOUT, {}
    finally:
        connection.close()


def healthz_loop(port: int, count: int, deadline: float, seconds: list[float]) -> None:
    """Ask for /healthz `count` times in turn (none after the deadline)."""
    for _ in range(count):
        if time.monotonic() > deadline:
            return
        seconds.append(timed(port, "GET", "/healthz")[0])


def booking_loop(port: int, slot_id: int, count: int, deadline: float, seconds: list) -> None:
    """Book `count` times in turn (none after the deadline); note challenge plus POST time."""
    from registry.access.pow import solve

    for _ in range(count):
        if time.monotonic() > deadline:
            return
        asked, challenge = timed(port, "GET", "/api/v1/public/challenge")
        if not challenge:
            seconds.append(asked)
            continue
        body = {"slot_id": slot_id, "altcha": solve(challenge)}
        seconds.append(asked + timed(port, "POST", "/api/v1/public/bookings", body)[0])


def percentile(values: list[float], share: float) -> float:
    """Return the `share` quantile (nearest rank) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def line(name: str, seconds: list[float], wanted: int) -> str:
    """Return a report line: p50, p99, max and the verdict against the target."""
    if not seconds:
        return f"{name:<32} no answer before the deadline  ABOVE TARGET"
    p99 = percentile(seconds, 0.99)
    ok = p99 <= TARGET_SECONDS and len(seconds) == wanted  # unsent ones count as failures
    verdict = "OK" if ok else "ABOVE TARGET"
    return (
        f"{name:<32} p50 {statistics.median(seconds) * 1000:7.1f} ms  p99 {p99 * 1000:8.1f} ms"
        f"  max {max(seconds) * 1000:8.1f} ms  (target p99 <= {TARGET_SECONDS:.0f} s) {verdict}"
    )


def main() -> None:
    """Hold the slow connections, measure, and print the figures beside the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slow", type=int, default=100, help="slow connections held open")
    parser.add_argument("--healthz", type=int, default=300, help="/healthz requests")
    parser.add_argument("--bookings", type=int, default=100, help="bookings")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--max-seconds", type=float, default=180, help="no new request after this long"
    )
    options = parser.parse_args()

    instance = Instance(options.database_url)
    instance.env.update(SETTINGS)
    seeded = json.loads(instance.cli("demo", "--json"))
    manager = next(u for u in seeded["users"] if u["roles"] == ["clinic_admin"])
    count, port = instance.workers(), free_port()
    try:
        with gunicorn("wsgi:app", instance.env, port, count) as base:
            [slot_id] = make_slots(base, manager, 1, capacity=options.bookings + 10)
            slow = open_slow(port, options.slow)
            time.sleep(1)  # every slow connection has reached the server
            healthz: list[float] = []
            bookings: list[float] = []
            deadline = time.monotonic() + options.max_seconds
            loops = [
                threading.Thread(
                    target=healthz_loop, args=(port, options.healthz, deadline, healthz)
                ),
                threading.Thread(
                    target=booking_loop,
                    args=(port, slot_id, options.bookings, deadline, bookings),
                ),
            ]
            for loop in loops:
                loop.start()
            for loop in loops:
                loop.join()
            held = still_open(slow)
            for connection in slow:
                connection.close()
    finally:
        instance.cleanup()
    print(
        f"workers: {count}, database: {options.database_url or 'sqlite'}, slow connections "
        f"held: {held} of {options.slow} still open at the end"
    )
    print(line(f"GET /healthz (n={len(healthz)}/{options.healthz})", healthz, options.healthz))
    print(line(f"booking (n={len(bookings)}/{options.bookings})", bookings, options.bookings))


if __name__ == "__main__":
    main()
