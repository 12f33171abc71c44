"""Protocols and their versions: draft → approved → active → retired."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class Status(StrEnum):
    """The lifecycle states of a protocol version (DESIGN.md §4)."""

    DRAFT = "draft"
    APPROVED = "approved"
    ACTIVE = "active"
    RETIRED = "retired"


_STATUS_LIST = ", ".join(f"'{s.value}'" for s in Status)
_ACTIVE = text("status = 'active'")


class Protocol(db.Model):
    """A protocol key, such as methadone_oat, under which versions are numbered."""

    __tablename__ = "protocols"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # {ru, kk, en}: the title of the newest published version, else of the first draft.
    title: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list["ProtocolVersion"]] = relationship(
        back_populates="protocol", order_by="ProtocolVersion.n", lazy="selectin"
    )


class ProtocolVersion(db.Model):
    """One numbered version of a protocol; immutable once approved."""

    __tablename__ = "protocol_versions"
    __table_args__ = (
        UniqueConstraint("protocol_id", "n", name="uq_protocol_versions_protocol_id_n"),
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="known_status"),
        # At most one active version per protocol; the services check first, this is the backstop.
        Index(
            "uq_protocol_versions_one_active",
            "protocol_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id"))
    # (protocol_id, n) is unique, which also indexes protocol_id.
    n: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=Status.DRAFT)
    # The document as stored; its `status` member is replaced by the row's status when served.
    document: Mapped[dict] = mapped_column(JSON)
    # SHA-256 (hex) of the canonical JSON of the document without `version` and `status`.
    document_hash: Mapped[str] = mapped_column(String(64))
    # None for versions the system installed (the shipped protocols).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retiring takes two protocol administrators, as publishing does: one requests, another
    # retires. Both stay on the row once it is retired.
    retire_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retire_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    protocol: Mapped[Protocol] = relationship(back_populates="versions", lazy="joined")

    @property
    def key(self) -> str:
        """Return the protocol key of this version."""
        return self.protocol.key

    @property
    def label(self) -> str:
        """Return the audit object id of this version: key/n."""
        return f"{self.protocol.key}/{self.n}"

    def served_document(self) -> dict:
        """Return a copy of the document with the version's current status."""
        return {**self.document, "status": self.status}
