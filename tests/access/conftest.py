"""Factories of services and slots, and a proof-of-work solver, for the access tests."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from registry import clock
from registry.access import pow
from registry.access.models import Service, Slot


@pytest.fixture(autouse=True)
def easy_proof_of_work(app, monkeypatch):
    """Keep the proof of work cheap in tests, and limits out of the way of functional tests."""
    monkeypatch.setitem(app.config, "ALTCHA_MAX_NUMBER", 50)
    # flask-limiter's `enabled` is process-wide: another test's limited app may have set it.
    limits = ("PUBLIC_READ_LIMIT", "CHALLENGE_LIMIT", "BOOKING_LIMIT", "BOOKING_LOOKUP_LIMIT")
    for name in (*limits, "BOOKING_NO_SCRIPT_LIMIT"):
        monkeypatch.setitem(app.config, name, "100000 per second")
    monkeypatch.setitem(app.config, "BOOKINGS_PER_CLIENT", 1000)


def new_service(session, clinic, **overrides) -> Service:
    """Add a published service to a clinic."""
    fields = {
        "name": "Methadone programme",
        "care_type": "oat",
        "medications": ["methadone"],
        "languages": ["ru", "kk"],
        "opening_hours": {"mon": ["09:00-13:00"]},
        "anonymous": True,
        "address": "Abay Ave 1",
        "published": True,
    }
    service = Service(clinic_id=clinic.id, **(fields | overrides))
    session.add(service)
    session.flush()
    return service


def new_slot(session, service, *, capacity: int = 2, in_hours: float = 24, booked: int = 0):
    """Add a slot starting `in_hours` from now."""
    start = clock.now() + timedelta(hours=in_hours)
    slot = Slot(
        service_id=service.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        capacity=capacity,
        booked=booked,
    )
    session.add(slot)
    session.flush()
    return slot


@pytest.fixture()
def make_service(session, make_clinic) -> Callable:
    """Return a factory of services (a new clinic unless one is given)."""

    def factory(clinic=None, **overrides):
        return new_service(session, clinic or make_clinic(), **overrides)

    return factory


@pytest.fixture()
def make_slot(session, make_service) -> Callable:
    """Return a factory of slots (a new service unless one is given)."""

    def factory(service=None, **options):
        return new_slot(session, service or make_service(), **options)

    return factory


def solved(client) -> str:
    """Fetch a challenge and return a solution for it."""
    answer = client.get("/api/v1/public/challenge")
    assert answer.status_code == 200, answer.json
    return pow.solve(answer.json)


def as_public() -> None:
    """Forget the previous request's user and language: test requests share the app context."""
    from flask import g, has_app_context
    from flask_babel import refresh

    if has_app_context():
        g.pop("user", None)
        g.pop("acting_role", None)
        refresh()


def book(client, slot_id: int, **extra):
    """Book a slot with a fresh solution, as an anonymous member of the public."""
    as_public()
    return client.post(
        "/api/v1/public/bookings", json={"slot_id": slot_id, "altcha": solved(client), **extra}
    )


def seed_slots(app, count: int, capacity: int) -> list[int]:
    """Commit a clinic, a service and `count` slots in the app's own database; return slot ids."""
    from registry.access.models import Clinic
    from registry.extensions import db

    with app.app_context():
        clinic = Clinic(name="Seeded clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.flush()
        service = new_service(db.session, clinic)
        ids = [
            new_slot(db.session, service, capacity=capacity, in_hours=24 + i).id
            for i in range(count)
        ]
        db.session.commit()
        return ids


@pytest.fixture()
def limited_app(keyring, tmp_path):
    """Return an app with real rate limits on its own database."""
    from registry.extensions import db, limiter
    from tests.conftest import _new_database, make_test_app, migrate_database

    for url in _new_database(tmp_path):
        app = make_test_app(
            url,
            keyring,
            str(tmp_path / "instance"),
            RATELIMIT_ENABLED=True,
            ALTCHA_MAX_NUMBER=50,
            CHALLENGE_LIMIT="6 per minute",
            BOOKING_LIMIT="4 per minute",
            BOOKINGS_PER_CLIENT=2,
        )
        migrate_database(app)
        try:
            yield app
        finally:
            # flask-limiter is a process-wide singleton: undo what this app's init_app set, so
            # the next limited app (another test's) starts from its own configuration.
            limiter.reset()
            limiter.limit_manager.set_default_limits([])
            limiter.enabled = False
            with app.app_context():
                db.engine.dispose()
