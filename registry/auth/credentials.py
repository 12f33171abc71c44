"""Console credentials: first password by enrolment link, password check, TOTP enrolment."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.auth import passwords, totp
from registry.auth.models import Role, User, UserCredential
from registry.errors import AuditNote, Conflict, NotFound
from registry.extensions import db

# Roles whose console sign-in always asks for a second factor: they can reveal, publish or
# administer; the others may add one.
SECOND_FACTOR_ROLES = frozenset({Role.KEY_CUSTODIAN, Role.ADMIN, Role.PROTOCOL_ADMIN})

# Audit outcomes of a sign-in step; the object is the user (when the name exists).
SIGNED_IN = "ok"
WRONG_PASSWORD = "refused:password"  # noqa: S105 (an audit outcome, not a secret)
WRONG_CODE = "refused:code"
LIMITED = "refused:limit"


def second_factor_required(roles: frozenset[str] | set[str]) -> bool:
    """Tell whether a user holding these roles must sign in with a second factor."""
    return bool(SECOND_FACTOR_ROLES & set(roles))


def credential_of(user_id: int) -> UserCredential:
    """Return a user's credential row, made empty the first time."""
    row = db.session.get(UserCredential, user_id)
    if row is None:
        row = UserCredential(user_id=user_id)
        db.session.add(row)
    return row


def _code_hash(code: str) -> bytes:
    # The code carries 192 random bits, so a plain hash is as strong as a keyed one here.
    return hashlib.sha256(code.encode()).digest()


def issue_activation(user: User, hours: int) -> str:
    """Give a user a one-time enrolment code to set a password with; return it once."""
    if user.disabled_at is not None:
        raise Conflict("this user is disabled")
    code = secrets.token_urlsafe(24)
    row = credential_of(user.id)
    row.activation_hash = _code_hash(code)
    row.activation_expires_at = clock.now() + timedelta(hours=hours)
    db.session.flush()
    record("user.activation_issue", "user", user.id)
    return code


def user_for_activation(code: str) -> User:
    """Return the user a valid, unexpired enrolment code belongs to (404 otherwise)."""
    row = None
    if 0 < len(code) <= 100:
        row = db.session.execute(
            select(UserCredential).where(UserCredential.activation_hash == _code_hash(code))
        ).scalar_one_or_none()
    if (
        row is None
        or row.activation_expires_at is None
        or row.activation_expires_at <= clock.now()
        or row.user.disabled_at is not None
    ):
        raise NotFound("no such enrolment link", audit=AuditNote("user.activate", "user"))
    return row.user


def activate(code: str, password: str) -> User:
    """Set a first password with an enrolment code, which is then spent."""
    user = user_for_activation(code)
    set_password(user, password)
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password's argon2id hash; any enrolment code is spent with it."""
    passwords.check_new_password(password, user.name)
    row = credential_of(user.id)
    row.password_hash = passwords.hash_password(password)
    row.password_set_at = clock.now()
    row.activation_hash = row.activation_expires_at = None
    db.session.flush()
    record("user.password_set", "user", user.id)


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of the first sign-in step."""

    user: User | None
    needs_code: bool = False  # a confirmed second factor follows
    needs_enrolment: bool = False  # the role needs a second factor the user has not set up


def check_password(name: str, password: str) -> PasswordCheck:
    """Check a user name and password; audit the attempt, never the name typed."""
    user = db.session.execute(
        select(User).where(User.name == name[:120], User.disabled_at.is_(None))
    ).scalar_one_or_none()
    row = db.session.get(UserCredential, user.id) if user is not None else None
    stored = row.password_hash if row is not None else None
    if not passwords.password_matches(stored, password):
        record("console.sign_in", "user", user.id if user else None, outcome=WRONG_PASSWORD)
        return PasswordCheck(None)
    if passwords.needs_rehash(stored):
        row.password_hash = passwords.hash_password(password)
    enrolled = row.totp_confirmed_at is not None
    return PasswordCheck(
        user,
        needs_code=enrolled,
        needs_enrolment=not enrolled and second_factor_required(user.roles),
    )


def record_sign_in(user_id: int | None, outcome: str = SIGNED_IN) -> None:
    """Audit a sign-in step's outcome for a user (None: a name that does not exist)."""
    record("console.sign_in", "user", user_id, outcome=outcome)


def has_second_factor(user_id: int) -> bool:
    """Tell whether a user has a confirmed TOTP second factor."""
    row = db.session.get(UserCredential, user_id)
    return row is not None and row.totp_confirmed_at is not None


def enrolment_secret(user_id: int) -> str:
    """Return the unconfirmed TOTP secret being enrolled, making one the first time."""
    row = credential_of(user_id)
    if row.totp_confirmed_at is not None:
        raise Conflict("a second factor is set up already")
    if row.totp_secret is None:
        row.totp_secret = totp.seal(user_id, totp.new_secret())
        db.session.flush()
    return totp.unseal(user_id, row.totp_secret)


def confirm_enrolment(user_id: int, code: str) -> bool:
    """Confirm the enrolled secret with a first code from the app; audit the outcome."""
    secret = enrolment_secret(user_id)
    step = totp.matching_step(secret, code, clock.now())
    if step is None:
        record("user.totp_enrol", "user", user_id, outcome=WRONG_CODE)
        return False
    row = credential_of(user_id)
    row.totp_confirmed_at = clock.now()
    row.totp_last_step = step
    db.session.flush()
    record("user.totp_enrol", "user", user_id)
    return True


def mark_enrolled(user_id: int) -> None:
    """Confirm an enrolment without a code: for seeded demo users, whose secret is printed."""
    row = credential_of(user_id)
    row.totp_confirmed_at = clock.now()
    db.session.flush()
    record("user.totp_enrol", "user", user_id)


def reset_second_factor(user_id: int) -> None:
    """Forget a user's second factor (a lost phone); the next sign-in enrols a new one."""
    row = credential_of(user_id)
    row.totp_secret = row.totp_confirmed_at = row.totp_last_step = None
    db.session.flush()
    record("user.totp_reset", "user", user_id)


def check_code(user_id: int, code: str) -> bool:
    """Check a TOTP code of a confirmed secret; a code is accepted once only (no replay)."""
    row = db.session.get(UserCredential, user_id)
    if row is None or row.totp_confirmed_at is None or row.totp_secret is None:
        return False
    step = totp.matching_step(totp.unseal(user_id, row.totp_secret), code, clock.now())
    if step is None or (row.totp_last_step is not None and step <= row.totp_last_step):
        return False
    row.totp_last_step = step
    db.session.flush()
    return True
