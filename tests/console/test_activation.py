"""Enrolment links: a one-time code sets the first password; the CLI and the demo give them."""

from datetime import timedelta

from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from registry.auth import credentials, totp
from registry.auth.models import UserCredential
from registry.auth.users import create_user
from tests.console.conftest import PASSWORD, csrf


def _link(session, *roles, clinic=None):
    user = create_user(f"new-{len(roles)}-{clock.now().timestamp()}", list(roles), clinic)
    code = credentials.issue_activation(user, 72)
    return user, code


class RecordingBrowser:
    """Wrap a test client and keep every URL it asked for, as an access log would."""

    def __init__(self, client):
        self.client, self.urls = client, []

    def get(self, url, **kwargs):
        self.urls.append(url)
        return self.client.get(url, **kwargs)

    def post(self, url, **kwargs):
        self.urls.append(url)
        answer = self.client.post(url, **kwargs)
        if answer.location:
            self.urls.append(answer.location)
        return answer


def _typed(browser, code: str):
    """Open the enrolment page and type the code into its first form; return the password form."""
    page = browser.get("/console/activate?lang=en")
    assert page.status_code == 200
    return browser.post("/console/activate", data={"csrf_token": csrf(page), "code": code})


def test_an_enrolment_code_is_typed_on_the_page_never_put_in_a_url(client, session, make_clinic):
    user, code = _link(session, "clinician", clinic=make_clinic().id)
    browser = RecordingBrowser(client)
    form = _typed(browser, code)
    assert form.status_code == 200 and user.name in form.get_data(as_text=True)
    data = {"csrf_token": csrf(form), "code": code, "password": PASSWORD}
    done = browser.post("/console/activate", data={**data, "password_again": PASSWORD})
    assert done.status_code == 302
    assert not [url for url in browser.urls if code in url]
    for page in (form, done):
        assert f"code={code}" not in page.get_data(as_text=True)
    # A code put in the query string by an old link opens nothing: the page asks for it.
    _user, other = _link(session, "analyst")
    old_style = client.get(f"/console/activate?code={other}&lang=en")
    assert "Enrolment code" in old_style.get_data(as_text=True)
    assert _user.name not in old_style.get_data(as_text=True)


def test_an_enrolment_link_sets_the_first_password_once(client, session, make_clinic):
    user, code = _link(session, "clinician", clinic=make_clinic().id)
    page = _typed(client, code)
    assert page.status_code == 200 and user.name in page.get_data(as_text=True)
    data = {"csrf_token": csrf(page), "code": code, "password": PASSWORD}
    differs = client.post("/console/activate", data={**data, "password_again": "something else"})
    assert differs.status_code == 422
    short = client.post(
        "/console/activate", data={**data, "password": "short", "password_again": "short"}
    )
    assert short.status_code == 422
    assert "at least 12 characters" in short.get_data(as_text=True)
    done = client.post("/console/activate", data={**data, "password_again": PASSWORD})
    assert done.status_code == 302 and done.location.startswith("/console/")
    assert client.get("/console/").status_code == 200  # signed in
    row = session.get(UserCredential, user.id)
    assert row.password_hash.startswith("$argon2id$") and row.activation_hash is None
    assert _typed(client, code).status_code == 404  # spent
    empty = _typed(client, "")
    assert empty.status_code == 422 and "one-time code" in empty.get_data(as_text=True)
    refused = (
        session.execute(select(AuditEntry.outcome).where(AuditEntry.action == "user.activate"))
        .scalars()
        .all()
    )
    assert refused == ["refused:404"]


def test_the_activation_form_checks_its_csrf_token(client, session, make_clinic):
    _user, code = _link(session, "clinician", clinic=make_clinic().id)
    client.get("/console/activate")
    answer = client.post(
        "/console/activate",
        data={"code": code, "password": PASSWORD, "password_again": PASSWORD},
    )
    assert answer.status_code == 400
    for step in ("/console/sign-in/code", "/console/sign-in/enrol"):
        assert client.post(step, data={"code": "123456"}).status_code == 400


def test_an_expired_link_opens_nothing(client, session):
    _user, code = _link(session, "analyst")
    clock.freeze(clock.now() + timedelta(hours=73))
    try:
        assert _typed(client, code).status_code == 404
    finally:
        clock.freeze(None)


def test_a_custodian_enrols_a_second_factor_right_after_the_first_password(client, session):
    user, code = _link(session, "key_custodian")
    page = _typed(client, code)
    done = client.post(
        "/console/activate",
        data={
            "csrf_token": csrf(page),
            "code": code,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert done.location.startswith("/console/sign-in/enrol")
    page = client.get(done.location)
    secret = credentials.enrolment_secret(user.id)
    answer = client.post(
        done.location, data={"csrf_token": csrf(page), "code": totp.code_for(secret, clock.now())}
    )
    assert answer.status_code == 302 and client.get("/console/").status_code == 200
