"""Public care access: search services, see free slots, book, look up and cancel; no token."""

from types import SimpleNamespace

from registry.access.bookings import book_slot, cancel_booking, find_booking
from registry.access.challenges import issue_challenge
from registry.access.directory import ServiceFilter, public_service, search_services
from registry.access.slots import free_slots
from registry.api.blueprint import ApiBlueprint
from registry.api.public.schemas import (
    BookingCreatedSchema,
    BookingRequestSchema,
    BookingViewSchema,
    ChallengeSchema,
    CodeSchema,
    PublicServiceSchema,
    PublicSlotSchema,
    ServicePageSchema,
    ServiceQuerySchema,
    SlotQuerySchema,
)
from registry.api.ratelimit import client_key, public_limit
from registry.database import commit_for_answer
from registry.extensions import db

blp = ApiBlueprint(
    "public", __name__, url_prefix="/api/v1/public", description="Public care access (no token)"
)

# Shared budgets: the web pages draw on the same ones (registry.site).
read_limit = public_limit("PUBLIC_READ_LIMIT", "public-read")
challenge_limit = public_limit("CHALLENGE_LIMIT", "challenge")
booking_limit = public_limit("BOOKING_LIMIT", "booking")
lookup_limit = public_limit("BOOKING_LOOKUP_LIMIT", "booking-lookup")


@blp.route("/services", methods=["GET"])
@blp.public
@read_limit
@blp.arguments(ServiceQuerySchema, location="query")
@blp.response(200, ServicePageSchema)
def services(query):
    """Search published services by region, care, medication, language and free slots."""
    page, per_page = query.pop("page"), query.pop("per_page")
    return search_services(ServiceFilter(**query), page, per_page)


@blp.route("/services/<int:service_id>", methods=["GET"])
@blp.public
@read_limit
@blp.response(200, PublicServiceSchema)
@blp.alt_response(404, response="NOT_FOUND")
def service(service_id: int):
    """Return one published service."""
    return public_service(service_id)


@blp.route("/services/<int:service_id>/slots", methods=["GET"])
@blp.public
@read_limit
@blp.arguments(SlotQuerySchema, location="query")
@blp.response(200, PublicSlotSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
def slots(query, service_id: int):
    """List the service's slots with a free place in the next days."""
    return free_slots(public_service(service_id), query["days"])


@blp.route("/challenge", methods=["GET"])
@blp.public
@challenge_limit
@blp.response(200, ChallengeSchema)
def challenge():
    """Issue a proof-of-work challenge (ALTCHA v1); single use, expires."""
    return issue_challenge()


@blp.route("/bookings", methods=["POST"])
@blp.public
@booking_limit
@blp.arguments(BookingRequestSchema)
@blp.response(201, BookingCreatedSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def book(data):
    """Book a place with a solved challenge; the code in the answer is shown only this once."""
    booking, code = book_slot(data["slot_id"], data["altcha"], client_key())
    commit_for_answer()
    return SimpleNamespace(code=code, status=booking.status, slot=booking.slot)


@blp.route("/bookings/lookup", methods=["POST"])
@blp.public
@lookup_limit
@blp.arguments(CodeSchema)
@blp.response(200, BookingViewSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def lookup(data):
    """Return the booking a code opens (the code goes in the body, never in a URL)."""
    return find_booking(data["code"])


@blp.route("/bookings/cancel", methods=["POST"])
@blp.public
@lookup_limit
@blp.arguments(CodeSchema)
@blp.response(200, BookingViewSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def cancel(data):
    """Cancel the booking a code opens and free its place."""
    booking = cancel_booking(data["code"])
    db.session.commit()
    return booking
