"""No overbooking: many simultaneous bookings of the last places never exceed capacity."""

import threading
from collections import Counter

from sqlalchemy import func, select

from registry.access import pow
from registry.access.models import Booking, Slot
from registry.extensions import db
from tests.access.conftest import seed_slots

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
