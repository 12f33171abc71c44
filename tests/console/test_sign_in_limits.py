"""Failed console sign-ins are limited per user name and per client, and the refusals audited;
the console's linked registrations spend the same oracle budget as the API's."""

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.extensions import db
from tests.console.conftest import EnglishBrowser, csrf, make_staff_user, sign_in
from tests.patients.conftest import new_iin

LIMITS = {
    "CONSOLE_ACCOUNT_FAILURE_LIMIT": "3 per minute",
    "AUTH_FAILURE_LIMIT": "6 per minute",
    "LINKED_REGISTRATION_USER_LIMIT": "1 per day",
}


@pytest.fixture(scope="module")
def limited(keyring, tmp_path_factory):
    """Return an app with real rate limits on its own database."""
    from registry.extensions import limiter
    from tests.conftest import _new_database, make_test_app, migrate_database

    tmp_path = tmp_path_factory.mktemp("console-limits")
    for url in _new_database(tmp_path):
        app = make_test_app(
            url, keyring, str(tmp_path / "instance"), RATELIMIT_ENABLED=True, **LIMITS
        )
        migrate_database(app)
        app.test_client_class = EnglishBrowser
        try:
            yield app
        finally:
            limiter.reset()  # a process-wide singleton: the next limited app starts empty
            limiter.enabled = False
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(autouse=True)
def fresh_budgets(limited):
    """Start each test with unspent budgets: every test client is the same client here."""
    from registry.extensions import limiter

    limiter.reset()


def _user(app, *roles, clinic_id=None):
    with app.app_context():
        who = make_staff_user(db.session, roles, clinic_id)
        db.session.commit()
        return who


def test_a_user_name_is_locked_after_failures_even_with_the_right_password(limited):
    who = _user(limited, "analyst")
    client = limited.test_client()
    for _ in range(3):
        assert sign_in(client, who, password="wrong password here").status_code == 200
    refused = sign_in(client, who)  # the right password, too late
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many attempts" in refused.get_data(as_text=True)
    with limited.app_context():
        outcomes = (
            db.session.execute(
                select(AuditEntry.outcome).where(
                    AuditEntry.action == "console.sign_in", AuditEntry.object_id == str(who.id)
                )
            )
            .scalars()
            .all()
        )
    assert outcomes == ["refused:password"] * 3 + ["refused:limit"]


def test_one_client_is_limited_across_user_names(limited):
    client = limited.test_client()
    names = [_user(limited, "analyst") for _ in range(3)]
    codes = [sign_in(client, who, password="wrong password here").status_code for who in names * 3]
    # Each name failed 3 times at most (its own limit), but the client 6 times: its
    # AUTH_FAILURE_LIMIT, shared with bad bearer tokens, stops it.
    assert codes == [200] * 6 + [429] * 3


def test_console_registrations_spend_the_api_oracle_budget(limited):
    from registry.access.models import Clinic

    with limited.app_context():
        clinic = Clinic(name="Limited clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.commit()
        clinic_id = clinic.id
    who = _user(limited, "clinician", clinic_id=clinic_id)
    client = limited.test_client()
    assert sign_in(client, who).status_code == 302
    token = csrf(client.get("/console/"))
    first = client.post(
        "/console/patients/new", data={"csrf_token": token, "mode": "iin", "iin": new_iin()}
    )
    assert first.status_code == 200
    second = client.post(
        "/console/patients/new", data={"csrf_token": token, "mode": "iin", "iin": new_iin()}
    )
    assert second.status_code == 429
    assert "Too many attempts" in second.get_data(as_text=True)
