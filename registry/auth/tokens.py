"""Issue, check and revoke opaque bearer tokens."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from registry import clock
from registry.audit.log import record
from registry.auth.models import ApiToken, User, UserRole
from registry.database import reading_bind
from registry.driver_sql import driver_query
from registry.errors import Conflict, NotFound
from registry.extensions import db

TOKEN_PREFIX = "rgt_"  # noqa: S105 (a public prefix, not a secret)


def hash_token(token: str) -> bytes:
    """Return the stored form of a token: SHA-256 of its text."""
    # Tokens carry 256 random bits, so a plain hash is as strong as a keyed one here.
    return hashlib.sha256(token.encode()).digest()


def issue_token(user: User, ttl_days: int) -> tuple[ApiToken, str]:
    """Create a token for a user; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user=user, token_hash=hash_token(secret), expires_at=clock.now() + timedelta(days=ttl_days)
    )
    db.session.add(row)
    db.session.flush()
    return row, secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a valid token or console session, as the request needs it."""

    id: int
    name: str
    clinic_id: int | None
    roles: frozenset[str]
    token_id: int | None = None  # None in a console session, which has no token
    token_expires_at: datetime | None = None


# One round trip, one row per role; checked on every authenticated request, so kept lean.
_PRINCIPAL_QUERY = (
    select(ApiToken.id, ApiToken.expires_at, User.id, User.name, User.clinic_id, UserRole.role)
    .join(User, User.id == ApiToken.user_id)
    .join(UserRole, UserRole.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        User.disabled_at.is_(None),
    )
)


def principal_for_token(secret: str) -> Principal | None:
    """Return the principal a valid, unexpired, unrevoked token belongs to, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    rows = _principal_rows(hash_token(secret))
    if not rows:
        return None
    token_id, expires_at, user_id, name, clinic_id, _ = rows[0]
    expires_at = _as_utc(expires_at)
    if expires_at <= clock.now():
        return None
    return Principal(
        user_id, name, clinic_id, frozenset(row[5] for row in rows), token_id, expires_at
    )


def _principal_rows(token_hash: bytes) -> list[tuple]:
    """Run the principal query on a driver connection, outside the ORM session.

    This query runs on every authenticated request. Through the session, the bookkeeping
    (checkout, transaction, close) cost ten times the query. On its own pooled connection
    it also reads in a transaction of its own, so on SQLite it never takes the write lock.
    """
    return driver_query(reading_bind(), _PRINCIPAL_QUERY, {"token_hash": token_hash})


def _as_utc(value: datetime | str) -> datetime:
    """Read a driver's timestamp as an aware UTC datetime (SQLite hands back text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def revoke_token(token_id: int) -> ApiToken | None:
    """Revoke a token by id at once; return it, or None when there is no such token."""
    row = db.session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        db.session.flush()
    return row


def revoke_clinic_token(clinic_id: int, token_id: int) -> ApiToken:
    """Revoke a token of one of the clinic's staff, audited; another clinic's is not found."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user.clinic_id != clinic_id:
        raise NotFound("no such token")
    if row.revoked_at is not None:
        raise Conflict("the token is revoked already")
    revoke_token(token_id)
    record("token.revoke", "token", token_id)
    return row
