"""The OpenAPI document is valid and documents every route with its security."""

import pytest
from openapi_spec_validator import validate

# Routes that serve the documentation itself rather than the API.
UNDOCUMENTED = {
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/docs/static/<path:name>",
    "/api/v1/docs/local/<path:name>",
    "/static/<path:filename>",
}


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/v1/openapi.json").json


def _openapi_path(rule: str) -> str:
    for converter in ("int:", "string:", "path:", "uuid:"):
        rule = rule.replace("<" + converter, "<")
    return rule.replace("<", "{").replace(">", "}")


def _routes(app):
    for rule in app.url_map.iter_rules():
        # The public pages and the staff console are HTML for people, not API operations
        # (tests/access and tests/console cover them; the policy matrix covers their access).
        if rule.rule in UNDOCUMENTED or rule.endpoint.startswith(("site.", "console.")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method.lower()


def test_spec_is_valid_openapi_3(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_route_is_documented_with_responses_and_security(app, spec):
    for rule, method in _routes(app):
        operation = spec["paths"].get(_openapi_path(rule.rule), {}).get(method)
        assert operation is not None, f"{method.upper()} {rule.rule} is not documented"
        assert "security" in operation, f"{method.upper()} {rule.rule} has no security"
        assert any(code.startswith("2") for code in operation["responses"])
        assert any(code.startswith(("4", "5")) for code in operation["responses"])
        if operation["security"]:
            assert {"401", "403"} <= set(operation["responses"]), rule.rule


def test_every_view_declares_its_access_policy(app):
    for rule, _ in _routes(app):
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "policy", None), f"{rule.rule} has no access policy"


def test_errors_are_documented_as_problem_json(spec):
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    assert "application/problem+json" in unauthorized["content"]


def test_request_bodies_reference_schemas(spec):
    post = spec["paths"]["/api/v1/clinics"]["post"]
    assert "requestBody" in post
    assert "422" in post["responses"]


def test_docs_page_serves_swagger_ui(app):
    answer = app.test_client().get("/api/v1/docs")
    assert answer.status_code == 200
    assert b"swagger-ui-bundle.js" in answer.data
