"""Every console page × every role × (own clinic, other clinic, signed out, timed out), by the
one access table of registry/api/policy.py: signed out means a redirect to sign-in, not 401."""

from datetime import timedelta
from functools import cached_property

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from registry import clock
from registry.api.policy import CONSOLE_PREFIX, POLICY
from registry.auth.models import CLINIC_ROLES, Role, User
from registry.patients.services import register_anonymous
from tests.console.conftest import csrf, make_staff_user, sign_in

ROLES = list(Role)


def _console_keys(public: bool) -> list[str]:
    return sorted(
        key
        for key, access in POLICY.items()
        if key.split(" ", 1)[1].startswith(CONSOLE_PREFIX) and access.public == public
    )


class World:
    """Clinic A's patient, and a browser (its own cookies) for each caller."""

    def __init__(self, app, session, make_clinic):
        self.app, self.session = app, session
        self.clinic, self.other_clinic = make_clinic(), make_clinic()

    @cached_property
    def patient(self):
        return register_anonymous(self.clinic.id)

    @cached_property
    def episode(self) -> str:
        """Return the ref of an open episode of clinic A's patient."""
        from registry.episodes.examples import ADMISSION_EXAMPLE
        from registry.episodes.services import open_episode
        from registry.protocols.lifecycle import install_shipped_protocols

        install_shipped_protocols()
        body = {
            "pseudonym": self.patient.pseudonym,
            "protocol": "methadone_oat",
            "diagnosis": "F11.2",
            "admitted_on": clock.now().date() - timedelta(days=1),
            "admission": ADMISSION_EXAMPLE,
        }
        return open_episode(self.clinic.id, None, body).ref

    @cached_property
    def service(self):
        from registry.access.directory import create_service

        return create_service(
            self.clinic.id,
            name="Matrix service",
            care_type="oat",
            languages=["ru"],
            address="Main st",
        )

    @cached_property
    def slot(self):
        from registry.access.slots import create_slot

        return create_slot(self.service, clock.now() + timedelta(days=2), 30, 2)[0]

    @cached_property
    def token(self) -> int:
        from registry.auth.tokens import issue_token

        who = make_staff_user(self.session, [Role.CLINICIAN], self.clinic.id)
        return issue_token(self.session.get(User, who.id), 30)[0].id

    @cached_property
    def request_id(self) -> int:
        from registry.patients.models import Pseudonym, ReidentificationRequest

        requester = make_staff_user(self.session, [Role.KEY_CUSTODIAN])
        person_id = self.session.execute(
            select(Pseudonym.person_id).where(Pseudonym.value == self.patient.pseudonym)
        ).scalar_one()
        row = ReidentificationRequest(
            person_id=person_id,
            requester_id=requester.id,
            purpose="court_proceedings",
            legal_basis="court_decision",
            expires_at=clock.now() + timedelta(days=3),
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def browser(self, role: str | None, case: str) -> tuple[FlaskClient, str]:
        """Return a client signed in as the case asks, and its CSRF token."""
        client = self.app.test_client()
        if role is None:
            return client, csrf(client.get("/console/sign-in"))
        clinic = self.other_clinic if case == "other" else self.clinic
        who = make_staff_user(
            self.session,
            [role],
            clinic.id if role in CLINIC_ROLES else None,
            second_factor=role in (Role.KEY_CUSTODIAN, Role.ADMIN, Role.PROTOCOL_ADMIN),
        )
        assert sign_in(client, who).status_code == 302
        return client, csrf(client.get("/console/"))

    def url(self, key: str) -> str:
        path = key.split(" ", 1)[1]
        path = path.replace("<pseudonym>", self.patient.pseudonym)
        ids = {
            "service_id": lambda: self.service.id,
            "slot_id": lambda: self.slot.id,
            "token_id": lambda: self.token,
            "request_id": lambda: self.request_id,
        }
        for name, value in ids.items():
            if f"<int:{name}>" in path:
                path = path.replace(f"<int:{name}>", str(value()))
        return path.replace("<ref>", self.episode) if "<ref>" in path else path

    def body(self, key: str, token: str) -> dict:
        bodies = {
            "POST /console/patients/new": {"mode": "anonymous"},
            "POST /console/patients/resolve": {"care_card": self.patient.care_card},
            "POST /console/account/second-factor": {"code": "000000"},
            "POST /console/account/password": {"current_password": "wrong"},
            "POST /console/patients/<pseudonym>/episodes/new": {"protocol": "methadone_oat"},
            "POST /console/episodes/<ref>/events": {"type": "visit"},
            "POST /console/episodes/<ref>/discharge": {"reason": "dropped_out"},
            "POST /console/clinic/services/<int:service_id>/slots": {
                "slot_date": (clock.now() + timedelta(days=3)).date().isoformat(),
                "slot_time": "10:00",
                "capacity": "1",
                "duration_minutes": "30",
            },
            "POST /console/clinic/bookings/check-in": {"booking_code": "not-a-code"},
        }
        return {"csrf_token": token, **bodies.get(key, {})}


def _cases() -> list[tuple[str | None, str]]:
    refused = [(None, "signed out"), (Role.CLINICIAN, "timed out")]
    refused += [(role, "other") for role in ROLES if role in CLINIC_ROLES]
    return refused + [(role, "own") for role in ROLES]


def _expect(app, key: str, role: str | None, case: str, answer) -> None:
    access = POLICY[key]
    where = f"{key} as {role} ({case}): {answer.status_code}"
    if role is None or case == "timed out":
        assert answer.status_code == 302, where
        assert answer.location.startswith("/console/sign-in"), where
    elif role not in access.roles:
        assert answer.status_code == 403, where
    elif case == "other" and access.clinic_scoped:
        assert answer.status_code == 404, where
    else:
        assert answer.status_code < 500, where
        assert answer.status_code not in (401, 403), where
        # Only sign-out sends a signed-in user to the sign-in page, saying so.
        location = answer.location or ""
        assert "/console/sign-in" not in location or "signed_out=1" in location, where
        if access.clinic_scoped:
            assert answer.status_code != 404, where


def test_every_console_page_answers_by_the_table(app, session, make_clinic):
    """One browser per caller walks every page; sign-out comes last, as it ends the session."""
    world = World(app, session, make_clinic)
    keys = sorted(_console_keys(public=False), key=lambda k: k == "POST /console/sign-out")
    idle = timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"] + 1)
    for role, case in _cases():
        client, token = world.browser(role, case)
        for key in keys:
            if case == "timed out":  # each page needs a session that has just timed out
                client, token = world.browser(role, case)
                clock.freeze(clock.now() + idle)
            method = key.split(" ", 1)[0]
            data = world.body(key, token) if method == "POST" else None
            try:
                answer = client.open(world.url(key), method=method, data=data)
            finally:
                clock.freeze(None)
            _expect(app, key, role, case, answer)


@pytest.mark.parametrize("key", _console_keys(public=True))
def test_sign_in_steps_open_to_everyone_never_fail(app, session, make_clinic, key):
    world = World(app, session, make_clinic)
    client, token = world.browser(None, "signed out")
    method = key.split(" ", 1)[0]
    data = {"csrf_token": token} if method == "POST" else None
    answer = client.open(world.url(key), method=method, data=data)
    assert answer.status_code < 500, (key, answer.status_code)
    assert answer.status_code != 403, key
