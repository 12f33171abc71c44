"""Fixtures for the oversight check: clinicians whose registrations make a week's pattern."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from registry import clock
from registry.episodes.examples import ADMISSION_EXAMPLE
from tests.conftest import bearer
from tests.patients.conftest import new_iin

TODAY = date(2026, 3, 4)
# Registrations happen at 10:00 Almaty; the check runs a day later, over the week before.
REGISTERED_AT = datetime(TODAY.year, TODAY.month, TODAY.day, 5, tzinfo=UTC)
CHECKED_AT = REGISTERED_AT + timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock():
    """Freeze the clock at the registrations' time; release it afterwards."""
    clock.freeze(REGISTERED_AT)
    yield
    clock.freeze(None)


@pytest.fixture()
def small_pool(app, monkeypatch):
    """Judge users from 10 linked registrations, so that a scenario stays small."""
    monkeypatch.setitem(app.config, "OVERSIGHT_MIN_REGISTRATIONS", 10)


@pytest.fixture()
def known_elsewhere(session, make_clinic) -> Callable[[int], list[str]]:
    """Return a factory of IINs of persons registered at some other clinic, by no user."""
    from registry.patients.services import register_linked

    def factory(count: int) -> list[str]:
        clinic = make_clinic()
        iins = [new_iin() for _ in range(count)]
        for iin in iins:
            register_linked(clinic.id, {"iin": iin})  # outside a request: the system acts
        session.flush()
        return iins

    return factory


class Clinician:
    """A clinician at a clinic of its own, registering and admitting through the API."""

    def __init__(self, client, make_user):
        self.client = client
        self.user, token = make_user("clinician")
        self.headers = bearer(token)

    def register(self, iin: str) -> str:
        body = {"mode": "linked", "identity": {"iin": iin}}
        answer = self.client.post("/api/v1/patients", headers=self.headers, json=body)
        assert answer.status_code in (200, 201), answer.json
        return answer.json["pseudonym"]

    def admit(self, pseudonym: str) -> None:
        body = {
            "pseudonym": pseudonym,
            "protocol": "psychosocial_outpatient",
            "diagnosis": "F11.2",
            "admitted_on": TODAY.isoformat(),
            "admission": dict(ADMISSION_EXAMPLE),
        }
        answer = self.client.post("/api/v1/episodes", headers=self.headers, json=body)
        assert answer.status_code == 201, answer.json


def refused(user_id: int, times: int) -> None:
    """Audit answers refused to a user by the oracle limits, as registry/api/oracle_limits does."""
    from registry.audit.log import record

    for _ in range(times):
        actor = (user_id, "clinician")
        record("patient.register", "rate_limit", "user", "refused:429", actor=actor)


@pytest.fixture()
def clinician(client, session, make_user) -> Callable[[], Clinician]:
    """Return a factory of clinicians, each at a new clinic."""
    from registry.protocols.lifecycle import install_shipped_protocols

    install_shipped_protocols()
    session.flush()
    return lambda: Clinician(client, make_user)


@pytest.fixture()
def week(clinician, known_elsewhere, small_pool) -> dict:
    """Make a week: three ordinary clinicians, a prober of known persons, an enumerator.

    Ordinary clinicians register 10 persons each, 3 of them known at another clinic, and admit
    all of them. The prober registers 10 persons known elsewhere and admits none; the
    enumerator registers 10 unknown IINs and admits none.
    """
    ordinary = [clinician() for _ in range(3)]
    for user in ordinary:
        for iin in known_elsewhere(3) + [new_iin() for _ in range(7)]:
            user.admit(user.register(iin))
    prober, enumerator = clinician(), clinician()
    for iin in known_elsewhere(10):
        prober.register(iin)
    for _ in range(10):
        enumerator.register(new_iin())
    return {"ordinary": ordinary, "prober": prober, "enumerator": enumerator}
