"""Factories of services and slots, and a proof-of-work solver, for the access tests."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from registry import clock
from registry.access import pow
from registry.access.models import Service, Slot


@pytest.fixture(autouse=True)
def easy_proof_of_work(app, monkeypatch):
    """Keep the proof of work cheap in tests."""
    monkeypatch.setitem(app.config, "ALTCHA_MAX_NUMBER", 50)


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


def book(client, slot_id: int, **extra):
    """Book a slot with a fresh solution."""
    return client.post(
        "/api/v1/public/bookings", json={"slot_id": slot_id, "altcha": solved(client), **extra}
    )
