"""Seed a realistic demo: clinics in several regions and staff of every role with tokens."""

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from registry.access.demo import seed_access_demo
from registry.access.models import Clinic
from registry.audit.log import record
from registry.auth import credentials, totp
from registry.auth.tokens import issue_token
from registry.auth.users import create_user
from registry.extensions import db

CLINICS = [
    ("Almaty City Centre for Mental Health, outpatient department", "750000000", "outpatient"),
    ("Astana Centre for Mental Health, inpatient unit", "710000000", "inpatient"),
    ("Shymkent Opioid Agonist Treatment Site", "790000000", "outpatient"),
    ("Karaganda Regional Narcology Dispensary", "350000000", "inpatient"),
    ("Pavlodar Low-Threshold Harm Reduction Point", "550000000", "low_threshold"),
    ("East Kazakhstan Outpatient Addiction Clinic", "630000000", "outpatient"),
]

# (user name, roles, index into CLINICS or None)
STAFF = [
    ("clinician.almaty", ["clinician"], 0),
    ("clinician.astana", ["clinician"], 1),
    ("clinician.shymkent", ["clinician"], 2),
    ("manager.almaty", ["clinic_admin"], 0),
    ("manager.astana", ["clinic_admin"], 1),
    ("analyst.ministry", ["analyst"], None),
    ("analyst.rnpc", ["analyst"], None),
    ("protocols.lead", ["protocol_admin"], None),
    ("protocols.reviewer", ["protocol_admin"], None),
    ("custodian.one", ["key_custodian"], None),
    ("custodian.two", ["key_custodian"], None),
    ("custodian.three", ["key_custodian"], None),
    ("operator.main", ["admin"], None),
    ("operator.backup", ["admin"], None),
]


@dataclass(frozen=True)
class DemoUser:
    """A seeded user, its token and console sign-in, shown once."""

    id: int
    name: str
    roles: list[str]
    clinic_id: int | None
    token: str
    password: str
    totp_secret: str | None  # set up for the roles that need a second factor
    totp_uri: str | None


def has_data() -> bool:
    """Tell whether any clinic exists."""
    return bool(db.session.execute(select(func.count(Clinic.id))).scalar())


def seed_demo(ttl_days: int) -> tuple[list[Clinic], list[DemoUser]]:
    """Create the demo clinics and staff with one token each; audit every creation."""
    clinics = [
        Clinic(name=name, region_code=region, centre_type=kind) for name, region, kind in CLINICS
    ]
    db.session.add_all(clinics)
    db.session.flush()
    seed_access_demo(clinics)
    for clinic in clinics:
        record("clinic.create", "clinic", clinic.id, actor=(None, "cli"))
    users = []
    for name, roles, clinic_index in STAFF:
        clinic_id = clinics[clinic_index].id if clinic_index is not None else None
        user = create_user(name, roles, clinic_id)
        token_row, secret = issue_token(user, ttl_days)
        record("user.create", "user", user.id, actor=(None, "cli"))
        record("token.issue", "token", token_row.id, actor=(None, "cli"))
        password, totp_secret = _console_sign_in(user)
        uri = totp.provisioning_uri(totp_secret, user.name) if totp_secret else None
        users.append(
            DemoUser(
                user.id, user.name, sorted(roles), clinic_id, secret, password, totp_secret, uri
            )
        )
    return clinics, users


def _console_sign_in(user) -> tuple[str, str | None]:
    """Give a demo user a random console password, and a TOTP secret where the role needs one."""
    password = secrets.token_urlsafe(12)  # 96 bits; random, so no demo opens with a known one
    credentials.set_password(user, password)
    if not credentials.second_factor_required(user.roles):
        return password, None
    if current_app.extensions.get("keyring") is None:
        return password, None  # TOTP secrets are sealed under the keyring: enrol at first sign-in
    secret = credentials.enrolment_secret(user.id)
    credentials.mark_enrolled(user.id)
    return password, secret
