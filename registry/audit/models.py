"""The append-only audit log, its Merkle head and signed checkpoints."""

from datetime import datetime

from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime


class AuditEntry(db.Model):
    """One audited action; pseudonymous ids only, never a clinical value or an identifier."""

    __tablename__ = "audit_entries"

    # The leaf index in the Merkle tree: 0, 1, 2, … with no gaps.
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None]
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(64))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(db.Model):
    """The single row that serialises appends and holds the tree's compact range."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(default=0)
    # Hex hashes of the compact range (the right frontier) of the tree of `size` leaves.
    frontier: Mapped[list] = mapped_column(JSON, default=list)


class AuditCheckpoint(db.Model):
    """A signed (size, root) statement over the log."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_version: Mapped[int]
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
