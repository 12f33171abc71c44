"""Tables of the stats outputs: DP analysts, the DP budget ledger and scheduled releases."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class StatsDpAnalyst(db.Model):
    """An analyst whose every query is answered under differential privacy."""

    __tablename__ = "stats_dp_analysts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # Budget per period in millionths of epsilon; None means the deployment's default.
    budget_micro: Mapped[int | None] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatsDpBudget(db.Model):
    """Privacy loss an analyst has spent in one period (a calendar month)."""

    __tablename__ = "stats_dp_budgets"
    __table_args__ = (UniqueConstraint("user_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    # Integer millionths of epsilon, so that concurrent additions never drift by rounding.
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsScheduledRelease(db.Model):
    """The standard tables of one month, protected together as one linked release."""

    __tablename__ = "stats_scheduled_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("stats_releases.id"), unique=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    # Admissions up to the end of this month (1..12) of `year` are counted.
    through_month: Mapped[int] = mapped_column(Integer)
    # {table name: [cells]}: what every pull of this release returns, unchanged.
    tables: Mapped[dict] = mapped_column(JSON)
    protection: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("year", "through_month"),)


class StatsLedgerEntry(db.Model):
    """What one protected release of a year published and hid (registry/stats/ledger.py)."""

    __tablename__ = "stats_release_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("stats_releases.id"), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(20))
    # {"tables": [[dim, ...], ...], "dims": [...], "restrict": {variable: [leaf, ...]},
    #  "codes": [[code per dim], ...], "hidden": [0/1 per cell]}: codes only, never counts.
    cells: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (Index("ix_stats_release_ledger_year_measure", "year", "measure"),)
