"""Bad input is refused with 422 naming the field and rule, never echoing the value."""

import pytest

from tests.conftest import bearer

BAD_IDENTITIES = [
    ({"iin": "85031530123"}, "identity.iin", "85031530123"),
    ({"iin": "85031530123X"}, "identity.iin", "85031530123X"),
    ({"iin": "850315301236"}, "identity.iin", "850315301236"),
    ({"iin": "٨٥٠٣١٥٣٠١٢٣٥"}, "identity.iin", "٨٥٠٣١٥٣٠١٢٣٥"),
    ({"iin": "851315301235"}, "identity.iin", "851315301235"),
    ({"iin": "850315901235"}, "identity.iin", "850315901235"),
    ({"iin": "850315301235", "birth_date": "1985-03-16"}, "identity.birth_date", "850315301235"),
    ({"iin": "850315301235", "sex": "F"}, "identity.sex", "850315301235"),
    ({"iin": "850315301235", "family_name": "Ким"}, "identity.family_name", "850315301235"),
    (
        {"family_name": "Ким", "given_name": "Виктор", "sex": "M"},
        "identity.birth_date",
        "Виктор",
    ),
    (
        {"family_name": "К1м", "given_name": "Виктор", "birth_date": "1970-01-01", "sex": "M"},
        "identity.family_name",
        "К1м",
    ),
    (
        {"family_name": "Ким", "given_name": "Вuктор", "birth_date": "1970-01-01", "sex": "M"},
        "identity.given_name",
        "Вuктор",
    ),
    (
        {"family_name": "Ким", "given_name": "Виктор", "birth_date": "1970-13-01", "sex": "M"},
        "identity.birth_date",
        "1970-13-01",
    ),
    (
        {"family_name": "Ким", "given_name": "Виктор", "birth_date": "1970-01-01", "sex": "X"},
        "identity.sex",
        "Виктор",
    ),
    (
        {"family_name": "Ким" * 40, "given_name": "Виктор", "birth_date": "1970-01-01", "sex": "M"},
        "identity.family_name",
        "КимКим",
    ),
]


@pytest.mark.parametrize("identity, field, secret", BAD_IDENTITIES)
def test_bad_identity_names_the_field_not_the_value(client, clinician, identity, field, secret):
    answer = client.post(
        "/api/v1/patients", headers=clinician(), json={"mode": "linked", "identity": identity}
    )
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert secret not in answer.get_data(as_text=True)
    assert secret.encode() not in answer.data


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "mode"),
        ({"mode": "secret"}, "mode"),
        ({"mode": "linked"}, "identity"),
        ({"mode": "anonymous", "identity": {"iin": "850315301235"}}, "identity"),
        ({"mode": "anonymous", "note": "x"}, "note"),
        ({"mode": "linked", "identity": {"iin": "850315301235", "ssn": "1"}}, "identity.ssn"),
    ],
)
def test_bad_registration_body(client, clinician, body, field):
    answer = client.post("/api/v1/patients", headers=clinician(), json=body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert "850315301235" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["P-0000", "P-7K3M-QF9X-T2HD-8WCA-N5", "P-!!!!"])
def test_bad_pseudonym_in_path_is_422(client, clinician, bad):
    answer = client.get(f"/api/v1/patients/{bad}", headers=clinician())
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["pseudonym"]
    assert bad not in answer.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["", "K7QF", "K7QF-3M9X-T2HD-8WCA-N4PZ-7R", "ÜÜÜÜ"])
def test_bad_care_card_is_422(client, clinician, bad):
    answer = client.post("/api/v1/patients/resolve", headers=clinician(), json={"care_card": bad})
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["care_card"]
    if bad:
        assert bad not in answer.get_data(as_text=True)


ENDPOINTS = [
    ("post", "/api/v1/patients", {"mode": "anonymous"}, {"clinician"}),
    ("post", "/api/v1/patients/resolve", {"care_card": "K7QF"}, {"clinician"}),
    ("get", "/api/v1/patients/P-7K3M-QF9X-T2HD-8WCA-N4", None, {"clinician"}),
    ("delete", "/api/v1/patients/P-7K3M-QF9X-T2HD-8WCA-N4?clinic_id=1", None, {"admin"}),
    ("post", "/api/v1/patients/merges", {"survivor": "x", "merged": "y"}, {"clinician"}),
    ("post", "/api/v1/patients/merges/1/split", None, {"clinician"}),
    ("post", "/api/v1/reidentifications", {"pseudonym": "x"}, {"key_custodian"}),
    ("post", "/api/v1/reidentifications/1/approve", None, {"key_custodian"}),
    ("post", "/api/v1/reidentifications/1/reveal", {"private_key": "AA=="}, {"key_custodian"}),
]
ROLES = ["clinician", "clinic_admin", "analyst", "protocol_admin", "key_custodian", "admin"]


@pytest.mark.parametrize("method, path, body, allowed", ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, make_user, method, path, body, allowed, role):
    _, token = make_user(role)
    kwargs = {"headers": bearer(token)}
    if body is not None:
        kwargs["json"] = body
    answer = getattr(client, method)(path, **kwargs)
    if role in allowed:
        assert answer.status_code not in (401, 403)
    else:
        assert answer.status_code == 403


@pytest.mark.parametrize("method, path, body, allowed", ENDPOINTS)
def test_no_token_is_401(client, method, path, body, allowed):
    answer = getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
    assert answer.status_code == 401
