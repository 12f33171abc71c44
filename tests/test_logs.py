"""Logs are JSON lines with the request id, and never carry a body, token or identifier."""

import io
import json
import logging

from tests.conftest import bearer, make_test_app


def test_error_log_is_json_with_request_id_and_no_secrets(database_url, keyring, tmp_path):
    app = make_test_app(database_url, keyring, str(tmp_path), TESTING=False)

    @app.post("/api/v1/explode")
    def explode():
        raise RuntimeError("internal failure")

    stream = io.StringIO()
    for handler in logging.getLogger("registry").handlers:
        handler.setStream(stream)
    token = "rgt_" + "S" * 43
    answer = app.test_client().post(
        "/api/v1/explode", headers=bearer(token), json={"identity": {"iin": "850315301235"}}
    )
    assert answer.status_code == 500
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the failure was not logged"
    assert all(line["request_id"] == answer.headers["X-Request-ID"] for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    text = stream.getvalue()
    assert token not in text and "850315301235" not in text
    # Only the exception's type and frames are logged; its message could quote input.
    assert "RuntimeError" in text and "internal failure" not in text
