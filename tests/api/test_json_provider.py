"""JSON in and out goes through orjson, with Flask's own forms for dates and the same errors."""

import datetime
import json

import pytest

from tests.api.test_errors import _is_problem
from tests.conftest import bearer

BODY_TEMPLATE = '{"name": "Centre", "region_code": "150000000", "centre_type": %s}'


@pytest.fixture()
def admin(make_user):
    return bearer(make_user("admin")[1])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_has_not_are_refused(client, admin, value):
    # The argument parser reads bodies itself; whatever reads them, the answer is a clean 4xx.
    body = BODY_TEMPLATE % value
    answer = client.post(
        "/api/v1/clinics", headers=admin, data=body, content_type="application/json"
    )
    assert answer.status_code in (400, 422)
    _is_problem(answer, answer.status_code)
    with client.application.app_context(), pytest.raises(ValueError):
        client.application.json.loads(body)  # request.get_json answers 400 with this


def test_answers_are_utf8_json_ending_in_a_newline(app, client, admin):
    answer = client.post(
        "/api/v1/clinics",
        headers=admin,
        json={"name": "Алматы орталығы", "region_code": "750000000", "centre_type": "outpatient"},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    raw = answer.get_data()
    assert raw.endswith(b"\n")
    assert "Алматы орталығы".encode() in raw  # as UTF-8, not \u escapes
    assert json.loads(raw)["name"] == "Алматы орталығы"


def test_dates_and_odd_keys_keep_flasks_forms(app):
    value = {
        "day": datetime.date(2026, 11, 26),
        "at": datetime.datetime(2026, 11, 26, 6, 0, tzinfo=datetime.UTC),
        3: "int key",
    }
    with app.app_context():
        text = app.json.dumps(value)
        assert json.loads(text) == {
            "day": "Thu, 26 Nov 2026 00:00:00 GMT",
            "at": "Thu, 26 Nov 2026 06:00:00 GMT",
            "3": "int key",
        }
        assert app.json.loads(text.encode()) == json.loads(text)
