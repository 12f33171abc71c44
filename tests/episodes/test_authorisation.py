"""Role × endpoint × own/other clinic table of the episode endpoints."""

import pytest

from tests.conftest import bearer
from tests.episodes.conftest import TODAY, admission

ROLES = ["clinician", "clinic_admin", "analyst", "protocol_admin", "key_custodian", "admin"]
CLINICAL = {"clinician"}
PROTOCOLS = {"protocol_admin"}
DOSE = {"type": "dose", "payload": {"medication": "methadone", "amount": 20, "unit": "mg"}}

# (method, path, body, roles allowed, answer of an allowed role at another clinic)
ENDPOINTS = [
    ("post", "/api/v1/episodes", "open", CLINICAL, 404),
    ("get", "/api/v1/episodes", None, CLINICAL, 200),
    ("get", "/api/v1/episodes/{ref}", None, CLINICAL, 404),
    ("post", "/api/v1/episodes/{ref}/events", DOSE, CLINICAL, 404),
    ("post", "/api/v1/episodes/{ref}/discharge", {"reason": "dropped_out"}, CLINICAL, 404),
    ("get", "/api/v1/episodes/{ref}/compliance", None, CLINICAL, 404),
    ("get", "/api/v1/patients/{pseudonym}", None, CLINICAL, 404),
    ("post", "/api/v1/protocols/methadone_oat/migrations", {"from": 1, "to": 1}, PROTOCOLS, None),
    ("get", "/api/v1/protocols/methadone_oat/migrations", None, PROTOCOLS, None),
]


@pytest.mark.parametrize("method, path, body, allowed, elsewhere", ENDPOINTS)
@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("role", [*ROLES, None])
def test_role_matrix(
    client,
    make_user,
    make_clinic,
    methadone_episode,
    patient,
    role,
    where,
    method,
    path,
    body,
    allowed,
    elsewhere,
):
    from registry.auth.models import CLINIC_ROLES

    owner, ref = methadone_episode
    pseudonym = client.get(f"/api/v1/episodes/{ref}", headers=owner).json["pseudonym"]
    own_clinic = client.get("/api/v1/me", headers=owner).json.get("clinic_id")
    headers = {}
    if role:
        clinic = None
        if role in CLINIC_ROLES:
            clinic = make_clinic() if where == "other" else _clinic(own_clinic)
        headers = bearer(make_user(role, clinic=clinic)[1])
    if body == "open":
        body = {
            "pseudonym": pseudonym,
            "protocol": "psychosocial_outpatient",
            "diagnosis": "F11.2",
            "admitted_on": TODAY.isoformat(),
            "admission": admission(),
        }
    url = path.format(ref=ref, pseudonym=pseudonym)
    answer = getattr(client, method)(url, headers=headers, json=body)
    if role is None:
        assert answer.status_code == 401
    elif role not in allowed:
        assert answer.status_code == 403
    elif where == "other" and elsewhere is not None and role in CLINIC_ROLES:
        assert answer.status_code == elsewhere, answer.json
    else:
        assert answer.status_code < 400 or answer.status_code in (409, 422), answer.json


def _clinic(clinic_id):
    from registry.access.models import Clinic
    from registry.extensions import db

    return db.session.get(Clinic, clinic_id)


def test_code_lists_are_public(client):
    answer = client.get("/api/v1/codes")
    assert answer.status_code == 200
    tdi = answer.json["tdi"]
    assert {"code": "99", "label": {"ru": "неизвестно", "kk": "белгісіз", "en": "not known"}} in (
        tdi["primary_drug"]["codes"]
    )
    assert tdi["birth_year"]["numeric"]["not_known"] == 99
    assert {c["code"] for c in answer.json["icd10"]} >= {"F10.2", "F11.2", "F19.9"}
    assert len(answer.json["icd10"]) == 100
    for item in tdi.values():
        for code in item.get("codes", []):
            assert set(code["label"]) == {"ru", "kk", "en"} and all(code["label"].values())
