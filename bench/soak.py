"""Soak: a realistic mix at a fixed rate against two instances, then count that nothing was lost.

Registrations (half of them open an episode), episode visits, bookings and statistics queries
go to two gunicorn instances on one database, at a fixed rate for a fixed time. Afterwards every
acknowledged (2xx) write must have its row and its audit entry, the counts of rows, audit entries
and acknowledgements must agree, and no answer may be a 5xx.

Run: python bench/soak.py --rate 20 --seconds 120 --database-url postgresql+psycopg://…/db
"""

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import ROOT, Instance, free_port, gunicorn

sys.path.insert(0, str(ROOT))
from sqlalchemy import create_engine, text

from tests.hardening.workload import (
    LOAD_SETTINGS,
    SOAK_MIX,
    Mix,
    Tally,
    check_consistency,
    make_slots,
    users_of,
)

# Rows each kind of acknowledged write adds, and the audit action that records it.
COUNTED = {
    "register": ("SELECT count(*) FROM persons", "patient.register"),
    "open": ("SELECT count(*) FROM episodes", "episode.open"),
    "event": ("SELECT count(*) FROM episode_events", "episode.event"),
    "book": ("SELECT count(*) FROM bookings", "booking.create"),
    "stats": ("SELECT count(*) FROM stats_releases", "stats.release"),
}


def drive(mix: Mix, rate: float, seconds: float, threads: int) -> tuple[float, int]:
    """Start one request of the mix every 1/rate s; return the elapsed time and late starts."""
    late = 0
    with ThreadPoolExecutor(threads) as pool:
        start = time.monotonic()
        for tick in range(int(rate * seconds)):
            due = start + tick / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.1:
                late += 1  # the driver itself fell behind: the rate is not being held
            pool.submit(mix.one, SOAK_MIX)
    return time.monotonic() - start, late


def percentiles(values: list[float]) -> str:
    """Return p50/p95/p99/max in milliseconds."""
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cuts[49] * 1000:6.1f}  p95 {cuts[94] * 1000:6.1f}  "
        f"p99 {cuts[98] * 1000:6.1f}  max {max(values) * 1000:6.1f} ms"
    )


def counts(database_url: str, tally: Tally) -> dict[str, tuple[int, int, int]]:
    """Return (acknowledged, rows, audit entries) for each kind of write."""
    acked = {kind: 0 for kind in COUNTED}
    for (kind, status), n in tally.statuses.items():
        if kind in acked and 200 <= status < 300:
            acked[kind] += n
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            audited = dict(
                connection.execute(
                    text("SELECT action, count(*) FROM audit_entries GROUP BY action")
                ).all()
            )
            return {
                kind: (
                    acked[kind],
                    connection.execute(text(sql)).scalar_one(),
                    audited.get(action, 0),
                )
                for kind, (sql, action) in COUNTED.items()
            }
    finally:
        engine.dispose()


def report(tally: Tally, elapsed: float, late: int, table: dict, problems: list[str]) -> bool:
    """Print the figures; return True when nothing was lost and no 5xx was answered."""
    answered = sum(tally.statuses.values())
    print(
        f"duration {elapsed:.1f} s, answers {answered}, throughput {answered / elapsed:.1f} req/s"
    )
    print(f"driver late starts: {late}, connections cut: {tally.cut}, 5xx: {tally.server_errors()}")
    print("statuses:", dict(sorted(tally.statuses.items())))
    for kind, values in sorted(tally.latencies.items()):
        print(f"  {kind:<9} n={len(values):<6} {percentiles(values)}")
    everything = [v for values in tally.latencies.values() for v in values]
    print(f"  {'all':<9} n={len(everything):<6} {percentiles(everything)}")
    print("kind      acknowledged   rows   audit entries")
    for kind, (acked, rows, audited) in table.items():
        print(f"  {kind:<9} {acked:>10} {rows:>6} {audited:>15}")
    lost = [kind for kind, (a, r, e) in table.items() if not a == r == e]
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    ok = not lost and not problems and tally.server_errors() == 0 and tally.cut == 0
    print("OK: zero lost writes, zero 5xx" if ok else f"FAILED: mismatched {lost}")
    return ok


def main() -> None:
    """Run the soak and exit 1 on any loss or 5xx."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20, help="requests started per second")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=32, help="client threads")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", ""),
        help="PostgreSQL server URL (a new database is made there); default: SQLite",
    )
    options = parser.parse_args()
    os.environ.update(LOAD_SETTINGS)
    instance = Instance(options.database_url)
    database_url = instance.env.get("REGISTRY_DATABASE_URL") or (
        "sqlite:///" + str(instance.path / "instance" / "registry.sqlite3")
    )
    users = users_of(json.loads(instance.cli("demo", "--json")))
    try:
        with (
            gunicorn("wsgi:app", instance.env, free_port(), options.workers) as one,
            gunicorn("wsgi:app", instance.env, free_port(), options.workers) as two,
        ):
            slots = make_slots(one, users["manager"], count=20, capacity=1000)
            tally = Tally()
            mix = Mix([one, two], users, slots, tally)
            elapsed, late = drive(mix, options.rate, options.seconds, options.threads)
        problems = check_consistency(database_url, tally.acks)
        table = counts(database_url, tally)
    finally:
        instance.cleanup()
    sys.exit(0 if report(tally, elapsed, late, table, problems) else 1)


if __name__ == "__main__":
    main()
