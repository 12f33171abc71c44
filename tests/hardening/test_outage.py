"""Outages: with PostgreSQL or Redis stopped, answers stay quick and clean; then it recovers."""

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import PG_URL
from tests.hardening.services import PrivateCluster, postgres_bin
from tests.hardening.stack import Stack
from tests.hardening.workload import (
    LOAD_SETTINGS,
    Tally,
    call,
    check_consistency,
    users_of,
)

QUICK_SECONDS = 5  # an outage answer must come well before a client or proxy gives up


def assert_unavailable(answer) -> None:
    """Check a 503 problem+json came quickly, naming no internals."""
    assert answer.status == 503, (answer.status, answer.body)
    assert answer.content_type == "application/problem+json"
    assert answer.body["status"] == 503
    assert answer.seconds < QUICK_SECONDS
    text = str(answer.body)
    assert "Traceback" not in text and "psycopg" not in text and "127.0.0.1" not in text


def wait_for(condition, timeout: float = 30, every: float = 0.5):
    """Poll until `condition()` returns a truthy value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def register(base: str, token: str, tally: Tally) -> int:
    """Register an anonymous patient; return the status (a 503 must be a clean, quick one)."""
    answer = call(base, "POST", "/api/v1/patients", token, {"mode": "anonymous"})
    if answer.status == 503:
        assert_unavailable(answer)
    tally.note("register", answer, answer.body.get("pseudonym") if answer.status == 201 else None)
    return answer.status


@pytest.fixture()
def cluster():
    """Return a running private PostgreSQL cluster with an empty `registry` database."""
    if postgres_bin("initdb") is None:
        pytest.skip("the PostgreSQL server programs (initdb, pg_ctl) are not installed")
    private = PrivateCluster()
    try:
        private.start()
        private.create_database()
        yield private
    finally:
        private.remove()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_outage_answers_503_and_recovers_without_restart(cluster, tmp_path):
    stack = Stack(tmp_path, cluster.url, LOAD_SETTINGS)
    try:
        users = users_of(stack.seed())
        server = stack.server()
        token, tally = users["clinician"]["token"], Tally()
        # The server's pool now holds connections that the stop will break.
        assert [register(server.url, token, tally) for _ in range(6)] == [201] * 6

        cluster.stop()
        for _ in range(4):
            body = {"mode": "anonymous"}
            assert_unavailable(call(server.url, "POST", "/api/v1/patients", token, body))
            assert_unavailable(call(server.url, "GET", "/api/v1/episodes", token))
        ready = call(server.url, "GET", "/readyz")
        assert ready.status == 503 and ready.body["checks"]["database"] == "unreachable"
        assert ready.seconds < QUICK_SECONDS
        assert call(server.url, "GET", "/healthz").status == 200  # the process itself is fine

        cluster.start()
        wait_for(lambda: call(server.url, "GET", "/readyz").status == 200)
        # A pooled connection that served no request in the outage is still stale: its
        # request fails (503, quickly) and SQLAlchemy renews the pool. Which thread takes
        # which connection is up to the pool, so that 503 may come late.
        recovery = register_until_eight_in_a_row(server.url, token, tally)
        assert set(recovery) <= {201, 503} and recovery.count(503) <= 2, recovery

        # A quick restart between requests leaves every pooled connection stale: without a
        # pre-ping one request fails and the pool is renewed.
        assert [register(server.url, token, tally) for _ in range(6)] == [201] * 6
        cluster.stop()
        cluster.start()
        after = register_until_eight_in_a_row(server.url, token, tally)
        assert set(after) <= {201, 503} and after.count(503) <= 2, after
        assert "Traceback" not in stack.server_logs()  # errors are logged by type only
        assert check_consistency(cluster.url, tally.acks) == []
        assert stack.audit_verify().returncode == 0
    finally:
        stack.stop()


def register_until_eight_in_a_row(base: str, token: str, tally: Tally) -> list[int]:
    """Register until 8 in a row succeed (40 tries at most); return every status, in order."""
    statuses: list[int] = []
    while statuses[-8:] != [201] * 8 and len(statuses) < 40:
        statuses.append(register(base, token, tally))
    assert statuses[-8:] == [201] * 8, statuses
    return statuses


def challenges(base: str, count: int) -> list[int]:
    """Ask for `count` proof-of-work challenges (a rate-limited public route); return statuses."""
    answers = [call(base, "GET", "/api/v1/public/challenge") for _ in range(count)]
    for answer in answers:
        assert answer.seconds < QUICK_SECONDS
        assert answer.status in (200, 429) or answer.content_type == "application/problem+json"
    return [answer.status for answer in answers]


@pytest.mark.slow
def test_redis_outage_follows_the_configured_choice_and_recovers(redis_server, stack):
    stack.env["REGISTRY_CHALLENGE_LIMIT"] = "3 per minute"
    stack.seed()
    # One server fails open (the default), one fails closed; each keeps its counts apart.
    opened, closed = (
        stack.server(
            workers=1,
            env={
                "REGISTRY_RATELIMIT_STORAGE_URI": f"{redis_server.url[:-1]}{number}",
                "REGISTRY_RATELIMIT_FAIL_OPEN": str(fail_open),
            },
        )
        for number, fail_open in ((0, True), (1, False))
    )
    for server in (opened, closed):
        assert challenges(server.url, 4) == [200, 200, 200, 429]  # enforced through Redis

    redis_server.stop()
    assert challenges(opened.url, 4) == [200] * 4  # serves, without limits
    assert challenges(closed.url, 4) == [503] * 4  # refuses until Redis is back
    for server in (opened, closed):
        assert call(server.url, "GET", "/readyz").status == 200  # Redis is not needed to serve

    redis_server.start()  # empty: the counts start again
    for server in (opened, closed):
        assert wait_for(lambda url=server.url: challenges(url, 1) == [200])
        assert challenges(server.url, 3) == [200, 200, 429]
    assert "Traceback" not in stack.server_logs()


@pytest.mark.slow
def test_sqlite_locked_by_another_process_delays_writes_only(stack):
    # SQLite has no server to stop; its outage is another process (a backup, an operator's
    # shell) holding the write lock. Reads and /readyz go on; writes wait (up to the 30 s busy
    # timeout, then 503), and succeed once it lets go. Each waiting write holds one of the
    # server's threads, so fewer writes than threads wait here: a free one answers the reads.
    if PG_URL:
        pytest.skip("SQLite's own outage; the PostgreSQL run stops a private cluster instead")
    users = users_of(stack.seed())
    server = stack.server()
    token, tally = users["clinician"]["token"], Tally()
    assert register(server.url, token, tally) == 201
    blocker = sqlite3.connect(stack.database_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(2) as pool:
        writes = [pool.submit(register, server.url, token, tally) for _ in range(2)]
        time.sleep(1)
        assert not any(write.done() for write in writes)  # waiting for the lock, not failing
        ready = call(server.url, "GET", "/readyz")
        assert ready.status == 200 and ready.seconds < 1
        blocker.execute("ROLLBACK")
        assert [write.result() for write in writes] == [201] * 2
    blocker.close()
    assert check_consistency(stack.database_url, tally.acks) == []
    assert stack.audit_verify().returncode == 0
