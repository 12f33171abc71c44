"""Fixtures for episode tests: shipped protocols, clinicians, patients and open episodes."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from registry import clock
from registry.episodes.examples import ADMISSION_EXAMPLE
from tests.conftest import bearer

# A Wednesday; admissions in the scenarios are on this day unless said otherwise.
TODAY = date(2026, 3, 4)


def admission(**changes) -> dict:
    """Return a complete TDI 3.0 admission record of an adult heroin user."""
    record = {**ADMISSION_EXAMPLE, "secondary_drug_1": "benzodiazepines"}
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def moment(day: date, hour: int = 9) -> str:
    """Return an ISO timestamp at a clinic-local hour (Almaty, UTC+5) of a day."""
    return datetime(day.year, day.month, day.day, hour - 5, tzinfo=UTC).isoformat()


@pytest.fixture(autouse=True)
def frozen_clock():
    """Freeze the clock at 10:00 Almaty on TODAY; release it afterwards."""
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 5, tzinfo=UTC))
    yield
    clock.freeze(None)


@pytest.fixture()
def shipped(session) -> None:
    """Install the shipped protocols (active version 1 of each) in this test's transaction."""
    from registry.protocols.lifecycle import install_shipped_protocols

    install_shipped_protocols()
    session.flush()


@pytest.fixture()
def clinician(make_user, make_clinic) -> Callable:
    """Return a factory of clinician headers, each at a new clinic unless one is given."""

    def factory(clinic=None) -> dict:
        return bearer(make_user("clinician", clinic=clinic or make_clinic())[1])

    return factory


@pytest.fixture()
def patient(client) -> Callable:
    """Return a helper registering a person at a clinic (or anonymously) → pseudonym."""

    def call(headers: dict, identity: dict | None = None) -> str:
        body = (
            {"mode": "anonymous"} if identity is None else {"mode": "linked", "identity": identity}
        )
        answer = client.post("/api/v1/patients", headers=headers, json=body)
        assert answer.status_code in (200, 201), answer.json
        return answer.json["pseudonym"]

    return call


@pytest.fixture()
def open_episode(client, shipped) -> Callable:
    """Return a helper that opens an episode and returns the response."""

    def call(headers: dict, pseudonym: str, protocol: str = "methadone_oat", **changes):
        body = {
            "pseudonym": pseudonym,
            "protocol": protocol,
            "diagnosis": "F11.2",
            "admitted_on": TODAY.isoformat(),
            "admission": admission(),
        }
        body.update(changes)
        return client.post("/api/v1/episodes", headers=headers, json=body)

    return call


@pytest.fixture()
def methadone_episode(clinician, patient, open_episode) -> tuple[dict, str]:
    """Return (headers, episode id) of an open methadone episode admitted TODAY."""
    headers = clinician()
    answer = open_episode(headers, patient(headers))
    assert answer.status_code == 201, answer.json
    return headers, answer.json["id"]
