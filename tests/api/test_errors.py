"""Every error is RFC 9457 problem+json, with the right status and no echo of input."""

import pytest

from tests.conftest import bearer, make_test_app

CLINIC = {"name": "Aktobe Centre", "region_code": "150000000", "centre_type": "inpatient"}


@pytest.fixture()
def admin(make_user):
    return bearer(make_user("admin")[1])


def _is_problem(answer, status):
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    return body


def test_malformed_json_is_400(client, admin):
    answer = client.post(
        "/api/v1/clinics", headers=admin, data='{"name": ', content_type="application/json"
    )
    _is_problem(answer, 400)


def test_wrong_content_type_is_415(client, admin):
    answer = client.post(
        "/api/v1/clinics",
        headers=admin,
        data="name=x",
        content_type="application/x-www-form-urlencoded",
    )
    _is_problem(answer, 415)


def test_body_over_the_limit_is_413(client, admin):
    answer = client.post(
        "/api/v1/clinics", headers=admin, json={**CLINIC, "name": "x" * (70 * 1024)}
    )
    _is_problem(answer, 413)


def test_unknown_path_is_404(client):
    _is_problem(client.get("/api/v1/no-such-thing"), 404)


def test_wrong_method_is_405_with_allow(client):
    answer = client.delete("/healthz")
    _is_problem(answer, 405)
    assert "GET" in answer.headers["Allow"]


def test_validation_errors_are_422_per_field_without_values(client, admin):
    secret_looking = "850315301235"
    answer = client.post(
        "/api/v1/clinics",
        headers=admin,
        json={"name": "", "region_code": secret_looking, "centre_type": 7},
    )
    body = _is_problem(answer, 422)
    assert set(body["errors"]) == {"name", "region_code", "centre_type"}
    assert secret_looking not in answer.get_data(as_text=True)


def test_unknown_fields_are_422(client, admin):
    body = _is_problem(
        client.post("/api/v1/clinics", headers=admin, json={**CLINIC, "iin": "850315301235"}), 422
    )
    assert "iin" in body["errors"]


def test_a_json_array_body_is_422(client, admin):
    _is_problem(client.post("/api/v1/clinics", headers=admin, json=[CLINIC]), 422)


def test_bad_query_parameter_is_422(client, admin):
    body = _is_problem(client.get("/api/v1/audit/entries?limit=abc", headers=admin), 422)
    assert "limit" in body["errors"]


def test_domain_conflict_is_409(app, session):
    from registry.auth.users import create_user
    from registry.errors import Conflict

    create_user("same-name", ["analyst"])
    with pytest.raises(Conflict):
        create_user("same-name", ["analyst"])


def test_500_never_echoes_the_exception(database_url, keyring, tmp_path):
    app = make_test_app(database_url, keyring, str(tmp_path), TESTING=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail 850315301235")

    answer = app.test_client().get("/boom")
    body = _is_problem(answer, 500)
    text = answer.get_data(as_text=True)
    assert "secret detail" not in text and "850315301235" not in text
    assert body["request_id"] == answer.headers["X-Request-ID"]
    assert answer.headers.getlist("Cache-Control") == ["no-store"]


def test_testing_app_lets_unexpected_errors_propagate(database_url, keyring, tmp_path):
    app = make_test_app(database_url, keyring, str(tmp_path))

    @app.get("/boom")
    def boom():
        raise RuntimeError("loud")

    with pytest.raises(RuntimeError):
        app.test_client().get("/boom")


def test_schema_and_domain_validation_share_one_problem_type(client, admin):
    from_schema = client.post("/api/v1/clinics", headers=admin, json={**CLINIC, "name": ""}).json
    from_service = client.post(
        "/api/v1/clinics", headers=admin, json={**CLINIC, "region_code": "999999999"}
    ).json
    assert from_schema["type"] == from_service["type"] == "/problems/validation-failed"
    assert list(from_schema)[:3] == ["type", "title", "status"]


def test_json_nested_too_deeply_is_400_not_500(client, admin):
    answer = client.post(
        "/api/v1/clinics", headers=admin, data="[" * 30000, content_type="application/json"
    )
    _is_problem(answer, 400)
