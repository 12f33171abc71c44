"""Latency at national scale: an empty registry beside one holding N persons (issue 25).

    python bench/scale.py [--persons 1000000] [--database-url postgresql+psycopg://…/postgres]

Two instances (SQLite in temporary folders, or two new databases on the PostgreSQL server
the URL names): one empty, one filled by `registry synth --persons N` (about 2 episodes a
person). Each gets its own gunicorn. Then sequential requests, one at a time, alternate
between the two, so that the machine's noise falls on both alike: a linked registration by
IIN, a dose on an open methadone episode, and a public booking. Prints p50 and p99 of each
with none stored and with N stored, beside the targets: p50 within 1.1x and p99 within 1.5x.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from booking import BENCH_SETTINGS, call, solved_payloads
from common import UNLIMITED_REGISTRATION, Instance, free_port, gunicorn
from iins import random_iin
from registration import settle

from registry.episodes.examples import ADMISSION_EXAMPLE
from tests.hardening.workload import make_slots

TARGET_P50, TARGET_P99 = 1.1, 1.5
KINDS = ("registration", "event", "booking")
DOSE = {"medication": "methadone", "amount": 30, "unit": "mg"}


class Target:
    """One instance under test: its server, users, and what each timed request consumes."""

    def __init__(self, instance: Instance, base: str, users: dict, requests: int, first: int):
        self.instance, self.base = instance, base
        self.clinician, self.manager = users["clinician"], users["manager"]
        self.episodes = self._open_episodes(requests)
        slots = make_slots(base, self.manager, -(-requests // 1000), 1000, start_in_days=15)
        path = str(instance.path / "payloads.txt")  # removed with the instance
        solved_payloads(base, slots, requests, first, path)
        with open(path) as lines:
            self.bookings = [line.split(" ", 2) for line in lines.read().splitlines()]
        self.rng = random.Random(first)

    def _open_episodes(self, count: int) -> list[int]:
        """Open `count` methadone episodes today, one per new patient: each takes one dose."""
        token, ids = self.clinician["token"], []
        for _ in range(count):
            patient = call(self.base, "POST", "/api/v1/patients", token, {"mode": "anonymous"})
            body = {
                "pseudonym": patient["pseudonym"],
                "protocol": "methadone_oat",
                "diagnosis": "F11.2",
                "admitted_on": date.today().isoformat(),
                "admission": ADMISSION_EXAMPLE,
            }
            ids.append(call(self.base, "POST", "/api/v1/episodes", token, body)["id"])
        return ids

    def request(self, kind: str) -> tuple[str, str, dict, dict]:
        """Return (method, path, headers, body) of the next request of a kind."""
        bearer = {"Authorization": f"Bearer {self.clinician['token']}"}
        if kind == "registration":
            body = {"mode": "linked", "identity": {"iin": random_iin(self.rng)}}
            return "POST", "/api/v1/patients", bearer, body
        if kind == "event":
            now = datetime.now(UTC).isoformat()
            body = {"type": "dose", "occurred_at": now, "payload": DOSE}
            return "POST", f"/api/v1/episodes/{self.episodes.pop()}/events", bearer, body
        slot, address, payload = self.bookings.pop()
        body = {"slot_id": int(slot), "altcha": payload}
        return "POST", "/api/v1/public/bookings", {"X-Forwarded-For": address}, body

    def timed(self, kind: str) -> float:
        """Send the next request of a kind on a new connection; return its milliseconds."""
        method, path, headers, body = self.request(kind)
        data = json.dumps(body).encode()
        address = urlsplit(self.base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {**headers, "Content-Type": "application/json"}
        try:
            started = time.perf_counter()
            connection.request(method, path, data, headers)
            answer = connection.getresponse()
            text = answer.read()
            elapsed = time.perf_counter() - started
        finally:
            connection.close()
        if answer.status not in (200, 201):
            raise RuntimeError(f"{kind}: {answer.status} {text[:300]!r}")
        return elapsed * 1000


def users(instance: Instance) -> dict:
    """Seed the demo data; return its clinician and its clinic manager."""
    seeded = json.loads(instance.cli("demo", "--json"))
    return {
        "clinician": next(u for u in seeded["users"] if u["roles"] == ["clinician"]),
        "manager": next(u for u in seeded["users"] if u["roles"] == ["clinic_admin"]),
    }


def fill(instance: Instance, persons: int, jobs: int) -> None:
    """Fill an instance with `registry synth`; print how long it took."""
    args = ["synth", "--persons", str(persons), "--seed", "1", "--batch", "10000"]
    if jobs > 1:
        args += ["--jobs", str(jobs)]
    started = time.perf_counter()
    output = instance.cli(*args)
    seconds = time.perf_counter() - started
    print(output.strip().splitlines()[-1])
    print(f"  (the command, start to end: {seconds:.0f} s, {persons / seconds:.0f} persons/s)")


def percentile(values: list[float], share: float) -> float:
    """Return the value below which `share` of the values fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests per kind")
    parser.add_argument("--database-url", default="", help="default: SQLite in temp folders")
    parser.add_argument("--jobs", type=int, default=2, help="synth processes (PostgreSQL)")
    options = parser.parse_args()

    os.environ.update({**UNLIMITED_REGISTRATION, **BENCH_SETTINGS})
    empty, full = Instance(options.database_url), Instance(options.database_url)
    try:
        seeded = {"empty": users(empty), "full": users(full)}
        jobs = options.jobs if options.database_url else 1
        fill(full, options.persons, jobs)
        for instance in (empty, full):
            settle(instance)
        measure(options, {"empty": empty, "full": full}, seeded)
    finally:
        empty.cleanup()
        full.cleanup()


def measure(options, instances: dict, seeded: dict) -> None:
    """Time the requests, alternating between the instances; print the figures."""
    each = options.requests + options.warmup
    with (
        gunicorn("wsgi:app", instances["empty"].env, free_port(), 1) as empty_url,
        gunicorn("wsgi:app", instances["full"].env, free_port(), 1) as full_url,
    ):
        targets = {
            "empty": Target(instances["empty"], empty_url, seeded["empty"], each, 0),
            "full": Target(instances["full"], full_url, seeded["full"], each, each),
        }
        times = {(name, kind): [] for name in targets for kind in KINDS}
        for n in range(each):
            order = ("empty", "full") if n % 2 == 0 else ("full", "empty")
            for kind in KINDS:
                for name in order:
                    elapsed = targets[name].timed(kind)
                    if n >= options.warmup:
                        times[name, kind].append(elapsed)
    report(options, times)


def report(options, times: dict) -> None:
    """Print p50 and p99 of each kind, empty and full, with the ratios beside the targets."""
    engine = "postgresql" if options.database_url else "sqlite"
    print(
        f"{engine}: {options.requests} sequential requests per kind and instance, alternating; "
        f"full = {options.persons:,} persons from registry synth"
    )
    for kind in KINDS:
        empty, full = times["empty", kind], times["full", kind]
        for label, share, target in (("p50", 0.5, TARGET_P50), ("p99", 0.99, TARGET_P99)):
            at_0, at_n = percentile(empty, share), percentile(full, share)
            ratio = at_n / at_0
            verdict = "OK" if ratio <= target else "ABOVE TARGET"
            print(
                f"  {kind:<12} {label}: {at_0:6.2f} ms empty, {at_n:6.2f} ms full, "
                f"ratio {ratio:.2f} (target <= {target}) {verdict}"
            )
        print(f"  {kind:<12} mean: {statistics.mean(empty):.2f} / {statistics.mean(full):.2f} ms")


if __name__ == "__main__":
    main()
