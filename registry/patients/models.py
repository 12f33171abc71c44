"""Persons, their linkage tokens, escrow, pseudonyms, care cards and governance records."""

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


@dataclass(slots=True)
class NewPerson:
    """The values of a persons row about to be inserted, with keys made before any lock.

    A plain object: an ORM instance only to carry these values cost about 2% of a registration.
    """

    person_key: str
    record_key: float
    created_at: datetime
    wrapped_key: bytes | None = None
    wrapped_key_version: int | None = None
    treated_before: bool = False
    erased: bool = False
    id: int | None = None  # given by the insert

    def row(self) -> dict:
        """Return the column values to insert (all but the id)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "id"}


class Person(db.Model):
    """A person known only by a random key; identity lives in tokens and escrow, never here."""

    __tablename__ = "persons"
    # Only merged persons are indexed: a registration then writes no page of this index.
    __table_args__ = (
        Index(
            "ix_persons_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random internal key: bound into escrow and data-key AAD; never leaves the service.
    # 128 bits from `secrets`, never looked up: no index. A unique one cost each registration
    # a random page (on PostgreSQL at a million persons, a miss and a full-page WAL write),
    # to guard against a clash less likely than 1e-25 at ten million persons.
    person_key: Mapped[str] = mapped_column(String(32))
    # Fixed uniform random number in [0, 1) for consistent cell-key perturbation (§7).
    record_key: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # TDI "ever treated before"; the episodes issue sets it when a treatment episode exists.
    treated_before: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-person data key wrapped under the keyring's 'data' key; deleting it crypto-shreds.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    # The 'data' key version inside wrapped_key. Not indexed: the re-wrap job walks persons in
    # id order anyway, and an index would cost every registration a page read and write.
    wrapped_key_version: Mapped[int | None] = mapped_column(Integer)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while this person is merged into another (reversible: a split clears it).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))


class LinkageToken(db.Model):
    """A keyed token of one normalised identifier; the version names the key that made it."""

    __tablename__ = "linkage_tokens"
    __table_args__ = (UniqueConstraint("kind", "key_version", "digest", name="uq_linkage_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # iin, name or name_patronymic
    kind: Mapped[str] = mapped_column(String(20))
    key_version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    # True once a copy under a newer key version exists; the prune step then deletes it.
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)


class Escrow(db.Model):
    """The identity sealed to the custodians' public key; the service cannot open it."""

    __tablename__ = "escrows"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    custodian_key_id: Mapped[str] = mapped_column(String(32))
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Pseudonym(db.Model):
    """One person's random pseudonym in one domain ('clinic:<id>', 'research:<name>')."""

    __tablename__ = "pseudonyms"
    # Person first: the same index finds a person's pseudonyms and their one per domain.
    # (domain, id) pages a clinic's patients newest first without a scan (the console's list);
    # ids only grow, so a registration adds to the right edge of its domain, a page in cache.
    __table_args__ = (
        UniqueConstraint("person_id", "domain", name="uq_pseudonym_person_domain"),
        Index("ix_pseudonyms_domain_id", "domain", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareCard(db.Model):
    """A care card, stored only as a keyed hash of its canonical code."""

    __tablename__ = "care_cards"
    __table_args__ = (UniqueConstraint("key_version", "digest", name="uq_care_card_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    key_version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OstEnrolment(db.Model):
    """An opioid agonist treatment enrolment of a person at a clinic; open while not closed."""

    __tablename__ = "ost_enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    # The caller's reference, e.g. an episode id, so that it can close what it opened.
    ref: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonMerge(db.Model):
    """A merge of one person into another, kept so that a split can undo it."""

    __tablename__ = "person_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id the clinic sees: random, so that clinics cannot count each other's merges.
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    split_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    split_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReidentificationRequest(db.Model):
    """A governed request to open one person's escrow; revealed at most once."""

    __tablename__ = "reidentification_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Codes of reidentification_purposes and legal_bases (codes.yaml), never free text.
    purpose: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revealed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # One custodian's refusal closes the request: it can be neither approved nor revealed.
    denied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    denied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReidentificationApproval(db.Model):
    """One custodian's approval of a re-identification request."""

    __tablename__ = "reidentification_approvals"
    __table_args__ = (
        UniqueConstraint("request_id", "custodian_id", name="uq_reidentification_approval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("reidentification_requests.id"), index=True)
    custodian_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
