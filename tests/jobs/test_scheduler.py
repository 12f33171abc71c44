"""The scheduler: one run per job and slot, one holder at a time, across processes."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.audit.models import AuditCheckpoint
from registry.extensions import db
from registry.jobs import Job, _take_lease, run_once, slot_of
from registry.jobs_models import JobRun


def test_slots_are_the_same_on_every_host():
    moment = datetime(2026, 11, 25, 10, 7, 31, tzinfo=UTC)
    assert slot_of(moment, 300) == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert slot_of(moment + timedelta(seconds=20), 300) == slot_of(moment, 300)


def test_a_job_runs_once_per_slot(fresh_app):
    calls = []
    job = Job("count", 3600, lambda app: calls.append(1) or "ran")
    assert run_once(fresh_app, job, "host-a") == "ran"
    assert run_once(fresh_app, job, "host-b") is None
    assert calls == [1]
    with fresh_app.app_context():
        runs = db.session.execute(select(JobRun)).scalars().all()
    assert [(r.job, r.holder, r.outcome) for r in runs] == [("count", "host-a", "ran")]


def test_a_failing_job_is_reported_and_rolled_back(fresh_app):
    def explode(app):
        record("test.partial", "thing", 1)
        raise RuntimeError("boom")

    assert run_once(fresh_app, Job("explode", 3600, explode), "host-a") == "failed"
    with fresh_app.app_context():
        assert db.session.execute(select(JobRun)).first() is None


def test_lease_is_exclusive_until_it_expires(fresh_app):
    with fresh_app.app_context():
        assert _take_lease("job", "a", 60)
        assert not _take_lease("job", "b", 60)
        assert _take_lease("job", "a", 60)  # the holder renews
        try:
            clock.freeze(clock.now() + timedelta(seconds=61))
            assert _take_lease("job", "b", 60)
        finally:
            clock.freeze(None)


def test_two_scheduler_processes_never_run_a_job_twice(fresh_app, tmp_path):
    with fresh_app.app_context():
        for i in range(3):
            record("test.seed", "thing", i)
        db.session.commit()
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": fresh_app.config["SQLALCHEMY_DATABASE_URI"],
        "REGISTRY_KEYRING": fresh_app.extensions["keyring"].dumps(),
        "REGISTRY_AUDIT_CHECKPOINT_SECONDS": "1",
        "REGISTRY_INSTANCE_PATH": str(tmp_path),
    }
    command = [sys.executable, "-c", "from registry.cli import main; main()", "scheduler"]
    schedulers = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60  # ends at the third run; start-up is slow under load
        while time.monotonic() < deadline:
            time.sleep(1)
            with fresh_app.app_context():
                done = (
                    db.session.execute(select(JobRun).where(JobRun.job == "audit-checkpoint"))
                    .scalars()
                    .all()
                )
                db.session.rollback()
            if len(done) >= 3:
                break
    finally:
        for process in schedulers:
            process.terminate()
        errors = [process.communicate(timeout=20)[1] for process in schedulers]
    assert all(p.returncode is not None for p in schedulers)
    with fresh_app.app_context():
        runs = (
            db.session.execute(
                select(JobRun).where(JobRun.job == "audit-checkpoint").order_by(JobRun.started_at)
            )
            .scalars()
            .all()
        )
        checkpoints = db.session.execute(select(AuditCheckpoint)).scalars().all()
    assert len(runs) >= 2, errors
    assert len({r.holder for r in runs}) <= 2
    slots = [r.slot for r in runs]
    assert len(slots) == len(set(slots))
    # Never two runs of the job at once: each finished before the next one started.
    for earlier, later in pairwise(runs):
        assert earlier.finished_at <= later.started_at
    # The log grew once, so exactly one checkpoint was signed although both kept trying.
    assert len(checkpoints) == 1
