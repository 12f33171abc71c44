"""Security headers and request ids on every answer."""

from tests.conftest import bearer


def test_api_answers_carry_security_headers(client, make_user):
    answer = client.get("/api/v1/me", headers=bearer(make_user("analyst")[1]))
    headers = answer.headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Permissions-Policy" not in headers  # a JSON answer is no document
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_errors_carry_the_headers_too(client):
    answer = client.get("/api/v1/me")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_docs_page_has_no_inline_script_and_no_third_party(client):
    answer = client.get("/api/v1/docs")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<script>" not in html
    assert "http://" not in html and "https://" not in html
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert client.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200


def test_request_id_is_echoed_when_well_formed(client):
    answer = client.get("/healthz", headers={"X-Request-ID": "abc12345-proxy"})
    assert answer.headers["X-Request-ID"] == "abc12345-proxy"


def test_request_id_is_replaced_when_malformed(client):
    answer = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert answer.headers["X-Request-ID"] != "<script>"
    assert len(answer.headers["X-Request-ID"]) == 32


def test_only_static_assets_may_be_cached(client):
    page = client.get("/")
    assert page.headers.getlist("Cache-Control") == ["no-store"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in page.headers["Permissions-Policy"]
    asset = client.get("/static/site/site.css")
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("Cache-Control", "")
    assert len(asset.headers.getlist("X-Request-ID")) == 1
