"""Registration throughput through gunicorn vs the bare Flask app, and at 0 vs N persons.

Prints anonymous and linked registrations per second as ratios of the bare app's POST rate
(target >= 0.4 on SQLite), then fills the registry with N persons through the service layer
and measures linked registration again (target: rate at N >= 0.9 x rate at 0), each time
for a sustained window after the same settle.
"""

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time

from common import (
    ROOT,
    UNLIMITED_REGISTRATION,
    Instance,
    alternate,
    floor,
    floor_line,
    free_port,
    gunicorn,
    wrk,
)
from iins import random_iin

LUA = os.path.join(os.path.dirname(__file__), "lua")


def fill(instance: Instance, clinic_id: int, persons: int, processes: int = 1) -> float:
    """Register `persons` linked patients through the service layer; return seconds taken.

    With several processes (for PostgreSQL, where writers run side by side) each registers its
    share with its own random IINs; a rare repeated IIN finds its person, as at a clinic.
    """
    os.environ.update({k: v for k, v in instance.env.items() if k.startswith("REGISTRY_")})
    started = time.perf_counter()
    shares = [persons // processes + (i < persons % processes) for i in range(processes)]
    if processes == 1:
        _fill_share(clinic_id, shares[0], 7)
    else:
        context = multiprocessing.get_context("spawn")  # a fresh app and pool in each
        with context.Pool(processes) as pool:
            pool.starmap(_fill_share, [(clinic_id, n, 7 + i) for i, n in enumerate(shares)])
    return time.perf_counter() - started


def _fill_share(clinic_id: int, persons: int, seed: int) -> None:
    sys.path.insert(0, str(ROOT))
    from registry import create_app
    from registry.extensions import db
    from registry.patients.services import register_linked

    app = create_app()
    rng = random.Random(seed)
    started = time.perf_counter()
    with app.app_context():
        done = 0
        while done < persons:
            batch = min(2000, persons - done)
            for _ in range(batch):
                register_linked(clinic_id, {"iin": random_iin(rng)})
            db.session.commit()
            done += batch
            if done % 100_000 == 0:
                print(
                    f"  [{seed}] filled {done:,} persons ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )


def settle(instance: Instance) -> bool:
    """On PostgreSQL, vacuum, analyse and checkpoint; return whether it did.

    Measured right after a million inserts, the rate would include autovacuum and the
    checkpointer catching up, which they do within minutes in service. Before the window at 0
    it runs too, so that both windows start alike.
    """
    url = instance.env.get("REGISTRY_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return False
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
    return True


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--persons", type=int, default=1_000_000, help="fill size; 0 skips")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--sustained",
        type=int,
        default=0,
        help="seconds of each scale window (default: PostgreSQL's checkpoint cycle, 60 on SQLite)",
    )
    parser.add_argument("--fill-processes", type=int, default=1, help="parallel fill (PostgreSQL)")
    options = parser.parse_args()

    os.environ.update(UNLIMITED_REGISTRATION)  # before the instance copies the environment
    instance = Instance(options.database_url)
    seeded = json.loads(instance.cli("demo", "--json"))
    clinician = next(u for u in seeded["users"] if u["roles"] == ["clinician"])
    env = {**os.environ, "WRK_TOKEN": clinician["token"]}
    os.environ.update(env)
    count = instance.workers()
    anonymous = os.path.join(LUA, "post_json.lua")
    linked = os.path.join(LUA, "linked_registration.lua")
    try:
        with (
            gunicorn("wsgi:app", instance.env, free_port(), count) as full,
            gunicorn("bench.bare_app:app", instance.env, free_port(), count) as bare,
        ):
            os.environ["WRK_BODY"] = '{"mode": "anonymous"}'
            runs = {
                "bare": lambda: wrk(bare + "/", options.seconds, script=anonymous),
                "anonymous": lambda: wrk(
                    full + "/api/v1/patients", options.seconds, script=anonymous
                ),
                "linked": lambda: wrk(full + "/api/v1/patients", options.seconds, script=linked),
                "floor": floor(full, clinician["token"], options.seconds),
            }
            medians = alternate(runs, options.rounds)
            report(medians, count, options.database_url)
            if options.persons:
                scale(instance, runs, clinician["clinic_id"], options)
    finally:
        instance.cleanup()


def scale(instance: Instance, runs: dict, clinic_id: int, options) -> None:
    """Measure sustained linked registration at 0 persons, fill N, measure again; print both.

    Both windows start the same way, after a settle, and last a whole checkpoint cycle of
    PostgreSQL: right after a checkpoint each page's first change writes the whole page to the
    WAL, so the first seconds may lag (one machine ran them at two thirds of the rate, another
    not at all). A cycle holds one such stretch, as service does every `checkpoint_timeout`.
    """
    window = options.sustained or checkpoint_cycle(instance)
    before = sustained(instance, runs["linked"], window, options.seconds)
    bare_before = runs["bare"]()
    seconds = fill(instance, clinic_id, options.persons, options.fill_processes)
    print(f"filled {options.persons:,} persons through the service layer in {seconds:.0f} s")
    after = sustained(instance, runs["linked"], window, options.seconds)
    bare_after = runs["bare"]()
    ratio = statistics.mean(after) / statistics.mean(before)
    print(
        f"linked, sustained {window} s after a settle: at {options.persons:,} persons "
        f"{statistics.mean(after):.0f} req/s; at 0: {statistics.mean(before):.0f} req/s; "
        f"ratio {ratio:.2f} (target >= 0.9) {'OK' if ratio >= 0.9 else 'BELOW TARGET'}"
    )
    for label, rates in (("0", before), (f"{options.persons:,}", after)):
        print(f"  at {label}, {options.seconds} s by {options.seconds} s: {_rates(rates)} req/s")
    # The machine's own drift between the two windows, taken out.
    relative = ratio / (bare_after / bare_before)
    print(
        f"  (bare app after the windows: {bare_before:.0f} then {bare_after:.0f} req/s; "
        f"ratio relative to the bare app {relative:.2f})"
    )


def sustained(instance: Instance, run, window: int, step: int) -> list[float]:
    """Settle, then load for `window` seconds in back-to-back runs; return each run's rate."""
    if settle(instance):
        print("  VACUUM ANALYZE and CHECKPOINT, as autovacuum and the checkpointer would soon")
    return [run() for _ in range(max(1, window // step))]


def checkpoint_cycle(instance: Instance) -> int:
    """Return PostgreSQL's checkpoint_timeout in seconds (60 on SQLite, which has no cycle)."""
    url = instance.env.get("REGISTRY_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return 60
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            setting = connection.exec_driver_sql(
                "SELECT setting::int FROM pg_settings WHERE name = 'checkpoint_timeout'"
            )
            return setting.scalar_one()
    finally:
        engine.dispose()


def _rates(rates: list[float]) -> str:
    """Return rates as a short comma-separated list."""
    return ", ".join(f"{rate:.0f}" for rate in rates)


def report(medians: dict, count: int, database_url: str) -> None:
    """Print the rates and ratios of the first measurement."""
    print(f"workers: {count}, database: {database_url or 'sqlite'}")
    print(f"bare Flask POST /                 {medians['bare']:8.0f} req/s")
    print(floor_line(medians))
    for name in ("anonymous", "linked"):
        ratio = medians[name] / medians["bare"]
        print(
            f"{name:<9} registration       {medians[name]:8.0f} req/s  ratio {ratio:.2f} "
            f"(target >= 0.4) {'OK' if ratio >= 0.4 else 'BELOW TARGET'}"
        )


if __name__ == "__main__":
    main()
