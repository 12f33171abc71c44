"""Console sign-in: password, second factor, sessions that end on the server, CSRF, audit."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from registry.auth import credentials, passwords, totp
from registry.auth.models import User, UserCredential
from registry.console.models import ConsoleSession
from registry.console.sessions import COOKIE, HOST_COOKIE
from tests.conftest import bearer
from tests.console.conftest import PASSWORD, csrf, sign_in, signed_in


def _sign_ins(session, user_id=None) -> list[tuple]:
    rows = session.execute(
        select(AuditEntry.object_id, AuditEntry.outcome)
        .where(AuditEntry.action == "console.sign_in")
        .order_by(AuditEntry.idx)
    ).all()
    return [tuple(row) for row in rows if user_id is None or row[0] == str(user_id)]


def _cookie(client, name=COOKIE):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_a_clinician_signs_in_with_a_password_and_sees_their_tasks(client, staff, session):
    who = staff("clinician")
    before = client.get("/console/sign-in")
    anonymous_id = _cookie(client)
    answer = sign_in(client, who)
    assert answer.status_code == 302 and answer.location.startswith("/console/")
    assert _cookie(client) != anonymous_id  # a new session id at sign-in: no fixation
    home = client.get("/console/?lang=en").get_data(as_text=True)
    assert "Register a patient" in home and who.name in home
    assert _sign_ins(session, who.id) == [(str(who.id), "ok")]
    assert before.status_code == 200


def test_the_session_cookie_is_http_only_secure_strict_and_ends_with_the_browser(client, staff):
    who = staff("analyst")
    answer = sign_in(client, who)
    header = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith(COOKIE))
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in header
    assert "Expires" not in header and "Max-Age" not in header


def test_over_https_the_cookie_takes_the_host_prefix(app, session, staff):
    client = app.test_client()
    page = client.get("/console/sign-in", base_url="https://localhost")
    assert client.get_cookie(HOST_COOKIE, domain="localhost") is not None
    who = staff("analyst")
    answer = client.post(
        "/console/sign-in",
        base_url="https://localhost",
        data={"csrf_token": csrf(page), "name": who.name, "password": PASSWORD},
    )
    assert answer.status_code == 302  # Flask-WTF's referrer check is off: no Referer is sent
    assert client.get("/console/", base_url="https://localhost").status_code == 200


def test_a_wrong_password_or_unknown_name_is_refused_alike_and_audited(client, staff, session):
    who = staff("clinician")
    wrong = sign_in(client, who, password="not the password at all")
    unknown = client.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf(client.get("/console/sign-in")),
            "name": "nobody",
            "password": "x",
        },
    )
    for answer in (wrong, unknown):
        assert answer.status_code == 200
        assert "The user name or the password is not right." in answer.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # still signed out
    assert _sign_ins(session)[-2:] == [
        (str(who.id), "refused:password"),
        (None, "refused:password"),
    ]
    assert "not the password" not in str(session.execute(select(AuditEntry)).all())


def test_roles_that_need_a_second_factor_enrol_before_they_get_in(client, staff, session):
    who = staff("protocol_admin")
    answer = sign_in(client, who)
    assert answer.location.startswith("/console/sign-in/enrol")
    assert client.get("/console/").status_code == 302  # not in yet
    page = client.get(answer.location)
    text = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in text  # the QR code travels inside the page
    secret = credentials.enrolment_secret(who.id)
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in text
    stored = session.get(UserCredential, who.id).totp_secret
    assert secret.encode() not in stored  # sealed, never in clear
    refused = client.post(answer.location, data={"csrf_token": csrf(page), "code": "123456"})
    assert "This code is not right." in refused.get_data(as_text=True)
    code = totp.code_for(secret, clock.now())
    done = client.post(answer.location, data={"csrf_token": csrf(page), "code": code})
    assert done.status_code == 302 and done.location.startswith("/console/")
    assert client.get("/console/").status_code == 200
    assert credentials.has_second_factor(who.id)


def test_a_second_factor_is_asked_once_set_up_and_a_code_works_once(app, client, staff, session):
    who = staff("key_custodian", second_factor=True)
    assert sign_in(client, who, code="000000").status_code == 200  # wrong code: asked again
    assert client.get("/console/").status_code == 302
    assert _sign_ins(session, who.id)[-1] == (str(who.id), "refused:code")
    code = totp.code_for(who.secret, clock.now())
    assert sign_in(client, who, code=code).status_code == 302
    assert client.get("/console/").status_code == 200
    replayed = sign_in(app.test_client(), who, code=code)  # the same code again: refused
    assert replayed.status_code == 200
    assert "This code is not right." in replayed.get_data(as_text=True)


def test_a_sealed_totp_secret_opens_only_for_its_user(app, session, staff):
    who = staff("admin", second_factor=True)
    blob = session.get(UserCredential, who.id).totp_secret
    assert totp.unseal(who.id, blob) == who.secret
    with pytest.raises(Exception, match="authentication"):
        totp.unseal(who.id + 1, blob)


def test_an_optional_second_factor_can_be_added(client, staff):
    who = staff("analyst")
    token = signed_in(client, who)
    page = client.get("/console/account/second-factor")
    assert page.status_code == 200
    secret = credentials.enrolment_secret(who.id)
    done = client.post(
        "/console/account/second-factor",
        data={"csrf_token": token, "code": totp.code_for(secret, clock.now())},
    )
    assert "Your second factor is set up" in done.get_data(as_text=True)
    assert credentials.has_second_factor(who.id)


def test_an_idle_session_ends_on_the_server(app, client, staff, session):
    who = staff("clinician")
    signed_in(client, who)
    idle = timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"])
    clock.freeze(clock.now() + idle - timedelta(minutes=1))
    try:
        assert client.get("/console/").status_code == 200  # in use: not idle
        clock.freeze(clock.now() + idle + timedelta(seconds=1))
        answer = client.get("/console/patients")
        assert answer.status_code == 302
        assert answer.location.startswith("/console/sign-in?lang=en&next=/console/patients")
        page = client.get(answer.location).get_data(as_text=True)
    finally:
        clock.freeze(None)
    assert "Your session ended because it was not used for a while." in page
    rows = session.execute(select(ConsoleSession.user_id)).scalars().all()
    assert who.id not in rows  # the timed-out session is gone from the server


def test_sign_out_forgets_the_session_on_the_server(app, client, staff, session):
    who = staff("clinician")
    token = signed_in(client, who)
    stolen = _cookie(client)
    answer = client.post("/console/sign-out", data={"csrf_token": token})
    assert answer.status_code == 302 and "signed_out=1" in answer.location
    assert _cookie(client) is None
    assert (
        session.execute(select(ConsoleSession).where(ConsoleSession.user_id == who.id)).first()
        is None
    )
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    assert replay.get("/console/").status_code == 302  # the old id opens nothing


def test_a_disabled_user_is_out_at_the_next_page(client, staff, session):
    who = staff("clinician")
    signed_in(client, who)
    session.get(User, who.id).disabled_at = clock.now()
    session.flush()
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize(
    "path, role",
    [
        ("/console/sign-in", None),
        ("/console/sign-out", "clinician"),
        ("/console/patients/new", "clinician"),
        ("/console/patients/resolve", "clinician"),
        ("/console/account/second-factor", "clinician"),
        ("/console/account/password", "analyst"),
        ("/console/patients/P-0/episodes/new", "clinician"),
        ("/console/episodes/0/events", "clinician"),
        ("/console/episodes/0/discharge", "clinician"),
        ("/console/clinic/services/0/slots", "clinic_admin"),
        ("/console/clinic/slots/0/cancel", "clinic_admin"),
        ("/console/clinic/bookings/check-in", "clinician"),
        ("/console/clinic/tokens/0/revoke", "clinic_admin"),
        ("/console/reidentifications/0/approve", "key_custodian"),
        ("/console/reidentifications/0/deny", "key_custodian"),
    ],
)
def test_a_form_without_this_sessions_token_is_refused(app, client, staff, path, role):
    if role:
        signed_in(client, staff(role, second_factor=role == "key_custodian"))
    else:
        client.get("/console/sign-in")
    another_sessions = csrf(app.test_client().get("/console/sign-in"))
    for token in (None, "forged", another_sessions):
        data = {"mode": "anonymous", "name": "x", "password": "y", "code": "1"}
        if token:
            data["csrf_token"] = token
        answer = client.post(path, data=data)
        assert answer.status_code == 400, (path, token)
        assert "This form has expired." in answer.get_data(as_text=True)


def test_every_console_form_is_in_the_csrf_test(app):
    posted = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/console") and "POST" in rule.methods
    }
    tested = {"/console/sign-in", "/console/sign-out", "/console/patients/new"}
    tested |= {"/console/patients/resolve", "/console/account/second-factor"}
    tested |= {"/console/account/password", "/console/patients/<pseudonym>/episodes/new"}
    tested |= {"/console/episodes/<ref>/events", "/console/episodes/<ref>/discharge"}
    tested |= {"/console/clinic/services/<int:service_id>/slots"}
    tested |= {"/console/clinic/slots/<int:slot_id>/cancel", "/console/clinic/bookings/check-in"}
    tested |= {"/console/clinic/tokens/<int:token_id>/revoke"}
    tested |= {"/console/reidentifications/<int:request_id>/approve"}
    tested |= {"/console/reidentifications/<int:request_id>/deny"}
    # The other sign-in steps check the token first too (tests/console/test_activation.py).
    assert posted - tested == {
        "/console/sign-in/code",
        "/console/sign-in/enrol",
        "/console/activate",
    }


def test_a_console_session_is_no_api_credential(client, staff):
    signed_in(client, staff("clinician"))
    assert client.get("/api/v1/me").status_code == 401  # the API still wants its bearer token
    assert client.get("/api/v1/me", headers=bearer("rgt_nothing")).status_code == 401


def test_passwords_are_argon2id_with_the_configured_cost(app):
    from tests.conftest import make_test_app

    assert app.config["PASSWORD_HASH_MEMORY_KIB"] == 64  # the suite's cheap hashes
    real_cost = {
        "PASSWORD_HASH_TIME_COST": 3,
        "PASSWORD_HASH_MEMORY_KIB": 65536,
        "PASSWORD_HASH_PARALLELISM": 4,
    }
    with make_test_app("sqlite://", None, app.instance_path, **real_cost).app_context():
        stored = passwords.hash_password(PASSWORD)
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert passwords.password_matches(stored, PASSWORD)
        assert not passwords.password_matches(stored, PASSWORD + "!")
        assert not passwords.password_matches(None, PASSWORD)


def test_an_old_hash_is_redone_at_sign_in(client, staff, session):
    from argon2 import PasswordHasher

    who = staff("analyst")
    row = session.get(UserCredential, who.id)
    row.password_hash = PasswordHasher(time_cost=2, memory_cost=64, parallelism=1).hash(PASSWORD)
    session.flush()
    assert sign_in(client, who).status_code == 302
    session.expire_all()
    redone = session.get(UserCredential, who.id).password_hash
    assert redone.startswith("$argon2id$v=19$m=64,t=1,p=1$")  # today's (test) cost


def test_the_scheduled_job_deletes_expired_sessions(app, client, staff, session):
    from registry.console.sessions import expire_sessions
    from registry.jobs import scheduled_jobs

    assert "console-sessions" in [job.name for job in scheduled_jobs(app)]
    who = staff("clinician")
    signed_in(client, who)
    live = select(ConsoleSession.id).where(ConsoleSession.user_id == who.id)
    assert expire_sessions(app) and session.execute(live).first() is not None
    clock.freeze(clock.now() + timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"] + 1))
    try:
        assert expire_sessions(app).endswith("expired")
    finally:
        clock.freeze(None)
    assert session.execute(live).first() is None
