"""Bookings per second through gunicorn vs the bare Flask app's POSTs (target >= 0.3).

Proof-of-work difficulty is set low for the benchmark; challenges are fetched and solved
before the timed part, since a browser solves them there. Each booking comes from its own
client address (X-Forwarded-For behind one trusted proxy), as many people booking do, so
the per-client caps and rate limits keep their defaults.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from common import ROOT, Instance, alternate, free_port, gunicorn, wrk

sys.path.insert(0, str(ROOT))
from tests.hardening.workload import make_slots  # the soak test's, shared

LUA = os.path.join(os.path.dirname(__file__), "lua")
BENCH_SETTINGS = {
    "REGISTRY_ALTCHA_MAX_NUMBER": "10",
    "REGISTRY_TRUSTED_PROXIES": "1",
    # The untimed part fetches every challenge from one address.
    "REGISTRY_CHALLENGE_LIMIT": "100000000 per minute",
}


def call(base: str, method: str, path: str, token: str = "", body: dict | None = None):
    """Send one JSON request and return the decoded answer."""
    request = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body else None
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def client_address(n: int) -> str:
    """Return the n-th of 16 million distinct client addresses."""
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def solved_payloads(base: str, slots: list[int], count: int, first: int, path: str) -> None:
    """Fetch and solve `count` challenges; write 'slot address payload' lines to `path`."""
    from registry.access.pow import solve

    def one(i: int) -> str:
        solution = solve(call(base, "GET", "/api/v1/public/challenge"))
        return f"{slots[i % len(slots)]} {client_address(first + i)} {solution}"

    with ThreadPoolExecutor(8) as pool, open(path, "w") as out:
        out.writelines(line + "\n" for line in pool.map(one, range(count)))


def main() -> None:
    """Measure and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bookings", type=int, default=20000, help="challenges per round")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    options = parser.parse_args()

    os.environ.update(BENCH_SETTINGS)
    instance = Instance(options.database_url)
    seeded = json.loads(instance.cli("demo", "--json"))
    manager = next(u for u in seeded["users"] if u["roles"] == ["clinic_admin"])
    count = instance.workers()
    payloads = tempfile.mkdtemp(prefix="registry-bench-payloads-")
    try:
        with (
            gunicorn("wsgi:app", instance.env, free_port(), count) as full,
            gunicorn("bench.bare_app:app", instance.env, free_port(), count) as bare,
        ):
            # Full places for every round's bookings, hourly after the demo's own two weeks.
            slot_count = -(-options.bookings * options.rounds // 1000)
            slots = make_slots(full, manager, slot_count, capacity=1000, start_in_days=15)
            rounds = iter(range(options.rounds))
            p99: list[float] = []

            def book() -> float:
                n = next(rounds)
                path = os.path.join(payloads, f"round-{n}.txt")
                solved_payloads(full, slots, options.bookings, n * options.bookings, path)
                os.environ["WRK_PAYLOADS"] = path
                rate = wrk(
                    full + "/api/v1/public/bookings",
                    options.seconds,
                    script=os.path.join(LUA, "bookings.lua"),
                    p99=p99,
                )
                if rate * options.seconds > 0.95 * options.bookings:
                    sys.exit("the round ran out of solved challenges: raise --bookings")
                return rate

            sample = '{"slot_id": 12345, "altcha": "' + "x" * 200 + '"}'
            os.environ["WRK_BODY"] = sample

            medians = alternate(
                {
                    "bare": lambda: wrk(
                        bare + "/", options.seconds, script=os.path.join(LUA, "post_json.lua")
                    ),
                    "booking": book,
                },
                options.rounds,
            )
    finally:
        instance.cleanup()
    ratio = medians["booking"] / medians["bare"]
    print(
        f"workers: {count}, database: {options.database_url or 'sqlite'}, "
        f"proof of work max number {BENCH_SETTINGS['REGISTRY_ALTCHA_MAX_NUMBER']}"
    )
    print(f"bare Flask POST /                 {medians['bare']:8.0f} req/s")
    print(
        f"bookings (POST /public/bookings)  {medians['booking']:8.0f} req/s  ratio {ratio:.2f} "
        f"(target >= 0.3) {'OK' if ratio >= 0.3 else 'BELOW TARGET'}"
    )
    print(f"booking p99 latency, 16 connections (median of rounds) {statistics.median(p99):.1f} ms")


if __name__ == "__main__":
    main()
