"""Object-level checks: a clinic's staff never read another clinic's objects."""

import pytest

from tests.conftest import bearer


@pytest.mark.parametrize("role", ["clinician", "clinic_admin"])
def test_staff_read_their_own_clinic(client, make_user, role):
    user, token = make_user(role)
    answer = client.get(f"/api/v1/clinics/{user.clinic_id}", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json["id"] == user.clinic_id


@pytest.mark.parametrize("role", ["clinician", "clinic_admin"])
def test_other_clinic_looks_like_a_missing_one(client, make_user, make_clinic, role):
    _, token = make_user(role)
    other = make_clinic()
    to_other = client.get(f"/api/v1/clinics/{other.id}", headers=bearer(token))
    to_nothing = client.get("/api/v1/clinics/987654", headers=bearer(token))
    assert to_other.status_code == to_nothing.status_code == 404
    assert to_other.json["detail"] == to_nothing.json["detail"]


def test_staff_list_only_their_own_clinic(client, make_user, make_clinic):
    make_clinic()
    user, token = make_user("clinician")
    answer = client.get("/api/v1/clinics", headers=bearer(token))
    assert [c["id"] for c in answer.json] == [user.clinic_id]


def test_operator_reads_any_clinic_and_creates_one(client, make_user, make_clinic):
    clinic = make_clinic()
    _, token = make_user("admin")
    assert client.get(f"/api/v1/clinics/{clinic.id}", headers=bearer(token)).status_code == 200
    created = client.post(
        "/api/v1/clinics",
        headers=bearer(token),
        json={
            "name": "Aktobe Regional Centre",
            "region_code": "150000000",
            "centre_type": "inpatient",
        },
    )
    assert created.status_code == 201
    assert created.json["timezone"] == "Asia/Almaty"


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"name": "X Clinic", "region_code": "999999999", "centre_type": "inpatient"},
            "region_code",
        ),
        ({"name": "X Clinic", "region_code": "150000000", "centre_type": "spa"}, "centre_type"),
        (
            {
                "name": "X Clinic",
                "region_code": "150000000",
                "centre_type": "gp",
                "timezone": "Mars/Olympus",
            },
            "timezone",
        ),
        ({"region_code": "150000000", "centre_type": "gp"}, "name"),
        (
            {"name": "X Clinic", "region_code": "150000000", "centre_type": "gp", "extra": 1},
            "extra",
        ),
    ],
)
def test_bad_clinic_is_refused_with_the_field_named(client, make_user, body, field):
    _, token = make_user("admin")
    answer = client.post("/api/v1/clinics", headers=bearer(token), json=body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]


def test_clinic_staff_cannot_create_clinics(client, make_user):
    _, token = make_user("clinic_admin")
    answer = client.post(
        "/api/v1/clinics",
        headers=bearer(token),
        json={"name": "Mine", "region_code": "150000000", "centre_type": "gp"},
    )
    assert answer.status_code == 403
