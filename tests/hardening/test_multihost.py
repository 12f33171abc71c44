"""Two hosts: two gunicorn instances and two schedulers on one PostgreSQL and one Redis."""

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.hardening.workload import (
    WRITE_MIX,
    Mix,
    Tally,
    check_consistency,
    hammer,
    make_slots,
    users_of,
)

JOB_SECONDS = 2  # every job every 2 s, so that a short run spans many slots
LOAD_SECONDS = 15


def _jobs_run(database_url: str) -> int:
    """Return how many different jobs have run."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(DISTINCT job) FROM job_runs")).scalar_one()
    finally:
        engine.dispose()


def _wait_for_every_job(database_url: str, timeout: float = 60) -> None:
    """Wait until the schedulers are up and each job has run once."""
    deadline = time.monotonic() + timeout
    while _jobs_run(database_url) < 3:
        assert time.monotonic() < deadline, "the schedulers did not run their jobs"
        time.sleep(0.5)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_hosts_share_capacity_jobs_and_the_audit_log(stack, redis_server):
    stack.env.update(
        {
            "REGISTRY_RATELIMIT_STORAGE_URI": redis_server.url,
            "REGISTRY_AUDIT_CHECKPOINT_SECONDS": str(JOB_SECONDS),
            "REGISTRY_ACCESS_EXPIRY_SECONDS": str(JOB_SECONDS),
            "REGISTRY_COMPLIANCE_SECONDS": str(JOB_SECONDS),
            "REGISTRY_STATS_RELEASE_SECONDS": str(JOB_SECONDS),
            "REGISTRY_OVERSIGHT_CHECK_SECONDS": str(JOB_SECONDS),
        }
    )
    users = users_of(stack.seed())
    hosts = [stack.server(workers=2), stack.server(workers=2)]
    schedulers = [stack.scheduler(), stack.scheduler()]
    _wait_for_every_job(stack.database_url)
    # Few places: bookings through both hosts race for the last ones.
    slots = make_slots(hosts[0].url, users["manager"], count=2, capacity=10)
    tally = Tally()
    mix = Mix([host.url for host in hosts], users, slots, tally)
    stop = threading.Event()
    load = threading.Thread(target=hammer, args=(mix, WRITE_MIX, stop, 6))
    started = time.monotonic()
    load.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    load.join()
    elapsed = time.monotonic() - started
    assert all(scheduler.poll() is None for scheduler in schedulers)
    stack.stop()

    assert tally.server_errors() == 0, tally.statuses
    assert tally.statuses["book", 201] == 20 and tally.statuses["book", 409] > 0, tally.statuses
    assert check_consistency(stack.database_url, tally.acks) == []
    verdict = stack.audit_verify()
    assert verdict.returncode == 0, verdict.stdout
    engine = create_engine(stack.database_url)
    with engine.connect() as connection:
        runs = connection.execute(
            text("SELECT job, count(*), count(DISTINCT slot) FROM job_runs GROUP BY job")
        ).all()
        signed = connection.execute(
            text("SELECT count(*) FROM job_runs WHERE outcome LIKE 'signed%'")
        ).scalar_one()
        checkpoints = connection.execute(
            text("SELECT count(*) FROM audit_checkpoints")
        ).scalar_one()
    engine.dispose()
    assert {job for job, _, _ in runs} == {
        "audit-checkpoint",
        "access-expiry",
        "episode-compliance",
        "stats-monthly-release",
        "oversight-check",
        "console-sessions",
    }
    for job, count, slots_run in runs:
        assert count == slots_run, f"{job} ran twice in a slot"
        if job == "console-sessions":
            continue  # its interval is the console's idle timeout, in minutes
        assert slots_run >= elapsed / JOB_SECONDS / 2, f"{job} ran in only {slots_run} slots"
    assert checkpoints == signed > 0  # each checkpoint signed by exactly one scheduler run
