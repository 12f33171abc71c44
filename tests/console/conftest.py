"""Staff with console passwords (and TOTP), and a browser-like sign-in through the test client."""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from registry import clock
from registry.auth import credentials, totp
from registry.auth.models import CLINIC_ROLES
from registry.auth.users import create_user

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class EnglishBrowser(FlaskClient):
    """A test client whose browser asks for English pages, as the assertions read them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(autouse=True)
def english_pages(app, monkeypatch):
    """Make every test client of the console tests an English-reading browser."""
    monkeypatch.setattr(app, "test_client_class", EnglishBrowser)


@pytest.fixture()
def client(app, session, english_pages):
    """Return the suite's rolled-back client, reading English pages."""
    return app.test_client()


@dataclass
class Staff:
    """A console user as a test drives one."""

    id: int
    name: str
    clinic_id: int | None
    secret: str | None  # the TOTP secret, when a second factor is set up


def make_staff_user(session, roles, clinic_id=None, *, second_factor=False) -> Staff:
    """Create a user with a console password and, if asked, a confirmed TOTP secret."""
    user = create_user(f"staff-{uuid.uuid4().hex[:8]}", list(roles), clinic_id)
    credentials.set_password(user, PASSWORD)
    secret = None
    if second_factor:
        secret = credentials.enrolment_secret(user.id)
        row = credentials.credential_of(user.id)
        row.totp_confirmed_at = clock.now()
        session.flush()
    return Staff(user.id, user.name, clinic_id, secret)


@pytest.fixture()
def staff(session, make_clinic) -> Callable[..., Staff]:
    """Return a factory of console users; clinic roles get a clinic unless one is given."""

    def factory(*roles, clinic=None, second_factor=False) -> Staff:
        if clinic is None and CLINIC_ROLES & set(roles):
            clinic = make_clinic()
        return make_staff_user(
            session, roles, clinic.id if clinic else None, second_factor=second_factor
        )

    return factory


def csrf(answer) -> str:
    """Return the CSRF token of a page's forms."""
    found = _CSRF.search(answer.get_data(as_text=True))
    assert found, answer.get_data(as_text=True)[:500]
    return found.group(1)


def sign_in(client, who: Staff, password: str = PASSWORD, code: str | None = None):
    """Sign in as a browser would: the form, the password, then the code if one is asked."""
    page = client.get("/console/sign-in?lang=en")
    answer = client.post(
        "/console/sign-in",
        data={"csrf_token": csrf(page), "name": who.name, "password": password, "lang": "en"},
    )
    if answer.status_code == 302 and "/console/sign-in/code" in answer.location:
        page = client.get(answer.location)
        code = code or totp.code_for(who.secret, clock.now())
        answer = client.post("/console/sign-in/code", data={"csrf_token": csrf(page), "code": code})
    return answer


def signed_in(client, who: Staff):
    """Sign in and return the home page's CSRF token for the forms that follow."""
    answer = sign_in(client, who)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.location.startswith("/console/"), answer.location
    return csrf(client.get("/console/?lang=en"))
