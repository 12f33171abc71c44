"""Bearer tokens: accepted, refused alike when bad, revoked at once, stored only as hashes."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from registry import clock
from registry.auth.models import ApiToken
from registry.auth.tokens import revoke_token
from tests.conftest import bearer


def test_valid_token_is_accepted(client, make_user):
    user, token = make_user("analyst")
    answer = client.get("/api/v1/me", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.json["id"] == user.id
    assert answer.json["roles"] == ["analyst"]


def _refusal(client, headers):
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    body = dict(answer.json)
    body.pop("request_id")
    return body


def test_every_bad_credential_gets_the_same_answer(client, make_user, session):
    _, revoked = make_user("analyst")
    _, expired = make_user("analyst")
    _, disabled = make_user("analyst")
    rows = session.execute(select(ApiToken).order_by(ApiToken.id.desc()).limit(3)).scalars().all()
    disabled_row, expired_row, revoked_row = rows
    revoke_token(revoked_row.id)
    expired_row.expires_at = clock.now() - timedelta(seconds=1)
    disabled_row.user.disabled_at = clock.now()
    session.flush()
    cases = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        bearer("rgt_" + "A" * 43),
        bearer("not-even-our-format"),
        bearer(revoked),
        bearer(expired),
        bearer(disabled),
    ]
    bodies = [_refusal(client, headers) for headers in cases]
    assert all(body == bodies[0] for body in bodies)


def test_revocation_takes_effect_on_the_next_request(client, make_user, session):
    _, token = make_user("admin")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    row = session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().first()
    revoke_token(row.id)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_token_expires_at_its_time(client, make_user):
    _, token = make_user("analyst", ttl_days=1)
    try:
        clock.freeze(clock.now() + timedelta(days=1, seconds=1))
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    finally:
        clock.freeze(None)


def test_only_a_hash_of_the_token_is_stored(client, make_user, session):
    _, token = make_user("analyst")
    dump = "\n".join(str(row) for row in session.execute(text("SELECT * FROM api_tokens")))
    assert token not in dump
    assert token.encode().hex() not in dump


def test_tokens_carry_256_random_bits(make_user):
    tokens = {make_user("analyst")[1] for _ in range(5)}
    assert len(tokens) == 5
    # "rgt_" + url-safe base64 of 32 bytes (43 characters).
    assert all(len(t) == 4 + 43 for t in tokens)


@pytest.mark.parametrize("roles", [("clinician",), ("analyst",), ("key_custodian",)])
def test_wrong_role_gets_403(client, make_user, roles):
    _, token = make_user(*roles)
    answer = client.get("/api/v1/audit/entries", headers=bearer(token))
    assert answer.status_code == 403
    assert answer.mimetype == "application/problem+json"


def test_failed_authentications_are_rate_limited(app, database_url, keyring, tmp_path):
    from tests.conftest import make_test_app

    limited = make_test_app(
        database_url,
        keyring,
        str(tmp_path),
        RATELIMIT_ENABLED=True,
        AUTH_FAILURE_LIMIT="3 per minute",
    )
    client = limited.test_client()
    codes = [client.get("/api/v1/me", headers=bearer("rgt_x")).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]
    answer = client.get("/api/v1/me")
    assert answer.mimetype == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
