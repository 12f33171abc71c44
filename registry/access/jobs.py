"""Scheduled access upkeep: mark no-shows, forget spent challenges."""

from datetime import timedelta

from flask import Flask
from sqlalchemy import delete, select, update

from registry import clock
from registry.access.models import Booking, BookingStatus, Slot, SpentChallenge
from registry.audit.log import record
from registry.extensions import db


def expire_bookings(app: Flask) -> str:
    """Mark active bookings of slots that ended a grace period ago as no-shows."""
    now = clock.now()
    ended = select(Slot.id).where(
        Slot.ends_at < now - timedelta(minutes=app.config["NO_SHOW_GRACE_MINUTES"])
    )
    no_shows = db.session.execute(
        update(Booking)
        .where(Booking.status == BookingStatus.ACTIVE, Booking.slot_id.in_(ended))
        .values(status=BookingStatus.NO_SHOW, ended_at=now, client_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    forgotten = db.session.execute(
        delete(SpentChallenge).where(SpentChallenge.expires_at < now)
    ).rowcount
    if no_shows:
        record("booking.no_show", "bookings", no_shows)
    return f"{no_shows} no-shows, {forgotten} spent challenges forgotten"
