"""Slots: a clinic publishes capacity per time, one by one or from a weekly pattern."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update

from registry import clock
from registry.access.models import Booking, BookingStatus, Service, Slot
from registry.access.vocab import WEEKDAYS
from registry.audit.log import record
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db

# Slot times stay in this century: far enough ahead for any clinic, and far from the ends of
# the calendar, where converting a time to UTC or adding a duration overflows.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
FIRST_MOMENT = datetime.combine(FIRST_DAY, time.min, tzinfo=UTC)
LAST_MOMENT = datetime.combine(LAST_DAY, time(23, 0), tzinfo=UTC)
OUTSIDE_CALENDAR = f"must be between {FIRST_DAY.year} and {LAST_DAY.year}"


def _existing_starts(service_id: int, starts: list[datetime]) -> set[datetime]:
    """Return which of the start times the service already has a live slot at."""
    if not starts:
        return set()
    query = select(Slot.starts_at).where(
        Slot.service_id == service_id,
        Slot.cancelled_at.is_(None),
        Slot.starts_at.in_(starts),
    )
    return set(db.session.execute(query).scalars())


def create_slot(service: Service, starts_at: datetime, duration_minutes: int, capacity: int):
    """Create one slot; refuse one in the past or at a time the service already has."""
    if starts_at <= clock.now():
        raise ValidationFailed(errors={"starts_at": ["must be in the future"]})
    starts_at = starts_at.astimezone(UTC)
    if _existing_starts(service.id, [starts_at]):
        raise Conflict("the service already has a slot at this time")
    return _add_slots(service, [starts_at], duration_minutes, capacity)


def pattern_starts(
    weekdays: list[str], times: list[time], first: date, last: date, zone: ZoneInfo
) -> list[datetime]:
    """Return the UTC start of every weekday × local time between two dates (inclusive)."""
    wanted = {WEEKDAYS.index(day) for day in weekdays}
    starts = []
    day = first
    while day <= last:
        if day.weekday() in wanted:
            for at in times:
                # Local wall time in the clinic's zone; fold=0 picks the first of a repeated hour.
                starts.append(datetime.combine(day, at, tzinfo=zone).astimezone(UTC))
        day += timedelta(days=1)
    return sorted(set(starts))


def create_weekly_slots(
    service: Service,
    weekdays: list[str],
    times: list[time],
    first: date,
    last: date,
    duration_minutes: int,
    capacity: int,
) -> list[Slot]:
    """Create the pattern's future slots, skipping times the service already has."""
    if last < first:
        raise ValidationFailed(errors={"weekly.to_date": ["must not be before from_date"]})
    if (last - first).days > 366:
        raise ValidationFailed(errors={"weekly.to_date": ["at most one year after from_date"]})
    zone = ZoneInfo(service.clinic.timezone)
    now = clock.now()
    starts = [s for s in pattern_starts(weekdays, times, first, last, zone) if s > now]
    limit = current_app.config["MAX_SLOTS_PER_PATTERN"]
    if len(starts) > limit:
        raise ValidationFailed(errors={"weekly": [f"creates more than {limit} slots"]})
    taken = _existing_starts(service.id, starts)
    starts = [s for s in starts if s not in taken]
    if not starts:
        raise ValidationFailed(errors={"weekly": ["creates no new future slot"]})
    return _add_slots(service, starts, duration_minutes, capacity)


def _add_slots(service: Service, starts: list[datetime], minutes: int, capacity: int):
    slots = [
        Slot(
            service_id=service.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            capacity=capacity,
            booked=0,
        )
        for start in starts
    ]
    db.session.add_all(slots)
    db.session.flush()
    for slot in slots:
        record("slot.create", "slot", slot.id)
    return slots


def clinic_slot(clinic_id: int, slot_id: int) -> Slot:
    """Return a slot of the clinic; another clinic's is reported as not found."""
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.service.clinic_id != clinic_id:
        raise NotFound("no such object")
    return slot


def clinic_slots(clinic_id: int, service_id: int | None, start: datetime, end: datetime):
    """Return the clinic's slots starting in [start, end), cancelled ones included."""
    query = (
        select(Slot)
        .join(Service)
        .where(Service.clinic_id == clinic_id, Slot.starts_at >= start, Slot.starts_at < end)
        .order_by(Slot.starts_at, Slot.id)
    )
    if service_id is not None:
        query = query.where(Slot.service_id == service_id)
    return list(db.session.execute(query).scalars())


def free_slots(service: Service, days: int) -> list[Slot]:
    """Return the service's slots with a free place, from now for `days` days."""
    now = clock.now()
    query = (
        select(Slot)
        .where(
            Slot.service_id == service.id,
            Slot.cancelled_at.is_(None),
            Slot.starts_at > now,
            Slot.starts_at <= now + timedelta(days=days),
            Slot.booked < Slot.capacity,
        )
        .order_by(Slot.starts_at, Slot.id)
        .limit(200)
    )
    return list(db.session.execute(query).scalars())


def change_slot(slot: Slot, capacity: int | None, starts_at: datetime | None, minutes: int | None):
    """Change capacity (never below the bookings) or time (only while nobody has booked)."""
    if slot.cancelled_at is not None:
        raise Conflict("the slot is cancelled")
    values: dict = {}
    guard = [Slot.id == slot.id, Slot.cancelled_at.is_(None)]
    if capacity is not None:
        values["capacity"] = capacity
        guard.append(Slot.booked <= capacity)
    if starts_at is not None or minutes is not None:
        if starts_at is not None and starts_at <= clock.now():
            raise ValidationFailed(errors={"starts_at": ["must be in the future"]})
        start = (starts_at or slot.starts_at).astimezone(UTC)
        length = timedelta(minutes=minutes) if minutes else slot.ends_at - slot.starts_at
        values.update(starts_at=start, ends_at=start + length)
        # People were told a time: moving a slot with bookings would strand them.
        guard.append(Slot.booked == 0)
    if not values:
        return slot
    # Conditional update: a booking racing with this change cannot slip past the guard.
    done = db.session.execute(
        update(Slot).where(*guard).values(**values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(slot)
    if not done:
        raise Conflict(
            "the slot has bookings: capacity cannot go below them and the time cannot move",
            extra={"booked": slot.booked},
        )
    record("slot.update", "slot", slot.id)
    return slot


def cancel_slot(slot: Slot, cancel_bookings: bool) -> list[Booking]:
    """Cancel a slot; with bookings, refuse unless asked to cancel them too (each audited)."""
    guard = [Slot.id == slot.id, Slot.cancelled_at.is_(None)]
    if not cancel_bookings:
        guard.append(Slot.booked == 0)
    now = clock.now()
    done = db.session.execute(
        update(Slot)
        .where(*guard)
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(slot)
    if not done:
        if slot.cancelled_at is not None:
            raise Conflict("the slot is cancelled already")
        raise Conflict(
            "the slot has active bookings; repeat with cancel_bookings true to cancel them",
            extra={"booked": slot.booked},
        )
    active = list(
        db.session.execute(
            select(Booking).where(
                Booking.slot_id == slot.id, Booking.status == BookingStatus.ACTIVE
            )
        ).scalars()
    )
    for booking in active:
        booking.status = BookingStatus.CANCELLED_BY_CLINIC
        booking.ended_at = now
        booking.client_key = None
        record("booking.cancel_by_clinic", "booking", booking.id)
    # Keep `booked` equal to the places taken (checked-in bookings keep theirs).
    slot.booked = slot.booked - len(active)
    db.session.flush()
    record("slot.cancel", "slot", slot.id)
    return active
