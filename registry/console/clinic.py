"""Clinic staff pages: services and their slots on a week grid, today's bookings and check-in,
and (for the clinic's administrator) its staff's API tokens."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from registry.access.bookings import check_in, clinic_bookings
from registry.access.directory import clinic_service, clinic_services
from registry.access.models import Clinic
from registry.access.slots import cancel_slot, clinic_slot, clinic_slots, create_slot
from registry.api.problems import flatten_messages
from registry.api.slots.schemas import SlotCreateSchema
from registry.auth.models import Role
from registry.auth.tokens import revoke_clinic_token
from registry.auth.users import clinic_staff
from registry.console.blueprint import console
from registry.console.forms import refused, text
from registry.console.guard import console_roles
from registry.episodes.history import today, zone
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db
from registry.site.i18n import current_language

STAFF = (Role.CLINICIAN, Role.CLINIC_ADMIN)
_SLOT_IN = SlotCreateSchema()


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, lang=current_language(), **values)


def _clinic_zone() -> ZoneInfo:
    return zone(db.session.get(Clinic, g.user.clinic_id).timezone)


def _monday(text_day: str, tz: ZoneInfo) -> date:
    """Return the Monday of the week asked for (this week for anything unreadable)."""
    try:
        day = date.fromisoformat(text_day[:10])
    except ValueError:
        day = today(tz)
    day = min(max(day, date(2000, 1, 3)), date(2099, 12, 21))  # the slots' calendar
    return day - timedelta(days=day.weekday())


def _week(service, monday: date, tz: ZoneInfo) -> list[dict]:
    """Return the seven days of a week, each with its slots in the clinic's local time."""
    start = datetime.combine(monday, datetime.min.time(), tzinfo=tz)
    slots = clinic_slots(service.clinic_id, service.id, start, start + timedelta(days=7))
    lang = current_language()
    days = [{"day": monday + timedelta(days=n), "slots": [], "title": ""} for n in range(7)]
    for day in days:
        day["title"] = format_date(day["day"], "EEEE, d MMMM", locale=lang)
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        days[(local.date() - monday).days]["slots"].append(
            {"slot": slot, "time": format_time(local, "HH:mm", locale=lang)}
        )
    return days


def _slot_payload(service_id: int, tz: ZoneInfo) -> dict:
    """Read the add-a-slot form into the API's slot body, validated by its schema."""
    day, at = text("slot_date", 10), text("slot_time", 5)
    try:
        starts = datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=tz)
    except ValueError:
        raise ValidationFailed(errors={"starts_at": ["not a date and time"]}) from None
    body = {
        "service_id": service_id,
        "starts_at": starts.isoformat(),
        "capacity": _number("capacity"),
        "duration_minutes": _number("duration_minutes"),
    }
    try:
        return _SLOT_IN.load(body)
    except ValidationError as exc:
        raise ValidationFailed(errors=flatten_messages(exc.messages)) from None


def _number(name: str) -> int | str:
    value = text(name, 6)
    return int(value) if value.isdigit() else value


@console.route("/console/clinic/services", methods=["GET"])
@console_roles(*STAFF)
def clinic_service_list():
    """List the clinic's services, each leading to its week of slots."""
    services = clinic_services(g.user.clinic_id)
    return render_template("console/services.html", services=services)


def _week_page(service, week: str, errors: dict, status: int = 200):
    tz = _clinic_zone()
    monday = _monday(week, tz)
    page = {
        "service": service,
        "days": _week(service, monday, tz),
        "monday": monday,
        "previous": monday - timedelta(days=7),
        "next": monday + timedelta(days=7),
        "today": today(tz),
        "values": request.form,
        "errors": errors,
        "can_edit": Role.CLINIC_ADMIN in g.user.roles,
        "zone_name": str(tz),
    }
    return render_template("console/slots.html", **page), status


@console.route("/console/clinic/services/<int:service_id>/slots", methods=["GET"])
@console_roles(*STAFF)
def service_slots(service_id: int):
    """Show a service's slots on a week grid, in the clinic's local time."""
    service = clinic_service(g.user.clinic_id, service_id)
    return _week_page(service, request.args.get("week", ""), {})


@console.route("/console/clinic/services/<int:service_id>/slots", methods=["POST"])
@console_roles(Role.CLINIC_ADMIN)
def add_slot(service_id: int):
    """Add one slot to a service, as the API does; show its week."""
    service = clinic_service(g.user.clinic_id, service_id)
    week = text("slot_date", 10)
    try:
        data = _slot_payload(service.id, _clinic_zone())
        create_slot(service, data["starts_at"], data["duration_minutes"], data["capacity"])
        db.session.commit()
    except ValidationFailed as exc:
        return _week_page(service, week, refused(exc), 422)
    except Conflict:
        db.session.rollback()
        return _week_page(
            service,
            week,
            {"starts_at": _("The service already has a slot at this time. Choose another time.")},
            409,
        )
    return redirect(_url("console.service_slots", service_id=service.id, week=week, added=1))


@console.route("/console/clinic/slots/<int:slot_id>/cancel", methods=["POST"])
@console_roles(Role.CLINIC_ADMIN)
def cancel_clinic_slot(slot_id: int):
    """Cancel a slot; with bookings only when the box to cancel them too is ticked."""
    slot = clinic_slot(g.user.clinic_id, slot_id)
    service_id, week = slot.service_id, slot.starts_at.astimezone(_clinic_zone()).date()
    try:
        cancelled = cancel_slot(slot, request.form.get("cancel_bookings") == "yes")
        db.session.commit()
    except Conflict:
        db.session.rollback()
        message = _("This slot has bookings. Tick the box to cancel them too, or keep the slot.")
        return _week_page(
            clinic_service(g.user.clinic_id, service_id), week.isoformat(), {"cancel": message}, 409
        )
    return redirect(
        _url("console.service_slots", service_id=service_id, week=week, cancelled=len(cancelled))
    )


def _bookings_page(errors: dict, checked_in=None, status: int = 200):
    """Render today's bookings of the clinic (local day), with the check-in form."""
    tz = _clinic_zone()
    day = today(tz)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    rows = clinic_bookings(g.user.clinic_id, start, start + timedelta(days=1), None, None)
    services = {service.id: service.name for service in clinic_services(g.user.clinic_id)}
    lang = current_language()
    bookings = [
        {
            "time": format_time(row.slot.starts_at.astimezone(tz), "HH:mm", locale=lang),
            "service": services.get(row.slot.service_id, ""),
            "status": row.status,
        }
        for row in rows
    ]
    db.session.commit()
    page = {
        "bookings": bookings,
        "day": format_date(day, "EEEE, d MMMM", locale=lang),
        "errors": errors,
        "checked_in": checked_in,
    }
    return render_template("console/bookings.html", **page), status


@console.route("/console/clinic/bookings", methods=["GET"])
@console_roles(*STAFF)
def todays_bookings():
    """List today's bookings of the clinic and offer the check-in by code."""
    return _bookings_page({})


@console.route("/console/clinic/bookings/check-in", methods=["POST"])
@console_roles(*STAFF)
def check_in_booking():
    """Check a booking in with the code the patient shows, as the API does."""
    try:
        booking = check_in(g.user.clinic_id, text("booking_code", 80))
        db.session.commit()
    except ValidationFailed:
        db.session.rollback()
        return _bookings_page({"booking_code": _("Check the code: it has a typo.")}, None, 422)
    except NotFound:
        db.session.rollback()
        message = _("No booking at this clinic has this code. Check it with the patient.")
        return _bookings_page({"booking_code": message}, None, 404)
    except Conflict:
        db.session.rollback()
        message = _("This booking cannot be checked in: it is cancelled, missed or done already.")
        return _bookings_page({"booking_code": message}, None, 409)
    tz = _clinic_zone()
    local = booking.slot.starts_at.astimezone(tz)
    done = {"time": format_time(local, "HH:mm", locale=current_language())}
    return _bookings_page({}, done)


@console.route("/console/clinic/staff", methods=["GET"])
@console_roles(Role.CLINIC_ADMIN)
def staff_tokens():
    """List the clinic's staff, their roles and their tokens in force."""
    staff = clinic_staff(g.user.clinic_id)
    db.session.commit()
    return render_template(
        "console/staff.html", staff=staff, revoked=request.args.get("revoked") == "1"
    )


@console.route("/console/clinic/tokens/<int:token_id>/revoke", methods=["POST"])
@console_roles(Role.CLINIC_ADMIN)
def revoke_staff_token(token_id: int):
    """Revoke a staff member's token at once; its next request is refused."""
    revoke_clinic_token(g.user.clinic_id, token_id)
    db.session.commit()
    return redirect(_url("console.staff_tokens", revoked=1))
