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

from common import Instance

TARGET_SECONDS = 60  # for 100,000 open episodes
OPEN_PER_PERSON = 0.43  # synth: about 2,200 open episodes per 5,000 persons


class WriteTimer:
    """Measure the longest transaction that wrote, from BEGIN to COMMIT (the writer lock)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.started, self.wrote, self.longest = None, False, 0.0
        event.listen(engine, "begin", self.begin)
        event.listen(engine, "before_cursor_execute", self.statement)
        event.listen(engine, "commit", self.end)

    def begin(self, _connection):
        self.started, self.wrote = time.perf_counter(), False

    def statement(self, _connection, _cursor, statement, *_args):
        self.wrote |= statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))

    def end(self, _connection):
        if self.started is not None and self.wrote:
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


def refresh_statistics(db) -> None:
    """ANALYZE on PostgreSQL, as autovacuum would have done on a database in service.

    Straight after a bulk load the planner has no statistics: it then reads the whole flag
    table for each batch, a cost no running deployment has.
    """
    from sqlalchemy import text

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


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
            refresh_statistics(db)
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
