"""Anonymous bookings: book with a proof of work, look up, cancel and check in with a code."""

import hashlib
import hmac
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, text, update

from registry import clock, keyring
from registry.access.challenges import spend, verify_solution
from registry.access.models import Booking, BookingStatus, Clinic, Region, Service, Slot
from registry.access.pow import Solved
from registry.audit.log import record
from registry.crypto.codes import CodeFormat, InvalidCode, new_code, parse_code
from registry.database import reading_bind
from registry.driver_sql import driver_execute, driver_query
from registry.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from registry.extensions import db

# 16 data characters = 80 random bits from `secrets`, and two check characters, e.g.
# 6V3P-Y2SN-R2DN-MCRH-EX: short enough to write down, unguessable under the lookup limits.
BOOKING_CODE = CodeFormat(name="booking", data_chars=16, group=4, prefix="", tag=4, u_is_v=True)
# Codes issued before (B-, 26 data characters, 130 bits): their bookings still open with them.
LEGACY_BOOKING_CODE = CodeFormat(
    name="booking_v1", data_chars=26, group=4, prefix="B", tag=3, u_is_v=True
)
PURPOSE = "booking_code"
# What a mistyped code is told, by the rule it broke; the site words these for people.
MISTYPED = {
    "check": "the check characters do not match: a character is mistyped",
    "length": f"a booking code has {BOOKING_CODE.length} letters and digits",
    "alphabet": "a booking code holds only Latin letters and digits",
    "empty": "the code is empty",
}


class MistypedCode(ValidationFailed):
    """A booking code that cannot be one; `rule` says why (the check characters are public)."""

    def __init__(self, rule: str) -> None:
        super().__init__("the booking code is mistyped", errors={"code": [MISTYPED[rule]]})
        self.rule = rule


def _format_of(canonical: str) -> CodeFormat:
    """Tell the formats apart by length: a new code may begin with B as well."""
    short = len(canonical.replace("-", "")) == BOOKING_CODE.length
    return BOOKING_CODE if short else LEGACY_BOOKING_CODE


def code_hash(material: bytes, code: str) -> bytes:
    """Return the keyed hash stored for a canonical code (of either format)."""
    body = code.replace("-", "")[len(_format_of(code).prefix) :]
    return hmac.new(material, body.encode(), hashlib.sha256).digest()


def canonical_code(text_code: str) -> str:
    """Parse a typed code (lenient about case, dashes, look-alikes) or raise 422 naming why."""
    try:
        return parse_code(text_code, BOOKING_CODE)
    except InvalidCode as current:
        rule = current.rule
    try:
        return parse_code(text_code, LEGACY_BOOKING_CODE)
    except InvalidCode as legacy:
        # Report what the old format found only for what looks like an old code.
        if legacy.rule == "check" and rule == "length":
            rule = "check"
    raise MistypedCode(rule) from None


def _end_of_utc_day(now: datetime) -> int:
    """Return the seconds until the rate-limit key changes (it is derived per UTC day)."""
    tomorrow = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, int((tomorrow - now).total_seconds()))


# Core statements on the session's connection: under the write lock, the ORM's execution
# layer (with an autoflush each time) cost several times the statements themselves.
_SLOTS, _BOOKINGS = Slot.__table__, Booking.__table__
_CLIENT_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_ACTIVE_OF_CLIENT = (
    select(func.count())
    .select_from(_BOOKINGS)
    .where(
        _BOOKINGS.c.client_key == bindparam("client"), _BOOKINGS.c.status == BookingStatus.ACTIVE
    )
)
_TAKE_PLACE = (
    update(_SLOTS)
    .where(
        _SLOTS.c.id == bindparam("slot"),
        _SLOTS.c.booked < _SLOTS.c.capacity,
        _SLOTS.c.cancelled_at.is_(None),
        _SLOTS.c.starts_at > bindparam("now"),
    )
    .values(booked=_SLOTS.c.booked + 1)
    .returning(_SLOTS.c.booked)
)


def _check_client_cap(client_key: str, cap: int) -> None:
    """Refuse a client that already holds `cap` active bookings."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Serialise one client's bookings so that parallel requests cannot pass the cap together.
        lock = {"k": zlib.crc32(f"booking-client:{client_key}".encode())}
        driver_execute(connection, _CLIENT_LOCK, lock)
    held = driver_execute(connection, _ACTIVE_OF_CLIENT, {"client": client_key})[0][0]
    if held >= cap:
        raise TooManyRequests(
            "you hold as many active bookings as one person may; cancel one or come back later",
            headers={"Retry-After": str(_end_of_utc_day(clock.now()))},
        )


# One read on the driver, in autocommit, of what the checks and the answer need: the slot, its
# service, the clinic and its region. Loaded as ORM objects it cost more than the booking's
# writes; the answer's schemas only read attributes, so plain namespaces serve them.
_SERVICE_FIELDS = (
    "id", "name", "care_type", "medications", "languages", "opening_hours", "anonymous",
    "address", "phone", "description", "translations", "cost", "wheelchair",
)  # fmt: skip
_SLOT_PARTS = (
    (Slot, ("id", "service_id", "starts_at", "ends_at", "capacity", "booked", "cancelled_at")),
    (Service, _SERVICE_FIELDS),
    (Clinic, ("id", "name", "timezone")),
    (Region, ("code", "name_en", "name_ru", "name_kk")),
)
_BOOKABLE_SLOT = (
    select(*(getattr(model, name) for model, names in _SLOT_PARTS for name in names))
    .join(Service, Service.id == Slot.service_id)
    .join(Clinic, Clinic.id == Service.clinic_id)
    .join(Region, Region.code == Clinic.region_code)
    .where(Slot.id == bindparam("slot_id"), Service.published.is_(True))
)
_SLOT_STATE = select(Slot.cancelled_at, Slot.starts_at).where(Slot.id == bindparam("slot_id"))


def bookable_slot(slot_id: int) -> SimpleNamespace:
    """Return a slot of a published service (with .service.clinic.region), or raise NotFound."""
    rows = driver_query(reading_bind(), _BOOKABLE_SLOT, {"slot_id": slot_id})
    if not rows:
        raise NotFound("no such slot")
    values = iter(rows[0])
    slot, service, clinic, region = (
        SimpleNamespace(**{name: next(values) for name in names}) for _, names in _SLOT_PARTS
    )
    clinic.region, service.clinic, slot.service = region, clinic, service
    return slot


def _take_place(slot: SimpleNamespace) -> None:
    """Take one place with a conditional UPDATE: capacity holds under any concurrency."""
    now = clock.now()
    connection = db.session.connection()
    taken = driver_execute(connection, _TAKE_PLACE, {"slot": slot.id, "now": now})
    if taken:
        slot.booked = taken[0][0]  # the count the answer shows
        return
    # Say why from the slot as it is now, not as the lookup before the lock saw it.
    cancelled_at, starts_at = driver_execute(connection, _SLOT_STATE, {"slot_id": slot.id})[0]
    if cancelled_at is not None or starts_at <= now:
        raise Conflict("the slot is no longer open for booking")
    raise Conflict("the slot is full")


# The booking goes in on the driver, outside the ORM: its unit of work cost several times the
# INSERT, made while other writers wait.
_INSERT_BOOKING = insert(_BOOKINGS).returning(_BOOKINGS.c.id)


@dataclass(frozen=True)
class NewBooking:
    """A booking just made, with the slot (and service) it was made for, as the answer shows."""

    id: int
    status: str
    slot: SimpleNamespace


def book_slot(slot_id: int, solution: str, client_key: str) -> tuple[NewBooking, str]:
    """Book a place; return the booking and its code, which is never stored or shown again."""
    solved = verify_solution(solution)
    return _book(slot_id, client_key, current_app.config["BOOKINGS_PER_CLIENT"], solved)


def book_slot_without_proof(slot_id: int, client_key: str) -> tuple[NewBooking, str]:
    """Book for a browser without JavaScript: a stricter cap stands in for the proof of work."""
    return _book(slot_id, client_key, current_app.config["NO_SCRIPT_BOOKINGS_PER_CLIENT"], None)


def _book(slot_id: int, client_key: str, cap: int, solved: Solved | None) -> tuple[NewBooking, str]:
    # The slot is only looked up here: the conditional UPDATE below decides whether a place
    # is free, so the lookup need not hold the write lock.
    slot = bookable_slot(slot_id)
    _check_client_cap(client_key, cap)
    if solved is not None:
        spend(solved)
    _take_place(slot)
    code = new_code(BOOKING_CODE)
    key = keyring().primary(PURPOSE)
    values = {
        "slot_id": slot.id,
        "code_hash": code_hash(key.material, code),
        "key_version": key.version,
        "status": BookingStatus.ACTIVE,
        "client_key": client_key,
    }
    booking_id = driver_execute(db.session.connection(), _INSERT_BOOKING, values)[0][0]
    record("booking.create", "booking", booking_id)
    return NewBooking(booking_id, BookingStatus.ACTIVE, slot), code


def find_booking(code: str) -> Booking:
    """Return the booking a code opens, or raise NotFound after the same work either way."""
    canonical = canonical_code(code)
    # Every key version, always: the work does not depend on which version (if any) matches.
    hashes = [code_hash(key.material, canonical) for key in keyring().history(PURPOSE)]
    booking = db.session.execute(
        select(Booking).where(Booking.code_hash.in_(hashes))
    ).scalar_one_or_none()
    if booking is None:
        raise NotFound("no booking has this code")
    return booking


def _end(booking: Booking, status: BookingStatus, release_place: bool) -> None:
    """Move an active booking to a final status; refuse if it is no longer active."""
    now = clock.now()
    done = db.session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == BookingStatus.ACTIVE)
        .values(status=status, ended_at=now, client_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(booking)
    if not done:
        raise Conflict(f"the booking is {booking.status.replace('_', ' ')}")
    if release_place:
        db.session.execute(
            update(Slot)
            .where(Slot.id == booking.slot_id)
            .values(booked=Slot.booked - 1)
            .execution_options(synchronize_session=False)
        )
        db.session.expire(booking.slot)


def cancel_booking(code: str) -> Booking:
    """Cancel a booking by its code before the slot starts; the place is freed."""
    booking = find_booking(code)
    if booking.status == BookingStatus.ACTIVE and booking.slot.starts_at <= clock.now():
        raise Conflict("the slot has started; it can no longer be cancelled")
    _end(booking, BookingStatus.CANCELLED, release_place=True)
    record("booking.cancel", "booking", booking.id)
    return booking


def check_in(clinic_id: int, code: str) -> Booking:
    """Check a booking in at its own clinic; another clinic's code is reported as not found."""
    booking = find_booking(code)
    if booking.slot.service.clinic_id != clinic_id:
        raise NotFound("no booking has this code")
    _end(booking, BookingStatus.CHECKED_IN, release_place=False)
    record("booking.check_in", "booking", booking.id)
    return booking


def clinic_bookings(
    clinic_id: int, start: datetime, end: datetime, status: str | None, service_id: int | None
) -> list[Booking]:
    """Return the clinic's bookings for slots starting in [start, end)."""
    query = (
        select(Booking)
        .join(Slot, Booking.slot_id == Slot.id)
        .join(Service, Slot.service_id == Service.id)
        .where(Service.clinic_id == clinic_id, Slot.starts_at >= start, Slot.starts_at < end)
        .order_by(Slot.starts_at, Booking.id)
        .limit(1000)
    )
    if status:
        query = query.where(Booking.status == status)
    if service_id is not None:
        query = query.where(Slot.service_id == service_id)
    return list(db.session.execute(query).scalars())
