"""Regions, clinics, their public services, slots and anonymous bookings."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from registry.extensions import db
from registry.types import UTCDateTime, utcnow


class Region(db.Model):
    """An administrative region, keyed by its KATO code."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_ru: Mapped[str] = mapped_column(String(80))
    name_kk: Mapped[str] = mapped_column(String(80))


class Clinic(db.Model):
    """A treatment centre; every clinic user and clinical record belongs to one."""

    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # TDI 3.0 treatment centre type: outpatient, inpatient, prison, gp, low_threshold, other.
    centre_type: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Almaty")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")


class TagList(TypeDecorator):
    """A list of short codes stored as ',a,b,' so that LIKE '%,a,%' filters on any database."""

    impl = String(400)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return "," + ",".join(value) + "," if value else ""

    def process_result_value(self, value, dialect):
        return [part for part in (value or "").split(",") if part]


class Service(db.Model):
    """A service a clinic offers to the public: what, in which languages, when and where."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # outpatient, inpatient, detox, oat, psychosocial, harm_reduction (DESIGN.md §6).
    care_type: Mapped[str] = mapped_column(String(20), index=True)
    medications: Mapped[list[str]] = mapped_column(TagList, default=list)
    languages: Mapped[list[str]] = mapped_column(TagList, default=list)
    # {"mon": ["09:00-13:00", "14:00-18:00"], …} in the clinic's local time.
    opening_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Plain words on what the service does, in the language of `name` and `address`.
    description: Mapped[str | None] = mapped_column(String(1000))
    # {"ru": {"name": …, "address": …, "description": …}, "kk": {…}}: what a page in that
    # language shows instead of the fields above (registry/access/localized.py).
    translations: Mapped[dict] = mapped_column(JSON, default=dict)
    # "free" or "paid" (registry/access/vocab.py COSTS); None while the clinic has not said.
    cost: Mapped[str | None] = mapped_column(String(10))
    # Step-free entrance and an accessible room; None while the clinic has not said.
    wheelchair: Mapped[bool | None] = mapped_column(Boolean)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clinic: Mapped[Clinic] = relationship(lazy="joined")


class Slot(db.Model):
    """A bookable time with a capacity; `booked` counts active bookings and never exceeds it."""

    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="within_capacity"),
        CheckConstraint("capacity >= 1", name="positive_capacity"),
        Index("ix_slots_service_id_starts_at", "service_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service: Mapped[Service] = relationship(lazy="joined")


class BookingStatus(StrEnum):
    """Life of a booking."""

    ACTIVE = "active"
    CANCELLED = "cancelled"  # by the patient
    CANCELLED_BY_CLINIC = "cancelled_by_clinic"  # the clinic cancelled the slot
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"  # the slot ended without a check-in


class Booking(db.Model):
    """An anonymous booking: no identity, only a keyed hash of its code."""

    __tablename__ = "bookings"
    __table_args__ = (
        # The per-client cap counts one client's active bookings under the write lock: with
        # a single-column index SQLite chose the status index and read every active booking.
        Index("ix_bookings_client_key_status", "client_key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    key_version: Mapped[int] = mapped_column(Integer)
    # Not indexed alone: every query on status also names a slot or a client, whose indexes
    # serve it, and a status index would cost each booking and each status change a page.
    status: Mapped[str] = mapped_column(String(20), default=BookingStatus.ACTIVE)
    # HMAC(daily key, IP) of the booking client, kept only while the booking is active so the
    # per-client cap can count; cleared when it ends. Never the address itself.
    client_key: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[Slot] = relationship(lazy="joined")


class SpentChallenge(db.Model):
    """A proof-of-work challenge already used, kept until it would have expired anyway."""

    __tablename__ = "spent_challenges"

    # SHA-256 hex of the challenge; the primary key makes a second use fail.
    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
