"""Server-rendered pages; every value shown is escaped by Jinja, secrets travel in POST bodies."""

from itertools import groupby
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_location
from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from registry import clock
from registry.access.bookings import (
    BOOKING_CODE,
    MistypedCode,
    book_slot,
    book_slot_without_proof,
    bookable_slot,
    cancel_booking,
    canonical_code,
    find_booking,
)
from registry.access.directory import ServiceFilter, public_service, search_services
from registry.access.localized import localized
from registry.access.models import BookingStatus, Region
from registry.access.slots import free_slots
from registry.api.public.routes import booking_limit, lookup_limit, read_limit
from registry.api.public.schemas import ServiceQuerySchema
from registry.api.ratelimit import client_key, public_limit
from registry.auth.guard import public
from registry.errors import NotFound, RegistryError, TooManyRequests, ValidationFailed
from registry.extensions import db
from registry.site import labels
from registry.site.i18n import current_language, languages
from registry.site.keep import qr_pictures

site = Blueprint(
    "site",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/site",
)
SLOT_DAYS = 14
CODE_EXAMPLE = "7R4J-6FSR-QK99-CCMD-5P"  # the shape of a booking code, shown as a hint
BOOKING_ENDPOINTS = frozenset({"site.book", "site.book_without_script"})
no_script_limit = public_limit("BOOKING_NO_SCRIPT_LIMIT", "booking-no-script")


@site.app_template_global()
def page_url(endpoint: str, **values) -> str:
    """Build a link that keeps the page language (no cookie remembers it)."""
    return url_for(endpoint, lang=current_language(), **values)


def switch_url(code: str) -> str:
    """Link to this page in another language; a POST result page links to the search."""
    if request.method != "GET" or not request.endpoint or request.endpoint == "site.static":
        return url_for("site.index", lang=code)
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return url_for(request.endpoint, **(request.view_args or {}), **args, lang=code)


@site.app_template_filter("text")
def service_text(service, field: str) -> str | None:
    """Give a service's name, address or description in the page language."""
    return localized(service, field, current_language())


@site.context_processor
def page_context() -> dict:
    """Give every page its language, the language switch and the labels."""
    return {
        "lang": current_language(),
        "languages": languages(),
        "labels": labels,
        "switch_url": switch_url,
        "code_switch": None,
        "code_example": CODE_EXAMPLE,
        "crisis": {
            "ambulance": current_app.config["CRISIS_AMBULANCE_PHONE"],
            "emergency": current_app.config["CRISIS_EMERGENCY_PHONE"],
        },
    }


def _regions() -> list[tuple[str, str]]:
    lang = current_language()
    rows = db.session.execute(select(Region).order_by(Region.code)).scalars()
    return [(r.code, getattr(r, f"name_{lang}", r.name_en)) for r in rows]


def _filters() -> tuple[dict, bool]:
    """Read the search form; drop values that do not parse rather than fail the page."""
    raw = {k: v for k, v in request.args.items() if k != "lang" and v != ""}
    try:
        return ServiceQuerySchema().load(raw), False
    except ValidationError as exc:
        bad = set(exc.messages)
        kept = {k: v for k, v in raw.items() if k not in bad}
        return ServiceQuerySchema().load(kept), True


@site.route("/", methods=["GET"])
@public
@read_limit
def index():
    """Search services."""
    query, had_errors = _filters()
    page, per_page = query.pop("page"), query.pop("per_page")
    results = search_services(ServiceFilter(**query), page, per_page)
    region_names = dict(_regions())
    args = {k: v for k, v in request.args.items() if k not in {"page", "lang"}}
    return render_template(
        "site/index.html",
        query=query,
        results=results,
        regions=region_names,
        had_errors=had_errors,
        prev_url=page_url("site.index", **args, page=page - 1) if page > 1 else None,
        next_url=(
            page_url("site.index", **args, page=page + 1)
            if page * per_page < results.total
            else None
        ),
    )


def _slot_days(slots, zone: ZoneInfo, lang: str) -> list[tuple[str, list]]:
    """Group slots by local day, with local times formatted for the page language."""
    rows = [(slot, slot.starts_at.astimezone(zone)) for slot in slots]
    days = []
    for day, group in groupby(rows, key=lambda row: row[1].date()):
        entries = [
            {"slot": slot, "time": format_time(local, "HH:mm", locale=lang)}
            for slot, local in group
        ]
        days.append((format_date(day, "EEEE, d MMMM", locale=lang), entries))
    return days


@site.app_template_filter("zone")
def zone_label(timezone: str) -> str:
    """Name a clinic's time zone by its city and offset (Almaty, UTC+5), not its tz name."""
    lang = current_language()
    city = get_timezone_location(timezone, locale=lang, return_city=True)
    offset = clock.now().astimezone(ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{city}, UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@site.route("/services/<int:service_id>", methods=["GET"])
@public
@read_limit
def service(service_id: int):
    """Show a service and its free slots, each with a booking form."""
    found = public_service(service_id)
    zone = ZoneInfo(found.clinic.timezone)
    slots = free_slots(found, SLOT_DAYS)
    return render_template(
        "site/service.html",
        service=found,
        region=getattr(found.clinic.region, f"name_{current_language()}"),
        days=_slot_days(slots, zone, current_language()),
        slot_days=SLOT_DAYS,
    )


def _form_int(name: str) -> int:
    value = request.form.get(name, "")
    if not value.isdigit() or len(value) > 10:
        raise ValidationFailed(errors={name: ["must be a number"]})
    return int(value)


@site.route("/book", methods=["POST"])
@public
@booking_limit
def book():
    """Book with the proof of work the page's script computed; show the code this once."""
    booking, code = book_slot(
        _form_int("slot_id"), request.form.get("altcha", "")[:2048], client_key()
    )
    db.session.commit()
    return _show_code(code, booking.slot)


@site.route("/book/no-script", methods=["POST"])
@public
@booking_limit
@no_script_limit
def book_without_script():
    """Book from a browser without JavaScript, under the stricter per-network limits."""
    booking, code = book_slot_without_proof(_form_int("slot_id"), client_key())
    db.session.commit()
    return _show_code(code, booking.slot)


def _show_code(code: str, slot) -> str:
    """Render the page that shows a booking code, switching language by POST to keep it."""
    return render_template(
        "site/booked.html",
        code=code,
        qr=qr_pictures(code),
        slot=slot,
        when=_when(slot),
        code_switch={"endpoint": "site.show_code", "code": code},
    )


@site.route("/booking/code", methods=["POST"])
@public
@lookup_limit
def show_code():
    """Show the code page again in another language; the code comes in the POST body."""
    code = canonical_code(request.form.get("code", "")[:80])
    return _show_code(code, find_booking(code).slot)


def _when(slot) -> str:
    """Describe a slot's local start for the page language."""
    lang = current_language()
    local = slot.starts_at.astimezone(ZoneInfo(slot.service.clinic.timezone))
    return (
        f"{format_date(local.date(), 'EEEE, d MMMM y', locale=lang)}, "
        f"{format_time(local, 'HH:mm', locale=lang)}"
    )


@site.route("/booking", methods=["GET"])
@public
@read_limit
def lookup_form():
    """Ask for a booking code."""
    return render_template("site/lookup.html")


@site.route("/booking", methods=["POST"])
@public
@lookup_limit
def lookup():
    """Show the booking a code opens, with a cancel button while that is possible."""
    code = request.form.get("code", "")[:80]
    try:
        booking = find_booking(code)
    except (MistypedCode, NotFound) as error:
        # Ask again with what was typed kept in the field: one wrong character is fixed in
        # place, not typed again. It comes back in the body of a no-store page, never a URL.
        status, message = _explain(error)
        return render_template("site/lookup.html", typed=code, error=message), status
    cancellable = booking.status == BookingStatus.ACTIVE and booking.slot.starts_at > clock.now()
    return render_template(
        "site/booking.html",
        booking=booking,
        code=code,
        code_switch={"endpoint": "site.lookup", "code": code},
        when=_when(booking.slot),
        cancellable=cancellable,
    )


@site.route("/booking/cancel", methods=["POST"])
@public
@lookup_limit
def cancel():
    """Cancel the booking a code opens."""
    booking = cancel_booking(request.form.get("code", "")[:80])
    db.session.commit()
    return render_template("site/cancelled.html", booking=booking, when=_when(booking.slot))


@site.route("/anonymity", methods=["GET"])
@public
@read_limit
def anonymity():
    """Explain in plain words what is stored, what is asked, and who runs the service."""
    return render_template(
        "site/anonymity.html",
        operator=current_app.config["SITE_OPERATOR"],
        complaints=current_app.config["SITE_COMPLAINTS"],
    )


def _explain(error: Exception) -> tuple[int, str]:
    """Return the status and a plain, translated explanation of what went wrong."""
    if isinstance(error, TooManyRequests) and request.endpoint in BOOKING_ENDPOINTS:
        # The service's cap on active bookings per network address, not the request rate.
        return 429, _(
            "You cannot book more times now: this connection already holds as many active "
            "bookings as one person may. The limit counts bookings per network address, so "
            "people who share one connection (a home, work or mobile network) share it. "
            'Cancel one of your bookings under "My booking", or phone the clinic.'
        )
    if request.endpoint == "site.book_without_script" and getattr(error, "code", None) == 429:
        return 429, _(
            "Booking without JavaScript is limited to a few times a day from one network "
            "address, to keep robots out. Turn on JavaScript and try again, or phone the clinic."
        )
    if isinstance(error, TooManyRequests) or getattr(error, "code", None) == 429:
        return 429, _("Too many requests from your connection. Please wait a little and try again.")
    if isinstance(error, ValidationFailed) and "altcha" in (error.errors or {}):
        return 422, _("The automatic check did not work. Please go back and try again.")
    if isinstance(error, MistypedCode):
        return 422, _mistyped(error.rule)
    if isinstance(error, ValidationFailed) and "code" in (error.errors or {}):
        return 422, _("This code has a typo. Please check every character and try again.")
    if isinstance(error, NotFound) and request.endpoint in {"site.lookup", "site.cancel"}:
        return 404, _("No booking has this code. Please check it and try again.")
    if isinstance(error, RegistryError) and error.status == 409:
        return 409, _("This is no longer possible: the time may be full, cancelled or past.")
    status = getattr(error, "status", None) or getattr(error, "code", None) or 400
    if status == 404:
        return 404, _("This page does not exist.")
    if status == 413:
        return 413, _("What you sent is too large.")
    return status, _("Something in the request was not understood. Please try again.")


def _mistyped(rule: str) -> str:
    """Say which way a typed code cannot be right, so the reader knows what to check."""
    if rule == "check":
        return _(
            "Check the code: one of its characters is mistyped. The last two characters are "
            "a check, and they do not match the rest. Compare every character with your note."
        )
    if rule == "alphabet":
        return _("Check the code: it holds only Latin letters and digits.")
    return _(
        "Check the code: a booking code has %(num)d letters and digits, like %(example)s "
        "(dashes and spaces do not count).",
        num=BOOKING_CODE.length,
        example=CODE_EXAMPLE,
    )


def _service_to_phone():
    """Return the service a failed booking was for, so the page can give its phone and hours."""
    slot_id = request.form.get("slot_id", "") if request.endpoint in BOOKING_ENDPOINTS else ""
    if not slot_id.isdigit() or len(slot_id) > 10:
        return None
    try:
        return bookable_slot(int(slot_id)).service
    except NotFound:
        return None


@site.errorhandler(RegistryError)
@site.errorhandler(HTTPException)
def error_page(error: Exception) -> Response:
    """Answer page errors with a page, not JSON."""
    db.session.rollback()
    status, message = _explain(error)
    page = render_template(
        "site/error.html", message=message, status=status, service=_service_to_phone()
    )
    response = Response(page, status=status)
    headers = getattr(error, "headers", None) or {}
    if isinstance(error, HTTPException):
        headers = dict(error.get_headers())
    if status == 429:
        response.headers["Retry-After"] = headers.get("Retry-After", "60")
    return response
