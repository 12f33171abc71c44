"""Crash safety: SIGKILL gunicorn workers mid-write; no acknowledged write may be lost."""

import os
import random
import threading
import time

import pytest

from tests.hardening.workload import (
    WRITE_MIX,
    Mix,
    Tally,
    check_consistency,
    hammer,
    make_slots,
    users_of,
)

# Kills per run: a short loop in the suite, REGISTRY_CRASH_KILLS=300 (make crash-long) for more.
KILLS = int(os.environ.get("REGISTRY_CRASH_KILLS", "8"))


def _wait_for_acks(tally, count: int, timeout: float = 60) -> None:
    """Wait until `count` writes have been acknowledged in all."""
    deadline = time.monotonic() + timeout
    while len(tally.acks) < count:
        assert time.monotonic() < deadline, f"the service stopped taking writes: {tally.statuses}"
        time.sleep(0.05)


def _wait_for_kinds(tally, kinds: set[str], timeout: float = 60) -> None:
    """Wait until each kind of write has been acknowledged at least once."""
    deadline = time.monotonic() + timeout
    while not {ack.kind for ack in tally.acks} >= kinds:
        assert time.monotonic() < deadline, f"the mix missed a kind of write: {tally.statuses}"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_workers_lose_no_acknowledged_write(stack):
    users = users_of(stack.seed())
    server = stack.server()  # one process, as gunicorn.conf.py runs it: each kill cuts them all
    # Small slots, so that bookings also race for the last places while workers die.
    slots = make_slots(server.url, users["manager"], count=3, capacity=15)
    tally = Tally()
    mix = Mix([server.url], users, slots, tally)
    stop = threading.Event()
    load = threading.Thread(target=hammer, args=(mix, WRITE_MIX, stop, 6))
    load.start()
    killed, old = 0, set()
    try:
        # Every kill restarts the one process with cold caches; an episode event, whose first
        # one in a process is the slowest, may be cut each time. Let every kind go through once.
        _wait_for_kinds(tally, {"register", "event", "book"})
        for _ in range(KILLS):
            # Kill once writes go through again, and rather a worker that was there at the last
            # kill: one started since may still be importing the app, with no request to cut.
            _wait_for_acks(tally, len(tally.acks) + 3)
            time.sleep(random.uniform(0.05, 0.4))
            current = set(server.workers())
            victim = server.kill_a_worker(sorted((current & old) or current))
            killed += victim is not None
            old = current - {victim}
    finally:
        time.sleep(1)
        stop.set()
        load.join()
    assert killed == KILLS
    assert tally.cut > 0, "no request was in flight when a worker died"
    assert {ack.kind for ack in tally.acks} >= {"register", "event", "book"}, tally.statuses
    assert tally.server_errors() == 0, tally.statuses
    assert check_consistency(stack.database_url, tally.acks) == []
    verdict = stack.audit_verify()
    assert verdict.returncode == 0, verdict.stdout
    # The service still answers after all those deaths.
    server.wait_until_up()
