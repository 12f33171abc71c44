"""Issue, check and revoke opaque bearer tokens."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from registry import clock
from registry.auth.models import ApiToken, User
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


def user_for_token(secret: str) -> tuple[User, ApiToken] | None:
    """Return the active user and token a secret belongs to, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
    ).scalar_one_or_none()
    now = clock.now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.user.disabled_at is not None:
        return None
    return row.user, row


def revoke_token(token_id: int) -> ApiToken | None:
    """Revoke a token by id at once; return it, or None when there is no such token."""
    row = db.session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        db.session.flush()
    return row
