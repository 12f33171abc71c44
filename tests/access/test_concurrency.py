"""No overbooking: many simultaneous bookings of the last places never exceed capacity."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.access import pow
from registry.access.models import Booking, Slot
from registry.extensions import db
from tests.access.conftest import seed_slots

ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = 200
CAPACITY = 5


def test_200_concurrent_bookings_of_5_places_give_exactly_5(fresh_app):
    fresh_app.config["ALTCHA_MAX_NUMBER"] = 20
    [slot_id] = seed_slots(fresh_app, 1, capacity=CAPACITY)
    setup = fresh_app.test_client()
    payloads = [pow.solve(setup.get("/api/v1/public/challenge").json) for _ in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)
    statuses: list[int] = []

    def attempt(index: int) -> None:
        client = fresh_app.test_client()
        # Each attempt comes from its own address, so the per-client cap is not what stops it.
        client.environ_base["REMOTE_ADDR"] = f"10.{index // 250}.{index % 250}.1"
        start.wait()
        answer = client.post(
            "/api/v1/public/bookings", json={"slot_id": slot_id, "altcha": payloads[index]}
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    counts = Counter(statuses)
    assert counts[201] == CAPACITY, counts
    assert counts[409] == ATTEMPTS - CAPACITY, counts
    with fresh_app.app_context():
        assert db.session.get(Slot, slot_id).booked == CAPACITY
        assert db.session.execute(select(func.count(Booking.id))).scalar() == CAPACITY


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def gunicorn_site(fresh_app, keyring, tmp_path):
    """Serve the fresh database through gunicorn as gunicorn.conf.py runs it (threads)."""
    port = _free_port()
    env = os.environ | {
        "REGISTRY_DATABASE_URL": fresh_app.config["SQLALCHEMY_DATABASE_URI"],
        "REGISTRY_KEYRING": keyring.dumps(),
        "REGISTRY_INSTANCE_PATH": str(tmp_path / "gunicorn-instance"),
        "REGISTRY_ALTCHA_MAX_NUMBER": "20",
        # Every request comes from 127.0.0.1: lift the per-client limits for this test.
        "REGISTRY_BOOKINGS_PER_CLIENT": "100000",
        "REGISTRY_BOOKING_LIMIT": "100000 per second",
        "REGISTRY_CHALLENGE_LIMIT": "100000 per second",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESSLOG": "/dev/null",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def _post(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_the_served_app_never_overbooks(fresh_app, gunicorn_site):
    [slot_id] = seed_slots(fresh_app, 1, capacity=CAPACITY)
    challenges = []
    for _ in range(ATTEMPTS):
        with urllib.request.urlopen(gunicorn_site + "/api/v1/public/challenge") as answer:
            challenges.append(json.load(answer))
    payloads = [pow.solve(challenge) for challenge in challenges]
    url = gunicorn_site + "/api/v1/public/bookings"
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda p: _post(url, {"slot_id": slot_id, "altcha": p}), payloads))
    counts = Counter(statuses)
    assert counts[201] == CAPACITY, counts
    assert counts[409] == ATTEMPTS - CAPACITY, counts
    with fresh_app.app_context():
        assert db.session.get(Slot, slot_id).booked == CAPACITY
