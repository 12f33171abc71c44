"""Governed re-identification: the allowed path, and every forbidden one refused and audited."""

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from registry.crypto.escrow import generate_custodian_keypair
from registry.extensions import db
from registry.patients.models import Escrow
from tests.conftest import bearer
from tests.episodes.test_coded_reasons import ATTACKS
from tests.patients.conftest import new_iin

PURPOSE = {"purpose": "court_proceedings", "legal_basis": "court_decision"}


@pytest.fixture(scope="module")
def custodian_keys():
    private, public = generate_custodian_keypair()
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


@pytest.fixture()
def escrow_on(app, monkeypatch, custodian_keys):
    monkeypatch.setitem(app.config, "ESCROW_PUBLIC_KEY", custodian_keys[1])
    return custodian_keys[0]


@pytest.fixture()
def custodians(make_user):
    return [bearer(make_user("key_custodian")[1]) for _ in range(4)]


@pytest.fixture()
def linked(clinician, register, escrow_on):
    iin = new_iin()
    return iin, register(clinician(), {"iin": iin}).json["pseudonym"]


def _request(client, headers, pseudonym):
    return client.post(
        "/api/v1/reidentifications", headers=headers, json={"pseudonym": pseudonym, **PURPOSE}
    )


def _approve(client, headers, request_id):
    return client.post(f"/api/v1/reidentifications/{request_id}/approve", headers=headers)


def _reveal(client, headers, request_id, key):
    return client.post(
        f"/api/v1/reidentifications/{request_id}/reveal", headers=headers, json={"private_key": key}
    )


def _last(session, action):
    return (
        session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.idx.desc())
        )
        .scalars()
        .first()
    )


@pytest.fixture()
def approved(client, custodians, linked):
    requester, first, second, _ = custodians
    request_id = _request(client, requester, linked[1]).json["id"]
    assert _approve(client, first, request_id).status_code == 200
    assert _approve(client, second, request_id).json["approvals"] == 2
    return request_id


def test_allowed_path_reveals_once(client, session, custodians, linked, approved, escrow_on):
    answer = _reveal(client, custodians[3], approved, escrow_on)
    assert answer.status_code == 200
    assert answer.json == {"iin": linked[0]}
    actions = [
        e.action
        for e in session.execute(select(AuditEntry).order_by(AuditEntry.idx)).scalars()
        if e.action.startswith("reidentification.")
    ]
    assert actions[-4:] == [
        "reidentification.request",
        "reidentification.approve",
        "reidentification.approve",
        "reidentification.reveal",
    ]
    assert linked[0] not in str(
        [e.object_id for e in session.execute(select(AuditEntry)).scalars()]
    )


def test_name_identity_is_revealed_as_written(client, clinician, register, custodians, escrow_on):
    identity = {
        "family_name": " Сәрсенбаева ",
        "given_name": "Әсел",
        "patronymic": "Нұрланқызы",
        "birth_date": "1990-05-17",
        "sex": "F",
    }
    pseudonym = register(clinician(), identity).json["pseudonym"]
    request_id = _request(client, custodians[0], pseudonym).json["id"]
    _approve(client, custodians[1], request_id)
    _approve(client, custodians[2], request_id)
    revealed = _reveal(client, custodians[1], request_id, escrow_on).json
    assert revealed == {**identity, "family_name": "Сәрсенбаева"}


def test_escrow_blobs_do_not_tell_the_length_of_a_name(client, clinician, register, escrow_on):
    short = {"family_name": "Ли", "given_name": "Ян", "birth_date": "1990-05-17", "sex": "M"}
    longest = {
        "family_name": "-".join(["Әбдіқадырова"] * 5),
        "given_name": "-".join(["Өмірзақ"] * 8),
        "patronymic": "-".join(["Ұлықбекқызы"] * 5),
        "birth_date": "1990-05-17",
        "sex": "F",
    }
    user = clinician()
    for identity in (short, longest, {"iin": new_iin()}):
        assert register(user, identity).status_code == 201
    blobs = db.session.execute(select(Escrow.blob)).scalars().all()
    assert len(blobs) == 3
    assert len({len(blob) for blob in blobs}) == 1


def _assert_refused(session, action, request_id, status):
    entry = _last(session, f"reidentification.{action}")
    assert entry.outcome == f"refused:{status}"
    assert entry.object_id == str(request_id)


def test_reveal_without_approvals_is_refused(client, session, custodians, linked, escrow_on):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    assert _reveal(client, custodians[1], request_id, escrow_on).status_code == 409
    _assert_refused(session, "reveal", request_id, 409)


def test_reveal_with_one_approval_is_refused(client, session, custodians, linked, escrow_on):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    _approve(client, custodians[1], request_id)
    assert _reveal(client, custodians[1], request_id, escrow_on).status_code == 409
    _assert_refused(session, "reveal", request_id, 409)


def test_the_same_custodian_cannot_approve_twice(client, session, custodians, linked, escrow_on):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    assert _approve(client, custodians[1], request_id).status_code == 200
    assert _approve(client, custodians[1], request_id).status_code == 409
    _assert_refused(session, "approve", request_id, 409)
    assert _reveal(client, custodians[2], request_id, escrow_on).status_code == 409


def test_requester_cannot_approve(client, session, custodians, linked):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    assert _approve(client, custodians[0], request_id).status_code == 403
    _assert_refused(session, "approve", request_id, 403)


def test_requester_cannot_reveal(client, session, custodians, approved, escrow_on):
    assert _reveal(client, custodians[0], approved, escrow_on).status_code == 403
    _assert_refused(session, "reveal", approved, 403)


def test_reveal_after_expiry_is_refused(client, session, custodians, approved, escrow_on):
    clock.freeze(clock.now() + timedelta(hours=72, seconds=1))
    try:
        assert _reveal(client, custodians[3], approved, escrow_on).status_code == 409
    finally:
        clock.freeze(None)
    _assert_refused(session, "reveal", approved, 409)


def test_approval_after_expiry_is_refused(client, session, custodians, linked):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    clock.freeze(clock.now() + timedelta(hours=73))
    try:
        assert _approve(client, custodians[1], request_id).status_code == 409
    finally:
        clock.freeze(None)
    _assert_refused(session, "approve", request_id, 409)


def test_second_reveal_is_refused(client, session, custodians, approved, escrow_on):
    assert _reveal(client, custodians[3], approved, escrow_on).status_code == 200
    assert _reveal(client, custodians[2], approved, escrow_on).status_code == 409
    _assert_refused(session, "reveal", approved, 409)


def test_wrong_private_key_is_refused_and_does_not_use_up_the_reveal(
    client, session, custodians, approved, escrow_on
):
    wrong = base64.b64encode(generate_custodian_keypair()[0]).decode()
    answer = _reveal(client, custodians[3], approved, wrong)
    assert answer.status_code == 422 and list(answer.json["errors"]) == ["private_key"]
    assert wrong not in answer.get_data(as_text=True)
    _assert_refused(session, "reveal", approved, 422)
    assert _reveal(client, custodians[3], approved, escrow_on).status_code == 200


def test_non_custodian_is_refused(client, make_user, approved, escrow_on):
    for role in ("admin", "clinician", "analyst"):
        headers = bearer(make_user(role)[1])
        assert _reveal(client, headers, approved, escrow_on).status_code == 403


def test_person_without_escrow_cannot_be_requested(client, clinician, register, custodians):
    pseudonym = register(clinician(), {"iin": new_iin()}).json["pseudonym"]  # escrow off
    assert _request(client, custodians[0], pseudonym).status_code == 409


def test_erased_person_cannot_be_revealed(
    client, session, custodians, linked, approved, escrow_on, make_user
):
    from registry.patients.models import Pseudonym

    clinic = session.execute(
        select(Pseudonym.domain).where(Pseudonym.value == linked[1])
    ).scalar_one()
    admin = bearer(make_user("admin")[1])
    client.delete(f"/api/v1/patients/{linked[1]}?clinic_id={clinic.split(':')[1]}", headers=admin)
    assert _reveal(client, custodians[3], approved, escrow_on).status_code == 409


def test_unknown_request_is_404(client, custodians, escrow_on):
    assert _approve(client, custodians[0], 987654).status_code == 404
    assert _reveal(client, custodians[0], 987654, escrow_on).status_code == 404


def test_offline_reveal_with_the_cli(app, session, custodians, approved, escrow_on, tmp_path):
    from registry.auth.models import User, UserRole

    key_file = tmp_path / "custodian.key"
    key_file.write_text(escrow_on)
    custodian = (
        session.execute(
            select(User)
            .join(UserRole)
            .where(UserRole.role == "key_custodian")
            .order_by(User.id.desc())
        )
        .scalars()
        .first()
    )
    runner = app.test_cli_runner()
    args = ["reidentify", str(approved), "--custodian", str(custodian.id), "--key-file"]
    result = runner.invoke(args=[*args, str(key_file)])
    assert result.exit_code == 0, result.output
    assert '"iin"' in result.output
    again = runner.invoke(args=[*args, str(key_file)])
    assert again.exit_code != 0
    assert _last(session, "reidentification.reveal").outcome == "refused:409"


def test_malformed_private_key_is_refused_and_audited(client, session, custodians, approved):
    answer = _reveal(client, custodians[3], approved, "not base64 at all!")
    assert answer.status_code == 422 and list(answer.json["errors"]) == ["private_key"]
    assert "not base64 at all" not in answer.get_data(as_text=True)
    _assert_refused(session, "reveal", approved, 422)


def test_escrow_is_added_when_a_known_person_comes_back(
    app, client, session, clinician, register, monkeypatch, custodian_keys, custodians
):
    iin = new_iin()
    pseudonym = register(clinician(), {"iin": iin}).json["pseudonym"]  # escrow off
    assert _request(client, custodians[0], pseudonym).status_code == 409
    monkeypatch.setitem(app.config, "ESCROW_PUBLIC_KEY", custodian_keys[1])
    register(clinician(), {"iin": iin})
    request_id = _request(client, custodians[0], pseudonym).json["id"]
    _approve(client, custodians[1], request_id)
    _approve(client, custodians[2], request_id)
    assert _reveal(client, custodians[1], request_id, custodian_keys[0]).json == {"iin": iin}


def test_wrong_role_is_refused_and_audited(client, session, make_user, approved, escrow_on):
    admin = bearer(make_user("admin")[1])
    assert _reveal(client, admin, approved, escrow_on).status_code == 403
    _assert_refused(session, "reveal", approved, 403)
    assert _approve(client, admin, approved).status_code == 403
    _assert_refused(session, "approve", approved, 403)


@pytest.mark.parametrize("field", ["purpose", "legal_basis"])
@pytest.mark.parametrize("text", ATTACKS)
def test_a_purpose_or_legal_basis_is_a_code_and_nothing_else_is_recorded(
    client, session, custodians, linked, field, text
):
    from registry.patients.models import ReidentificationRequest

    before = session.query(ReidentificationRequest).count()
    body = {"pseudonym": linked[1], **PURPOSE, field: text}
    refused = client.post("/api/v1/reidentifications", headers=custodians[0], json=body)
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {field}
    assert text not in refused.get_data(as_text=True)
    assert session.query(ReidentificationRequest).count() == before


def test_a_request_states_coded_purpose_and_legal_basis(client, custodians, linked):
    body = {"purpose": "public_health_emergency", "legal_basis": "infection_threat"}
    made = client.post(
        "/api/v1/reidentifications", headers=custodians[0], json={"pseudonym": linked[1], **body}
    )
    assert made.status_code == 201, made.json
    read = client.get(f"/api/v1/reidentifications/{made.json['id']}", headers=custodians[1]).json
    assert {k: read[k] for k in body} == body
    legacy = {"pseudonym": linked[1], "purpose": "unspecified", "legal_basis": "unspecified"}
    refused = client.post("/api/v1/reidentifications", headers=custodians[0], json=legacy)
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"purpose", "legal_basis"}


def _deny(client, headers, request_id):
    return client.post(f"/api/v1/reidentifications/{request_id}/deny", headers=headers)


def test_a_denied_request_can_be_neither_approved_nor_revealed(
    client, session, custodians, approved, escrow_on
):
    answer = _deny(client, custodians[3], approved)
    assert answer.status_code == 200 and answer.json["denied_at"]
    assert _last(session, "reidentification.deny").object_id == str(approved)
    assert _reveal(client, custodians[1], approved, escrow_on).status_code == 409
    assert _approve(client, custodians[3], approved).status_code == 409
    assert _deny(client, custodians[1], approved).status_code == 409


def test_the_requester_cannot_deny_and_is_audited(client, session, custodians, linked):
    request_id = _request(client, custodians[0], linked[1]).json["id"]
    assert _deny(client, custodians[0], request_id).status_code == 403
    assert _last(session, "reidentification.deny").outcome.startswith("refused")
    state = client.get(f"/api/v1/reidentifications/{request_id}", headers=custodians[1]).json
    assert state["denied_at"] is None
