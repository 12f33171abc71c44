"""The durable record of an import of a legacy register file, keyed by the file's SHA-256."""

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class ImportRun(db.Model):
    """One file's import: how far it got, what it made and which lines it refused (no values).

    Each batch commits with this row's progress, so a crash loses at most the batch under way
    and a second run of the same file resumes after `last_line`, or, once done, does nothing.
    """

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the file's bytes, hex. A digest of the whole file, not of any identity in it.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="running")  # running or done
    # The last line of the file whose row is committed (1 is the header).
    last_line: Mapped[int] = mapped_column(Integer, default=1)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    persons_created: Mapped[int] = mapped_column(Integer, default=0)
    persons_found: Mapped[int] = mapped_column(Integer, default=0)
    episodes_created: Mapped[int] = mapped_column(Integer, default=0)
    episodes_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    # [[line, rule], ...] up to REPORTED_REJECTS: line numbers and rule names, never values.
    rejected: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
