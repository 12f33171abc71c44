"""Scheduler wiring: one scheduler process runs each job once per slot, across all hosts."""

import logging
import os
import signal
import socket
import uuid
import zlib
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from registry import clock
from registry.extensions import db
from registry.jobs_models import JobRun, SchedulerLease

log = logging.getLogger("registry.jobs")


@dataclass(frozen=True)
class Job:
    """A named periodic job; `run` returns a short outcome text."""

    name: str
    interval: int
    run: Callable[[Flask], str]


def sign_audit_checkpoint(app: Flask) -> str:
    """Sign a checkpoint of the audit log if it grew."""
    from registry import keyring
    from registry.audit.checkpoints import sign_checkpoint

    checkpoint = sign_checkpoint(keyring())
    return f"signed size {checkpoint.tree_size}" if checkpoint else "unchanged"


def release_standard_tables(app: Flask) -> str:
    """Release last month's standard tables if not done yet."""
    # Imported here: numpy and scipy would slow every scheduler start, stats or not.
    from registry.stats.scheduled import produce_due_release

    return produce_due_release(app)


def scheduled_jobs(app: Flask) -> list[Job]:
    """Return the jobs this deployment runs."""
    from registry.access.jobs import expire_bookings
    from registry.console.sessions import expire_sessions
    from registry.episodes.jobs import compute_compliance_flags
    from registry.oversight.jobs import run_oversight_check

    return [
        Job("audit-checkpoint", app.config["AUDIT_CHECKPOINT_SECONDS"], sign_audit_checkpoint),
        Job("access-expiry", app.config["ACCESS_EXPIRY_SECONDS"], expire_bookings),
        Job("episode-compliance", app.config["COMPLIANCE_SECONDS"], compute_compliance_flags),
        Job("stats-monthly-release", app.config["STATS_RELEASE_SECONDS"], release_standard_tables),
        Job("oversight-check", app.config["OVERSIGHT_CHECK_SECONDS"], run_oversight_check),
        Job("console-sessions", app.config["CONSOLE_IDLE_MINUTES"] * 60, expire_sessions),
    ]


def slot_of(moment: datetime, interval: int) -> datetime:
    """Return the start of the interval-long slot holding `moment`, the same on every host."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval, UTC)


@contextmanager
def job_lock(name: str, holder: str, lease_seconds: int):
    """Hold the job's lock: a PostgreSQL advisory lock, or a lease row elsewhere."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            key = zlib.crc32(f"registry-job:{name}".encode())
            got = connection.execute(select(func.pg_try_advisory_lock(key))).scalar()
            connection.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    connection.execute(select(func.pg_advisory_unlock(key)))
                    connection.commit()
        return
    got = _take_lease(name, holder, lease_seconds)
    try:
        yield got
    finally:
        if got:
            db.session.execute(
                delete(SchedulerLease).where(
                    SchedulerLease.name == name, SchedulerLease.holder == holder
                )
            )
            db.session.commit()


def _take_lease(name: str, holder: str, lease_seconds: int) -> bool:
    """Take or renew the lease row; True if this holder now has it."""
    now = clock.now()
    until = now + timedelta(seconds=lease_seconds)
    taken = db.session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            (SchedulerLease.expires_at < now) | (SchedulerLease.holder == holder),
        )
        .values(holder=holder, expires_at=until)
    ).rowcount
    if not taken:
        exists = db.session.get(SchedulerLease, name)
        if exists is None:
            db.session.add(SchedulerLease(name=name, holder=holder, expires_at=until))
            try:
                db.session.commit()
                return True
            except IntegrityError:
                db.session.rollback()
        db.session.rollback()
        return False
    db.session.commit()
    return True


def run_once(app: Flask, job: Job, holder: str) -> str | None:
    """Run a job for the current slot unless someone else holds it or ran it; return outcome."""
    with app.app_context():
        slot = slot_of(clock.now(), job.interval)
        with job_lock(job.name, holder, app.config["SCHEDULER_LEASE_SECONDS"]) as got:
            if not got:
                return None
            if db.session.execute(
                select(JobRun.id).where(JobRun.job == job.name, JobRun.slot == slot)
            ).first():
                db.session.rollback()
                return None
            # Recorded when the job ends: a job may commit as it goes (the compliance job commits
            # per batch), and a failed run leaves no record, so another host retries the slot.
            run = JobRun(job=job.name, slot=slot, holder=holder, started_at=clock.now())
            try:
                run.outcome = job.run(app)[:200]
                run.finished_at = clock.now()
                db.session.add(run)
                db.session.commit()
            except IntegrityError:
                db.session.rollback()  # another scheduler recorded this slot first
                return None
            except Exception as exc:
                db.session.rollback()
                # The type only: a message (an SQL error's parameters, say) could carry data.
                log.error("job failed", extra={"job": job.name, "error": type(exc).__name__})
                return "failed"
            log.info("job ran", extra={"job": job.name, "outcome": run.outcome})
            return run.outcome


def run_scheduler(app: Flask, once: bool = False) -> None:
    """Run the jobs until stopped (or once each with `once`)."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    jobs = scheduled_jobs(app)
    if once:
        for job in jobs:
            run_once(app, job, holder)
        return
    scheduler = BlockingScheduler(timezone=UTC)
    for job in jobs:
        scheduler.add_job(
            run_once,
            IntervalTrigger(seconds=job.interval),
            args=[app, job, holder],
            id=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler started", extra={"holder": holder, "jobs": [j.name for j in jobs]})
    with suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
