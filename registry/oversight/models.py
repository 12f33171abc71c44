"""Findings of the oversight check: a user, a kind, a period and counts; never an identity."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime


class FindingKind(StrEnum):
    """What a user's registrations looked like (docs/registration-oracle.md)."""

    # Linked registrations that found a person known only elsewhere: a share far above peers'.
    FOUND_EXISTING = "found_existing"
    # Linked registrations of persons the clinic never opened an episode for: far above peers'.
    NO_EPISODES = "no_episodes"
    # Answers refused by the per-user or per-clinic oracle limits.
    LIMIT_REACHED = "limit_reached"


_KINDS = ", ".join(f"'{kind.value}'" for kind in FindingKind)


class OversightFinding(db.Model):
    """One user's pattern of one kind in one period, with the counts that made it stand out."""

    __tablename__ = "oversight_findings"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="known_kind"),
        # The check asks whether a user's finding of a kind already covers part of its period.
        Index("ix_oversight_findings_user_kind", "user_id", "kind", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    # The user's registrations (or refusals) of this kind, out of its linked registrations.
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    # The same over every other user in the period: the norm the user was compared with.
    pool_count: Mapped[int | None] = mapped_column(Integer)
    pool_total: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
