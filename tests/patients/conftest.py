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


@pytest.fixture()
def own_app(tmp_path):
    """Return an app with real commits on its own database and its own keyring (to rotate)."""
    from registry.crypto.keyring import Keyring
    from registry.extensions import db
    from tests.conftest import _new_database, make_test_app, migrate_database

    for url in _new_database(tmp_path):
        app = make_test_app(url, Keyring.generate(), str(tmp_path / "instance"))
        migrate_database(app)
        yield app
        with app.app_context():
            db.engine.dispose()


def seed_clinicians(app, count: int) -> list[dict]:
    """Create clinics with one clinician each, committed; return their headers."""
    from registry.access.models import Clinic
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user
    from registry.extensions import db

    headers = []
    with app.app_context():
        for n in range(count):
            clinic = Clinic(name=f"Clinic {n}", region_code="750000000", centre_type="outpatient")
            db.session.add(clinic)
            db.session.flush()
            user = create_user(f"clinician-{n}", ["clinician"], clinic.id)
            headers.append(bearer(issue_token(user, 30)[1]))
        db.session.commit()
    return headers
