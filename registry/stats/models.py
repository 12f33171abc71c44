"""Release records: who released which protected table, when, how, and a hash of the output."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class StatsRelease(db.Model):
    """One released set of protected tables (an ad hoc query or a standard table)."""

    __tablename__ = "stats_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id clients see; random so that the release count is not exposed.
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # query or tdi
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # What was asked (measure, year, dimensions, filters or the standard table's name).
    definition: Mapped[dict] = mapped_column(JSON)
    # Disclosure-control settings and audit summary (threshold, pTable digest, suppressions).
    parameters: Mapped[dict] = mapped_column(JSON)
    cells: Mapped[int] = mapped_column(Integer)
    suppressed: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the canonical JSON of the released cells.
    output_hash: Mapped[str] = mapped_column(String(64))
