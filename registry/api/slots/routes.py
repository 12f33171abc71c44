"""Clinic-side care access: services, slots and bookings of the caller's own clinic."""

from datetime import timedelta

from registry import clock
from registry.access.bookings import check_in, clinic_bookings
from registry.access.directory import (
    clinic_service,
    clinic_services,
    create_service,
    update_service,
)
from registry.access.slots import (
    cancel_slot,
    change_slot,
    clinic_slot,
    clinic_slots,
    create_slot,
    create_weekly_slots,
)
from registry.api.blueprint import ApiBlueprint
from registry.api.slots.schemas import (
    BookingQuerySchema,
    CheckInResultSchema,
    CheckInSchema,
    ClinicBookingSchema,
    RangeQuerySchema,
    ServicePatchSchema,
    ServiceSchema,
    SlotCancelledSchema,
    SlotCancelSchema,
    SlotCreateSchema,
    SlotPatchSchema,
    SlotSchema,
)
from registry.auth.guard import require_own_clinic
from registry.auth.models import Role
from registry.errors import ValidationFailed
from registry.extensions import db

blp = ApiBlueprint(
    "clinic_access",
    __name__,
    url_prefix="/api/v1/clinics/<int:clinic_id>",
    description="A clinic's services, slots and bookings",
)
STAFF = (Role.CLINICIAN, Role.CLINIC_ADMIN)


def _window(query: dict) -> tuple:
    now = clock.now()
    start = query.get("start") or now - timedelta(days=1)
    end = query.get("end") or now + timedelta(days=30)
    if end <= start:
        raise ValidationFailed(errors={"to": ["must be after from"]})
    return start, end


@blp.route("/services", methods=["POST"])
@blp.auth(Role.CLINIC_ADMIN)
@blp.arguments(ServiceSchema)
@blp.response(201, ServiceSchema)
@blp.alt_response(404, response="NOT_FOUND")
def add_service(data, clinic_id: int):
    """Publish a service of the caller's clinic."""
    require_own_clinic(clinic_id)
    service = create_service(clinic_id, **data)
    db.session.commit()
    return service


@blp.route("/services", methods=["GET"])
@blp.auth(*STAFF)
@blp.response(200, ServiceSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
def list_services(clinic_id: int):
    """List the clinic's services, published or not."""
    require_own_clinic(clinic_id)
    return clinic_services(clinic_id)


@blp.route("/services/<int:service_id>", methods=["PATCH"])
@blp.auth(Role.CLINIC_ADMIN)
@blp.arguments(ServicePatchSchema)
@blp.response(200, ServiceSchema)
@blp.alt_response(404, response="NOT_FOUND")
def edit_service(data, clinic_id: int, service_id: int):
    """Change a service's directory data or unpublish it."""
    require_own_clinic(clinic_id)
    service = update_service(clinic_service(clinic_id, service_id), data)
    db.session.commit()
    return service


@blp.route("/slots", methods=["POST"])
@blp.auth(Role.CLINIC_ADMIN)
@blp.arguments(SlotCreateSchema)
@blp.response(201, SlotSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def add_slots(data, clinic_id: int):
    """Create one slot or a weekly pattern of slots, each with a capacity."""
    require_own_clinic(clinic_id)
    service = clinic_service(clinic_id, data["service_id"])
    if "starts_at" in data:
        slots = create_slot(service, data["starts_at"], data["duration_minutes"], data["capacity"])
    else:
        weekly = data["weekly"]
        slots = create_weekly_slots(
            service,
            weekly["weekdays"],
            weekly["times"],
            weekly["from_date"],
            weekly["to_date"],
            data["duration_minutes"],
            data["capacity"],
        )
    db.session.commit()
    return slots


@blp.route("/slots", methods=["GET"])
@blp.auth(*STAFF)
@blp.arguments(RangeQuerySchema, location="query")
@blp.response(200, SlotSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
def list_slots(query, clinic_id: int):
    """List the clinic's slots in a time window, with their bookings count."""
    require_own_clinic(clinic_id)
    start, end = _window(query)
    return clinic_slots(clinic_id, query.get("service_id"), start, end)


@blp.route("/slots/<int:slot_id>", methods=["PATCH"])
@blp.auth(Role.CLINIC_ADMIN)
@blp.arguments(SlotPatchSchema)
@blp.response(200, SlotSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def edit_slot(data, clinic_id: int, slot_id: int):
    """Change capacity (409 below its bookings) or time (409 once anyone has booked)."""
    require_own_clinic(clinic_id)
    slot = change_slot(
        clinic_slot(clinic_id, slot_id),
        data.get("capacity"),
        data.get("starts_at"),
        data.get("duration_minutes"),
    )
    db.session.commit()
    return slot


@blp.route("/slots/<int:slot_id>/cancel", methods=["POST"])
@blp.auth(Role.CLINIC_ADMIN)
@blp.arguments(SlotCancelSchema)
@blp.response(200, SlotCancelledSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def cancel(data, clinic_id: int, slot_id: int):
    """Cancel a slot; with bookings, 409 unless cancel_bookings is true (each one audited)."""
    require_own_clinic(clinic_id)
    slot = clinic_slot(clinic_id, slot_id)
    cancelled = cancel_slot(slot, data["cancel_bookings"])
    db.session.commit()
    return {"slot": slot, "cancelled_bookings": len(cancelled)}


@blp.route("/bookings", methods=["GET"])
@blp.auth(*STAFF)
@blp.arguments(BookingQuerySchema, location="query")
@blp.response(200, ClinicBookingSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
def bookings(query, clinic_id: int):
    """List the clinic's bookings for slots in a time window."""
    require_own_clinic(clinic_id)
    start, end = _window(query)
    return clinic_bookings(clinic_id, start, end, query.get("status"), query.get("service_id"))


@blp.route("/bookings/check-in", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(CheckInSchema)
@blp.response(200, CheckInResultSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def check_in_booking(data, clinic_id: int):
    """Check a booking in with the code the patient shows; hand over to anonymous registration."""
    require_own_clinic(clinic_id)
    booking = check_in(clinic_id, data["code"])
    db.session.commit()
    return {
        "booking": booking,
        "registration": {"mode": "anonymous", "method": "POST", "href": "/api/v1/patients"},
    }
