"""Numbers too large for an integer column: a path id matches no route, a query gets 422."""

import pytest

from registry.api.converters import MAX_ID


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/public/services/{id}",
        "/api/v1/clinics/{id}",
        "/api/v1/reidentifications/{id}",
        "/services/{id}",
    ],
)
def test_an_id_beyond_the_column_is_not_found(client, make_user, path):
    headers = {"Authorization": f"Bearer {make_user('admin')[1]}"}
    for too_large in (MAX_ID + 1, 2**63, 10**30):
        answer = client.get(path.format(id=too_large), headers=headers)
        assert answer.status_code == 404, (path, too_large)
        assert answer.json is None or answer.json["detail"] == "no such resource"
        if path.startswith("/api/"):
            assert answer.mimetype == "application/problem+json"


def test_the_largest_id_reaches_the_view(client):
    answer = client.get(f"/api/v1/public/services/{MAX_ID}")
    assert answer.status_code == 404
    assert answer.json["detail"] != "no such resource"  # the view's own answer, not a route miss


def test_the_spec_documents_the_bound(client):
    spec = client.get("/api/v1/openapi.json").json
    (parameter,) = spec["paths"]["/api/v1/public/services/{service_id}"]["parameters"]
    assert parameter["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_ID}


@pytest.mark.parametrize(
    "path, role",
    [
        ("/api/v1/audit/entries?after={n}", "admin"),
        ("/api/v1/audit/proof?index=0&tree_size={n}", "admin"),
        ("/api/v1/audit/proof?index={n}", "admin"),
        ("/api/v1/audit/consistency?from=1&to={n}", "admin"),
        ("/api/v1/protocols/methadone_oat/diff?from=1&to={n}", "protocol_admin"),
        ("/api/v1/clinics/{clinic}/bookings?service_id={n}", "clinic_admin"),
    ],
)
def test_a_query_number_beyond_the_column_is_refused(client, make_user, make_clinic, path, role):
    clinic = make_clinic()
    token = make_user(role, clinic=clinic if role == "clinic_admin" else None)[1]
    headers = {"Authorization": f"Bearer {token}"}
    for too_large in (MAX_ID + 1, 2**63):
        answer = client.get(path.format(n=too_large, clinic=clinic.id), headers=headers)
        assert answer.status_code == 422, (path, answer.json)
        assert str(too_large) not in answer.get_data(as_text=True)
