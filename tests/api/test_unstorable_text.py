"""A NUL or a lone surrogate in any string input is refused with 422, never a 500.

PostgreSQL cannot store a NUL in text, and no database driver can encode a lone surrogate
(half of a UTF-16 pair) as UTF-8: either used to reach the database and fail there.
"""

import json

import pytest

from registry.input_text import UNSTORABLE
from tests.access.conftest import as_public
from tests.conftest import bearer

NUL, SURROGATE = "\x00", "\ud800"
BAD = [pytest.param(NUL, id="nul"), pytest.param(SURROGATE, id="surrogate")]


def _post_json(client, path, body, token=None):
    """Send a body as Python's json.dumps writes it: a lone surrogate as a \\ud800 escape."""
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return client.post(path, data=json.dumps(body), headers=headers)


def _refused(answer, path: str) -> None:
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.json["errors"] == {path: [UNSTORABLE]}


@pytest.mark.parametrize("bad", BAD)
def test_clinic_name(client, make_user, bad):
    token = make_user("admin")[1]
    body = {"name": f"Clinic {bad} x", "region_code": "750000000", "centre_type": "outpatient"}
    _refused(_post_json(client, "/api/v1/clinics", body, token), "name")


@pytest.mark.parametrize("bad", BAD)
def test_service_name_and_nested_lists(client, make_user, bad):
    user, token = make_user("clinic_admin")
    path = f"/api/v1/clinics/{user.clinic_id}/services"
    body = {
        "name": "Methadone programme",
        "care_type": "oat",
        "languages": ["ru"],
        "address": "Abay Ave 1",
    }
    _refused(_post_json(client, path, {**body, "name": f"Talk {bad}"}, token), "name")
    hours = {"opening_hours": {"mon": ["09:00-13:00", f"14:00{bad}"]}}
    _refused(_post_json(client, path, {**body, **hours}, token), "opening_hours.mon.1")


@pytest.mark.parametrize("bad", BAD)
def test_slot_strings(client, make_user, bad):
    user, token = make_user("clinic_admin")
    path = f"/api/v1/clinics/{user.clinic_id}/slots"
    body = {"service_id": 1, "capacity": 1, "starts_at": f"2030-01-01T10:00:00{bad}+05:00"}
    _refused(_post_json(client, path, body, token), "starts_at")


@pytest.mark.parametrize("bad", BAD)
def test_public_booking_strings(client, bad):
    as_public()
    _refused(_post_json(client, "/api/v1/public/bookings/lookup", {"code": f"B-{bad}"}), "code")
    as_public()
    body = {"slot_id": 1, "altcha": f"x{bad}"}
    _refused(_post_json(client, "/api/v1/public/bookings", body), "altcha")


def test_a_bad_key_names_the_object_that_holds_it(client, make_user):
    token = make_user("analyst")[1]
    body = {"year": 2025, "dimensions": ["sex"], "filters": {f"sex{NUL}": ["male"]}}
    _refused(_post_json(client, "/api/v1/stats/query", body, token), "filters")


def test_query_string(client, make_user):
    token = make_user("clinician")[1]
    answer = client.get("/api/v1/episodes?pseudonym=P%00x", headers=bearer(token))
    _refused(answer, "pseudonym")
    as_public()
    _refused(client.get("/api/v1/public/services?unknown=%00"), "unknown")


def test_path_segments(client, make_user):
    token = make_user("clinician")[1]
    _refused(client.get("/api/v1/patients/P%00x", headers=bearer(token)), "pseudonym")
    _refused(client.get("/api/v1/episodes/E%00x", headers=bearer(token)), "ref")
    _refused(client.get("/api/v1/protocols/oat%00/diff", headers=bearer(token)), "key")


def test_public_site_forms_answer_a_page(client):
    as_public()
    answer = client.post("/booking", data={"code": f"B-{NUL}", "lang": "en"})
    assert answer.status_code == 422 and answer.mimetype == "text/html"
    as_public()
    answer = client.get("/?region=%00&lang=en")
    assert answer.status_code == 422 and answer.mimetype == "text/html"


def test_escaped_text_and_surrogate_pairs_still_pass(client, make_user):
    token = make_user("admin")[1]
    # The six characters \u0000 (an escaped backslash) and a real pair (an emoji) are storable.
    name = "Clinic \\u0000 \U0001f600"
    body = {"name": name, "region_code": "750000000", "centre_type": "outpatient"}
    answer = _post_json(client, "/api/v1/clinics", body, token)
    assert answer.status_code == 201, answer.json
    assert answer.json["name"] == name
