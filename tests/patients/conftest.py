"""Fixtures for patient tests: clinicians of distinct clinics and a registration helper."""

import datetime as dt
import itertools
from collections.abc import Callable

import pytest

from tests.conftest import bearer
from tests.crypto.iin_helpers import make_iin

_serials = itertools.count(1)


def new_iin(birth: dt.date = dt.date(1985, 3, 15), male: bool = True) -> str:
    """Return a valid IIN not used before in this session."""
    while True:
        iin = make_iin(birth, male, next(_serials) % 10000)
        if iin:
            return iin


@pytest.fixture()
def clinician(make_user) -> Callable:
    """Return a factory of clinician headers, each at a new clinic unless one is given."""

    def factory(clinic=None) -> dict:
        user, token = make_user("clinician", clinic=clinic)
        headers = bearer(token)
        headers["X-User-Id"] = str(user.id)  # ignored by the app; lets tests find the user
        return headers

    return factory


@pytest.fixture()
def register(client) -> Callable:
    """Return a helper that registers a patient and returns the response."""

    def call(headers: dict, identity: dict | None = None):
        body = (
            {"mode": "anonymous"} if identity is None else {"mode": "linked", "identity": identity}
        )
        return client.post("/api/v1/patients", headers=headers, json=body)

    return call
