"""Abuse without identity: a scripted client is slowed by limits and capped, with 429s."""

from registry.access import pow
from tests.access.conftest import seed_slots


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _book(client, slot_id):
    challenge = client.get("/api/v1/public/challenge")
    if challenge.status_code != 200:
        return challenge
    payload = pow.solve(challenge.json)
    return client.post("/api/v1/public/bookings", json={"slot_id": slot_id, "altcha": payload})


def _is_429(answer):
    assert answer.status_code == 429, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0


def test_a_scripted_client_is_capped_per_key(limited_app):
    slots = seed_slots(limited_app, 4, capacity=10)
    bot = _client(limited_app, "203.0.113.7")
    assert [_book(bot, slot).status_code for slot in slots[:2]] == [201, 201]
    capped = _book(bot, slots[2])
    _is_429(capped)
    assert "active bookings" in capped.json["detail"]
    # Another person is not affected by the bot's cap.
    assert _book(_client(limited_app, "198.51.100.1"), slots[2]).status_code == 201


def test_cancelling_frees_a_place_under_the_cap(limited_app):
    slots = seed_slots(limited_app, 3, capacity=10)
    person = _client(limited_app, "203.0.113.8")
    first = _book(person, slots[0]).json["code"]
    assert _book(person, slots[1]).status_code == 201
    _is_429(_book(person, slots[2]))
    assert person.post("/api/v1/public/bookings/cancel", json={"code": first}).status_code == 200
    assert _book(person, slots[2]).status_code == 201


def test_a_scripted_client_is_slowed_by_rate_limits(limited_app):
    bot = _client(limited_app, "203.0.113.9")
    answers = [bot.get("/api/v1/public/challenge") for _ in range(8)]
    assert [a.status_code for a in answers[:6]] == [200] * 6
    for answer in answers[6:]:
        _is_429(answer)
    assert _client(limited_app, "198.51.100.2").get("/api/v1/public/challenge").status_code == 200


def test_booking_attempts_are_rate_limited_even_when_refused(limited_app):
    bot = _client(limited_app, "203.0.113.10")
    codes = [
        bot.post("/api/v1/public/bookings", json={"slot_id": 1, "altcha": "x"}).status_code
        for _ in range(6)
    ]
    assert codes[:4] == [422] * 4
    assert codes[4:] == [429, 429]


def test_rate_limit_keys_hold_no_address(limited_app):
    from flask import request

    from registry.api.ratelimit import client_key

    with limited_app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.11"}):
        key = client_key()
        assert request.remote_addr not in key and len(key) == 32


def test_proxy_header_counts_only_when_proxies_are_trusted(database_url, keyring, tmp_path):
    from registry.api.ratelimit import client_key
    from tests.conftest import make_test_app

    def prober(app):
        @app.get("/_key_probe")
        def probe():
            return client_key()

        client = app.test_client()
        return lambda forwarded: client.get(
            "/_key_probe", headers={"X-Forwarded-For": forwarded}
        ).get_data(as_text=True)

    direct = prober(make_test_app(database_url, keyring, str(tmp_path / "a")))
    proxied = prober(make_test_app(database_url, keyring, str(tmp_path / "b"), TRUSTED_PROXIES=1))
    assert direct("198.51.100.1") == direct("198.51.100.2")
    assert proxied("198.51.100.1") != proxied("198.51.100.2")


def test_limit_headers_come_only_with_limited_views(limited_app):
    client = _client(limited_app, "203.0.113.12")
    limited = client.get("/api/v1/public/challenge")
    assert limited.status_code == 200
    assert int(limited.headers["X-RateLimit-Limit"]) == 6
    assert int(limited.headers["X-RateLimit-Remaining"]) == 5
    unlimited = client.get("/healthz")
    assert unlimited.status_code == 200
    assert "X-RateLimit-Limit" not in unlimited.headers


def test_an_application_wide_limit_still_counts_on_limited_views(database_url, keyring, tmp_path):
    # Before a limited view only application-wide and meta limits are checked, and the hook
    # is skipped without them: configured, they must still apply.
    from registry.extensions import limiter
    from tests.conftest import make_test_app, migrate_database

    app = make_test_app(
        database_url,
        keyring,
        str(tmp_path / "instance"),
        RATELIMIT_ENABLED=True,
        RATELIMIT_APPLICATION="3 per minute",
        CHALLENGE_LIMIT="100 per minute",
    )
    migrate_database(app)
    try:
        bot = _client(app, "203.0.113.13")
        answers = [bot.get("/api/v1/public/challenge") for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200] * 3
        _is_429(answers[3])
    finally:
        limiter.reset()
        limiter.limit_manager.set_application_limits([])
        limiter.enabled = False


def test_retry_after_comes_only_with_429_and_503(limited_app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import registry.api.public.routes as public_routes

    client = _client(limited_app, "203.0.113.13")
    served = client.get("/api/v1/public/challenge")
    assert served.status_code == 200
    assert "Retry-After" not in served.headers  # nothing to retry
    assert int(served.headers["X-RateLimit-Remaining"]) == 5  # the limit still shows
    refused = client.post("/api/v1/public/bookings", json={"slot_id": 1, "altcha": "x"})
    assert refused.status_code == 422 and "Retry-After" not in refused.headers
    page = client.get("/?lang=en")
    assert page.status_code == 200 and "Retry-After" not in page.headers

    def database_down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(public_routes, "issue_challenge", database_down)
    unavailable = client.get("/api/v1/public/challenge")
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "5"  # as documented, not the limit's window
    monkeypatch.undo()
    answers = [client.get("/api/v1/public/challenge") for _ in range(6)]
    assert answers[-1].status_code == 429
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60  # when the minute's window ends
