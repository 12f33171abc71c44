"""Time the daily compliance job at national scale, beside its target (issue 25).

    python bench/compliance.py [--open 100000] [--database postgresql+psycopg://…/postgres]

Fills a new database (SQLite in a temporary instance, or a new PostgreSQL database on the
server the URL names) with `registry synth` until it holds at least --open open episodes, then
runs the job twice: the day's first run and a rerun, which replaces the day's flags. Also
prints the longest write transaction: on SQLite, how long a clinic's write may wait for the job.
"""

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Instance  # noqa: E402

TARGET_SECONDS = 60  # for 100,000 open episodes
OPEN_PER_PERSON = 0.43  # synth: about 2,200 open episodes per 5,000 persons


class WriteTimer:
    """Measure the longest transaction that wrote, from BEGIN to COMMIT."""

    def __init__(self, engine):
        self.started, self.longest = None, 0.0
        from sqlalchemy import event

        event.listen(engine, "begin", self.begin)
        event.listen(engine, "commit", self.end)

    def begin(self, _connection):
        self.started = time.perf_counter()

    def end(self, _connection):
        if self.started is not None:
            self.longest = max(self.longest, time.perf_counter() - self.started)
            self.started = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open episodes wanted")
    parser.add_argument("--database", default="", help="a PostgreSQL server URL (else SQLite)")
    args = parser.parse_args()

    instance = Instance(args.database)
    try:
        persons = math.ceil(args.open / OPEN_PER_PERSON)
        start = time.perf_counter()
        instance.cli("synth", "--persons", str(persons), "--seed", "1", "--batch", "10000")
        print(f"synth: {persons:,} persons in {time.perf_counter() - start:.0f} s")
        run_job(instance, args.open)
    finally:
        instance.cleanup()


def run_job(instance: Instance, wanted: int) -> None:
    """Run the compliance job twice in process and print its figures beside the target."""
    import os

    os.environ.update(instance.env)
    from sqlalchemy import func, select

    from registry import create_app
    from registry.episodes.jobs import compute_compliance_flags
    from registry.episodes.models import Episode, EpisodeStatus
    from registry.extensions import db

    app = create_app()
    with app.app_context():
        open_episodes = db.session.execute(
            select(func.count()).select_from(Episode).where(Episode.status == EpisodeStatus.OPEN)
        ).scalar()
        db.session.rollback()
        engine = "PostgreSQL" if db.engine.dialect.name == "postgresql" else "SQLite"
        for run in ("first run of the day", "rerun (replaces the day's flags)"):
            timer = WriteTimer(db.engine)
            start = time.perf_counter()
            outcome = compute_compliance_flags(app)
            db.session.commit()
            seconds = time.perf_counter() - start
            scaled = seconds * 100_000 / open_episodes
            print(
                f"{engine}, {run}: {outcome} in {seconds:.1f} s"
                f" ({scaled:.1f} s per 100,000 open episodes; target {TARGET_SECONDS} s);"
                f" longest write transaction {timer.longest * 1000:.0f} ms"
            )
    if open_episodes < wanted:
        print(f"note: {open_episodes:,} open episodes, fewer than the {wanted:,} asked for")


if __name__ == "__main__":
    main()
