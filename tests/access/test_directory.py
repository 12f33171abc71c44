"""Directory: clinic managers publish services; the public searches them with filters."""

import pytest

from tests.access.conftest import new_slot
from tests.conftest import bearer

SERVICE = {
    "name": "Opioid agonist treatment",
    "care_type": "oat",
    "medications": ["methadone", "buprenorphine"],
    "languages": ["ru", "kk"],
    "opening_hours": {"mon": ["09:00-13:00", "14:00-18:00"], "sat": ["10:00-12:00"]},
    "anonymous": True,
    "address": "Tole Bi 10, Almaty",
}


def test_manager_publishes_a_service_for_own_clinic(client, make_user):
    user, token = make_user("clinic_admin")
    answer = client.post(
        f"/api/v1/clinics/{user.clinic_id}/services", headers=bearer(token), json=SERVICE
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["medications"] == ["methadone", "buprenorphine"]
    public = client.get(f"/api/v1/public/services/{answer.json['id']}")
    assert public.status_code == 200
    assert public.json["region"]["code"] == "750000000"
    assert public.json["timezone"] == "Asia/Almaty"


@pytest.mark.parametrize(
    "role, status", [("clinician", 403), ("analyst", 403), ("admin", 403), (None, 401)]
)
def test_only_clinic_managers_publish(client, make_user, make_clinic, role, status):
    clinic = make_clinic()
    bound = clinic if role == "clinician" else None
    headers = bearer(make_user(role, clinic=bound)[1]) if role else {}
    answer = client.post(f"/api/v1/clinics/{clinic.id}/services", headers=headers, json=SERVICE)
    assert answer.status_code == status


def test_manager_cannot_publish_for_another_clinic(client, make_user, make_clinic):
    _, token = make_user("clinic_admin")
    other = make_clinic()
    answer = client.post(
        f"/api/v1/clinics/{other.id}/services", headers=bearer(token), json=SERVICE
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "change, field",
    [
        ({"care_type": "spa"}, "care_type"),
        ({"medications": ["heroin"]}, "medications.0"),
        ({"languages": []}, "languages"),
        ({"opening_hours": {"mon": ["9-18"]}}, "opening_hours.mon.value.0"),
        ({"opening_hours": {"someday": ["09:00-10:00"]}}, "opening_hours.someday.key"),
        ({"iin": "850315301235"}, "iin"),
    ],
)
def test_bad_service_is_422_naming_the_field(client, make_user, change, field):
    user, token = make_user("clinic_admin")
    answer = client.post(
        f"/api/v1/clinics/{user.clinic_id}/services",
        headers=bearer(token),
        json=SERVICE | change,
    )
    assert answer.status_code == 422
    assert field in answer.json["errors"], answer.json["errors"]
    assert "850315301235" not in answer.get_data(as_text=True)


def test_manager_unpublishes_a_service(client, make_user, make_service):
    user, token = make_user("clinic_admin")
    service = make_service(clinic=_clinic(user))
    answer = client.patch(
        f"/api/v1/clinics/{user.clinic_id}/services/{service.id}",
        headers=bearer(token),
        json={"published": False},
    )
    assert answer.status_code == 200
    assert client.get(f"/api/v1/public/services/{service.id}").status_code == 404


def _clinic(user):
    from registry.access.models import Clinic
    from registry.extensions import db

    return db.session.get(Clinic, user.clinic_id)


@pytest.fixture()
def catalogue(session, make_clinic, make_service):
    """Four services differing in every filter."""
    almaty, astana = make_clinic(region="750000000"), make_clinic(region="710000000")
    services = {
        "oat_almaty": make_service(almaty, name="A OAT", care_type="oat"),
        "detox_almaty": make_service(
            almaty,
            name="B Detox",
            care_type="detox",
            medications=["naltrexone"],
            languages=["ru"],
            anonymous=False,
        ),
        "psy_astana": make_service(
            astana, name="C Talk", care_type="psychosocial", medications=[], languages=["en", "kk"]
        ),
        "hidden": make_service(astana, name="D Hidden", published=False),
    }
    new_slot(session, services["psy_astana"], in_hours=48)
    new_slot(session, services["detox_almaty"], in_hours=24 * 20)
    new_slot(session, services["oat_almaty"], in_hours=24, capacity=1, booked=1)
    return services


def _names(client, query: str = "") -> list[str]:
    answer = client.get(f"/api/v1/public/services?per_page=50&{query}")
    assert answer.status_code == 200, answer.json
    return [item["name"] for item in answer.json["items"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["A OAT", "B Detox", "C Talk"]),
        ("region=750000000", ["A OAT", "B Detox"]),
        ("care_type=psychosocial", ["C Talk"]),
        ("medication=methadone", ["A OAT"]),
        ("medication=naltrexone", ["B Detox"]),
        ("language=kk", ["A OAT", "C Talk"]),
        ("language=en", ["C Talk"]),
        ("anonymous=false", ["B Detox"]),
        ("anonymous=true&region=750000000", ["A OAT"]),
        ("free_within_days=7", ["C Talk"]),
        ("free_within_days=30", ["B Detox", "C Talk"]),
        ("medication=methadone&language=en", []),
    ],
)
def test_public_search_filters(client, catalogue, query, expected):
    assert sorted(_names(client, query)) == expected


def test_public_search_paginates(client, catalogue):
    first = client.get("/api/v1/public/services?per_page=2&page=1").json
    second = client.get("/api/v1/public/services?per_page=2&page=2").json
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    seen = {i["id"] for i in first["items"]} | {i["id"] for i in second["items"]}
    assert len(seen) == 3


@pytest.mark.parametrize(
    "query, field",
    [
        ("care_type=spa", "care_type"),
        ("region=abc", "region"),
        ("per_page=500", "per_page"),
        ("page=0", "page"),
        ("free_within_days=-1", "free_within_days"),
        ("language=xx", "language"),
    ],
)
def test_bad_search_is_422(client, query, field):
    answer = client.get(f"/api/v1/public/services?{query}")
    assert answer.status_code == 422
    assert field in answer.json["errors"]


def test_free_slots_lists_only_open_places(client, session, make_service):
    service = make_service()
    open_slot = new_slot(session, service, capacity=3, booked=1)
    new_slot(session, service, capacity=1, booked=1)
    new_slot(session, service, in_hours=-2)
    answer = client.get(f"/api/v1/public/services/{service.id}/slots")
    assert answer.status_code == 200
    assert [(s["id"], s["free"]) for s in answer.json] == [(open_slot.id, 2)]
    assert answer.json[0]["local_start"].endswith("+05:00")


def test_slots_of_unknown_or_hidden_service_are_404(client, make_service):
    hidden = make_service(published=False)
    assert client.get(f"/api/v1/public/services/{hidden.id}/slots").status_code == 404
    assert client.get("/api/v1/public/services/999999/slots").status_code == 404
