"""Linked registration and care-card resolution answer "is this person known?": limited per
user and per clinic, so that no clinician or clinic can ask it at enumeration scale."""

import itertools

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from tests.patients.conftest import new_iin

LIMITS = {
    "LINKED_REGISTRATION_USER_LIMIT": "3 per day",
    "LINKED_REGISTRATION_CLINIC_LIMIT": "5 per day",
    "CARE_CARD_RESOLUTION_USER_LIMIT": "2 per day",
    "CARE_CARD_RESOLUTION_CLINIC_LIMIT": "3 per day",
}
_names = itertools.count()


@pytest.fixture(scope="module")
def limited(keyring, tmp_path_factory):
    """Return an app with real rate limits (small oracle limits) on its own database."""
    from registry.extensions import db, limiter
    from tests.conftest import _new_database, make_test_app, migrate_database

    tmp_path = tmp_path_factory.mktemp("oracle-limits")
    for url in _new_database(tmp_path):
        app = make_test_app(
            url, keyring, str(tmp_path / "instance"), RATELIMIT_ENABLED=True, **LIMITS
        )
        migrate_database(app)
        try:
            yield app
        finally:
            limiter.reset()  # a process-wide singleton: the next limited app starts empty
            limiter.enabled = False
            with app.app_context():
                db.engine.dispose()


def _clinic(app) -> int:
    from registry.access.models import Clinic
    from registry.extensions import db

    with app.app_context():
        clinic = Clinic(
            name=f"Clinic {next(_names)}", region_code="750000000", centre_type="outpatient"
        )
        db.session.add(clinic)
        db.session.commit()
        return clinic.id


def _clinician(app, clinic_id: int) -> tuple[int, dict]:
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user
    from registry.extensions import db

    with app.app_context():
        user = create_user(f"limited-{next(_names)}", ["clinician"], clinic_id)
        secret = issue_token(user, 30)[1]
        db.session.commit()
        return user.id, bearer(secret)


def _linked(client, headers, iin=None):
    body = {"mode": "linked", "identity": {"iin": iin or new_iin()}}
    return client.post("/api/v1/patients", headers=headers, json=body)


def _persons(app) -> int:
    from registry.extensions import db
    from registry.patients.models import Person

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Person)).scalar()


def _assert_refused(answer, what: str, secret: str | None = None) -> None:
    assert answer.status_code == 429
    assert answer.mimetype == "application/problem+json"
    assert answer.json["type"] == "/problems/too-many-requests"
    assert what in answer.json["detail"]
    assert 0 < int(answer.headers["Retry-After"]) <= 24 * 3600 + 1
    if secret is not None:
        assert secret not in answer.get_data(as_text=True)


def test_linked_registrations_are_limited_per_user(limited):
    client = limited.test_client()
    _, headers = _clinician(limited, _clinic(limited))
    assert [_linked(client, headers).status_code for _ in range(3)] == [201, 201, 201]
    before = _persons(limited)
    iin = new_iin()
    answer = _linked(client, headers, iin)
    _assert_refused(answer, "your limit of linked registrations", secret=iin)
    assert _persons(limited) == before  # the refused probe created no person
    # Anonymous registration answers nothing about anyone: it has no such limit.
    anonymous = client.post("/api/v1/patients", headers=headers, json={"mode": "anonymous"})
    assert anonymous.status_code == 201


def test_linked_registrations_are_limited_per_clinic(limited):
    client = limited.test_client()
    clinic = _clinic(limited)
    _, first = _clinician(limited, clinic)
    _, second = _clinician(limited, clinic)
    assert [_linked(client, first).status_code for _ in range(3)] == [201] * 3
    assert [_linked(client, second).status_code for _ in range(2)] == [201] * 2
    _assert_refused(_linked(client, second), "your clinic's limit of linked registrations")
    _, elsewhere = _clinician(limited, _clinic(limited))
    assert _linked(client, elsewhere).status_code == 201


def test_care_card_resolutions_are_limited_per_user_and_per_clinic(limited):
    client = limited.test_client()
    clinic = _clinic(limited)
    _, first = _clinician(limited, clinic)
    _, second = _clinician(limited, clinic)
    card = client.post("/api/v1/patients", headers=first, json={"mode": "anonymous"}).json
    resolve = {"care_card": card["care_card"]}

    def ask(headers):
        return client.post("/api/v1/patients/resolve", headers=headers, json=resolve)

    assert [ask(first).status_code for _ in range(2)] == [200, 200]
    _assert_refused(ask(first), "your limit of care-card resolutions", secret=card["care_card"])
    assert ask(second).status_code == 200
    _assert_refused(ask(second), "your clinic's limit of care-card resolutions")


def test_a_refusal_is_audited_without_identity(limited):
    from registry.audit.models import AuditEntry
    from registry.extensions import db

    client = limited.test_client()
    user_id, headers = _clinician(limited, _clinic(limited))
    for _ in range(3):
        _linked(client, headers)
    iin = new_iin()
    assert _linked(client, headers, iin).status_code == 429
    with limited.app_context():
        entry = db.session.execute(
            select(AuditEntry).order_by(AuditEntry.idx.desc()).limit(1)
        ).scalar_one()
        values = [entry.action, entry.actor_id, entry.actor_role, entry.object_type]
        values += [entry.object_id, entry.outcome]
    assert values == ["patient.register", user_id, "clinician", "rate_limit", "user", "refused:429"]
    assert iin not in repr(values)


@pytest.mark.parametrize(("fail_open", "status"), [(True, 201), (False, 503)])
def test_a_lost_limit_store_answers_as_configured(limited, monkeypatch, fail_open, status):
    from registry.extensions import limiter

    def store_down(*args, **kwargs):
        raise ConnectionError("the limit store is down")

    client = limited.test_client()
    _, headers = _clinician(limited, _clinic(limited))
    monkeypatch.setitem(limited.config, "RATELIMIT_FAIL_OPEN", fail_open)
    with limited.app_context():
        monkeypatch.setattr(type(limiter.limiter), "hit", store_down)
    answer = _linked(client, headers)
    assert answer.status_code == status
    if status == 503:
        assert answer.mimetype == "application/problem+json"
        assert answer.headers["Retry-After"] == "5"
