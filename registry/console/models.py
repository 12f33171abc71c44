"""Server-side console sessions: the browser holds only a random id, stored here as a hash."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class ConsoleSession(db.Model):
    """One browser's session: anonymous until its user has signed in with every factor."""

    __tablename__ = "console_sessions"
    # The expiry job deletes by last use; a user's sessions are ended together on sign-out
    # elsewhere or when the user is disabled.
    __table_args__ = (Index("ix_console_sessions_last_seen_at", "last_seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the cookie's 256-bit random id: a copy of the table opens no session.
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Small state: the CSRF token, a sign-in in progress. Never a password or a secret.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
