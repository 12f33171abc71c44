"""Every route × every role × (own clinic, other clinic, no/revoked/expired token) by the table."""

from datetime import UTC, datetime, timedelta
from functools import cached_property

import pytest
from werkzeug.routing import Rule

from registry import clock
from registry.api.policy import CONSOLE_PREFIX, POLICY, operations, policy_faults
from registry.auth.guard import roles_required
from registry.auth.models import CLINIC_ROLES, Role
from registry.auth.tokens import issue_token, revoke_token
from registry.auth.users import create_user
from tests.access.conftest import new_service, new_slot
from tests.conftest import bearer
from tests.episodes.conftest import TODAY, admission

ROLES = list(Role)
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    """Pin the clock so that admissions and slots fall on known days."""
    clock.freeze(NOW)
    yield
    clock.freeze(None)


class World:
    """Real objects of clinic A, callers of clinic A and of clinic B, made when first needed."""

    def __init__(self, client, session, make_clinic):
        self.client, self.session = client, session
        self.clinic = make_clinic()
        self.other_clinic = make_clinic()
        self._users: dict[tuple, str] = {}

    def token(self, role: str, case: str) -> str:
        """Return a token of a role: own clinic, other clinic, revoked or expired."""
        if (role, case) not in self._users:
            self._users[role, case] = self._new_token(role, case)
        return self._users[role, case]

    def _new_token(self, role: str, case: str) -> str:
        clinic = self.other_clinic if case == "other" else self.clinic
        user = create_user(
            f"matrix-{role}-{case}", [role], clinic.id if role in CLINIC_ROLES else None
        )
        row, secret = issue_token(user, -1 if case == "expired" else 30)
        if case == "revoked":
            revoke_token(row.id)
        return secret

    def _post(self, path: str, body: dict) -> dict:
        answer = self.client.post(
            path, json=body, headers=bearer(self.token(Role.CLINICIAN, "own"))
        )
        assert answer.status_code in (200, 201), answer.json
        return answer.json

    @cached_property
    def patient(self) -> dict:
        return self._post("/api/v1/patients", {"mode": "anonymous"})

    @cached_property
    def second_pseudonym(self) -> str:
        return self._post("/api/v1/patients", {"mode": "anonymous"})["pseudonym"]

    @cached_property
    def merge_id(self) -> str:
        body = {"survivor": self.patient["pseudonym"], "merged": self.second_pseudonym}
        return self._post("/api/v1/patients/merges", body)["id"]

    @cached_property
    def protocol_key(self) -> str:
        """Install the shipped protocols; return the key of one of them."""
        from registry.protocols.lifecycle import install_shipped_protocols

        install_shipped_protocols()
        self.session.flush()
        return "methadone_oat"

    @cached_property
    def episode_body(self) -> dict:
        return {
            "pseudonym": self.patient["pseudonym"],
            "protocol": self.protocol_key,
            "diagnosis": "F11.2",
            "admitted_on": TODAY.isoformat(),
            "admission": admission(),
        }

    @cached_property
    def ref(self) -> str:
        return self._post("/api/v1/episodes", self.episode_body)["id"]

    @cached_property
    def service(self):
        return new_service(self.session, self.clinic)

    @cached_property
    def slot(self):
        return new_slot(self.session, self.service)

    def value(self, name: str):
        """Return the value of a path parameter, naming clinic A's objects."""
        values = {
            "clinic_id": lambda: self.clinic.id,
            "service_id": lambda: self.service.id,
            "slot_id": lambda: self.slot.id,
            "pseudonym": lambda: self.patient["pseudonym"],
            "merge_id": lambda: self.merge_id,
            "ref": lambda: self.ref,
            "request_id": lambda: 1,
            "key": lambda: self.protocol_key,
            "n": lambda: 1,
            "table": lambda: "table_1",
            "name": lambda: "missing.js",
            "filename": lambda: "missing.css",
        }
        return values[name]()

    def body(self, key: str) -> dict | None:
        """Return a valid body for the write operations that name clinic A's objects."""
        later = (clock.now() + timedelta(days=2)).isoformat()
        bodies = {
            "POST /api/v1/clinics": lambda: {
                "name": "Matrix clinic",
                "region_code": "750000000",
                "centre_type": "outpatient",
            },
            "POST /api/v1/clinics/<int:clinic_id>/services": lambda: {
                "name": "Matrix service",
                "care_type": "oat",
                "languages": ["ru"],
                "address": "Abay Ave 2",
            },
            "PATCH /api/v1/clinics/<int:clinic_id>/services/<int:service_id>": lambda: {
                "published": False
            },
            "POST /api/v1/clinics/<int:clinic_id>/slots": lambda: {
                "service_id": self.service.id,
                "capacity": 1,
                "starts_at": later,
            },
            "PATCH /api/v1/clinics/<int:clinic_id>/slots/<int:slot_id>": lambda: {"capacity": 3},
            "POST /api/v1/clinics/<int:clinic_id>/slots/<int:slot_id>/cancel": lambda: {},
            "POST /api/v1/clinics/<int:clinic_id>/bookings/check-in": lambda: {"code": "B-0"},
            "POST /api/v1/patients": lambda: {"mode": "anonymous"},
            "POST /api/v1/patients/resolve": lambda: {"care_card": self.patient["care_card"]},
            "POST /api/v1/patients/care-card/qr": lambda: {"care_card": self.patient["care_card"]},
            "POST /api/v1/patients/merges": lambda: {
                "survivor": self.patient["pseudonym"],
                "merged": self.second_pseudonym,
            },
            "POST /api/v1/episodes": lambda: self.episode_body,
            "POST /api/v1/episodes/<ref>/events": lambda: {"type": "visit"},
            "POST /api/v1/episodes/<ref>/events/check": lambda: {"type": "visit"},
            "POST /api/v1/episodes/<ref>/discharge": lambda: {"reason": "completed"},
            "POST /api/v1/protocols": lambda: {"key": self.protocol_key, "copy_from": "active"},
            "POST /api/v1/reidentifications": lambda: {
                "pseudonym": self.patient["pseudonym"],
                "purpose": "court_proceedings",
                "legal_basis": "court_decision",
            },
        }
        make = bodies.get(key)
        return make() if make else ({} if key.split()[0] in ("POST", "PUT", "PATCH") else None)

    def url(self, rule: Rule, key: str) -> str:
        """Return the rule's URL naming clinic A's objects."""
        url = rule.build({name: self.value(name) for name in rule.arguments})[1]
        if key == "DELETE /api/v1/patients/<pseudonym>":
            url += f"?clinic_id={self.clinic.id}"
        return url


def _rules(app) -> dict[str, Rule]:
    return {
        f"{method} {rule.rule}": rule
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _keys() -> list[str]:
    """Return the bearer-token routes; console pages have their own matrix (tests/console)."""
    return sorted(key for key in POLICY if not key.split(" ", 1)[1].startswith(CONSOLE_PREFIX))


def _call(world: World, rule: Rule, key: str, token: str | None):
    method, _ = key.split(" ", 1)
    headers = bearer(token) if token else {}
    url = world.url(rule, key)
    return world.client.open(url, method=method, json=world.body(key), headers=headers)


def _cases(key: str) -> list[tuple[str | None, str]]:
    """Return (role, case) pairs; refusals first, so that allowed writes change nothing first."""
    refused = [(None, "no token")]
    refused += [(role, case) for role in ROLES for case in ("revoked", "expired")]
    refused += [(role, "other") for role in ROLES if role in CLINIC_ROLES]
    return refused + [(role, "own") for role in ROLES]


def _expected(key: str, role: str | None, case: str) -> set[int] | str:
    """Return the statuses the table allows for a case, or "allowed" (anything but 401/403)."""
    access = POLICY[key]
    if access.public:
        return "allowed"
    if case in ("no token", "revoked", "expired"):
        return {401}
    if role not in access.roles:
        return {403}
    if case == "other" and access.clinic_scoped:
        return {403, 404}
    return "allowed"


def test_the_table_covers_every_route_and_agrees_with_the_views(app):
    assert policy_faults(app) == []


@pytest.mark.parametrize("key", _keys())
def test_route_answers_by_the_table(app, client, session, make_clinic, key):
    world = World(client, session, make_clinic)
    rule = _rules(app)[key]
    for role, case in _cases(key):
        token = None if role is None else world.token(role, case)
        answer = _call(world, rule, key, token)
        expected = _expected(key, role, case)
        where = f"{key} as {role} ({case}): {answer.status_code} {answer.get_data(as_text=True)}"
        if expected == "allowed":
            assert answer.status_code not in (401, 403), where
            assert answer.status_code < 500, where
        else:
            assert answer.status_code in expected, where
        if case == "own" and POLICY[key].clinic_scoped and expected == "allowed":
            # The object is really there for its own clinic, so another clinic's 404 is a refusal.
            assert answer.status_code != 404, where


def test_a_route_without_a_table_entry_fails_the_check(keyring, tmp_path):
    from tests.conftest import make_test_app

    app = make_test_app("sqlite://", keyring, str(tmp_path / "instance"))
    app.add_url_rule(
        "/api/v1/forgotten", "forgotten", roles_required(Role.ADMIN)(lambda: {"ok": True})
    )
    faults = policy_faults(app)
    assert faults == ["GET /api/v1/forgotten: no entry in registry/api/policy.py"]
    assert ("GET /api/v1/forgotten", "forgotten") in operations(app)


def test_a_view_whose_roles_differ_from_the_table_fails_the_check(keyring, tmp_path, monkeypatch):
    from tests.conftest import make_test_app

    app = make_test_app("sqlite://", keyring, str(tmp_path / "instance"))
    monkeypatch.setattr(app.view_functions["clinics.create"], "policy", frozenset({"analyst"}))
    faults = policy_faults(app)
    assert len(faults) == 1
    assert faults[0].startswith("POST /api/v1/clinics: the view allows")


def test_a_stale_table_entry_fails_the_check(app, monkeypatch):
    monkeypatch.setitem(POLICY, "GET /api/v1/gone", POLICY["GET /api/v1/me"])
    assert policy_faults(app) == ["GET /api/v1/gone: no such route"]
