"""Schemas of the clinic-side access endpoints: services, slots, bookings and check-in."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry.access.models import BookingStatus
from registry.access.slots import FIRST_DAY, FIRST_MOMENT, LAST_DAY, LAST_MOMENT, OUTSIDE_CALENDAR
from registry.access.vocab import (
    CARE_TYPES,
    COSTS,
    LANGUAGES,
    MEDICATIONS,
    PAGE_LANGUAGES,
    WEEKDAYS,
)
from registry.api.converters import MAX_ID
from registry.api.public.schemas import local_start

_SLOT_DAY = validate.Range(min=FIRST_DAY, max=LAST_DAY, error=OUTSIDE_CALENDAR)
_SLOT_MOMENT = validate.Range(min=FIRST_MOMENT, max=LAST_MOMENT, error=OUTSIDE_CALENDAR)
_HOURS = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class ServiceTextSchema(Schema):
    """A service's name, address and description in one language; any may be left out."""

    name = fields.String(validate=validate.Length(min=2, max=200))
    address = fields.String(validate=validate.Length(min=3, max=300))
    description = fields.String(validate=validate.Length(max=1000))


def _service_fields(patch: bool) -> dict:
    """Return the fields of a service; for a patch, all optional and without defaults."""

    def opt(default):
        return {} if patch else {"load_default": default}

    need = {} if patch else {"required": True}
    return {
        "name": fields.String(**need, validate=validate.Length(min=2, max=200)),
        "care_type": fields.String(**need, validate=validate.OneOf(CARE_TYPES)),
        "medications": fields.List(
            fields.String(validate=validate.OneOf(MEDICATIONS)),
            validate=validate.Length(max=len(MEDICATIONS)),
            **opt(list),
        ),
        "languages": fields.List(
            fields.String(validate=validate.OneOf(LANGUAGES)),
            validate=validate.Length(min=1, max=len(LANGUAGES)),
            **need,
        ),
        "opening_hours": fields.Dict(
            keys=fields.String(validate=validate.OneOf(WEEKDAYS)),
            values=fields.List(fields.String(validate=_HOURS), validate=validate.Length(max=4)),
            metadata={"example": {"mon": ["09:00-13:00", "14:00-18:00"]}},
            **opt(dict),
        ),
        "anonymous": fields.Boolean(**opt(False)),
        "address": fields.String(**need, validate=validate.Length(min=3, max=300)),
        "phone": fields.String(
            allow_none=True, validate=validate.Regexp(r"^\+?[0-9 ()-]{5,40}$"), **opt(None)
        ),
        "description": fields.String(
            allow_none=True, validate=validate.Length(max=1000), **opt(None)
        ),
        "translations": fields.Dict(
            keys=fields.String(validate=validate.OneOf(PAGE_LANGUAGES)),
            values=fields.Nested(ServiceTextSchema),
            metadata={"example": {"kk": {"name": "Метадон бағдарламасы"}}},
            **opt(dict),
        ),
        "cost": fields.String(
            allow_none=True,
            validate=validate.OneOf(COSTS),
            metadata={"description": "free or paid; null while not stated"},
            **opt(None),
        ),
        "wheelchair": fields.Boolean(
            allow_none=True,
            metadata={"description": "step-free access; null while not stated"},
            **opt(None),
        ),
        "published": fields.Boolean(**opt(True)),
    }


class ServiceSchema(Schema.from_dict(_service_fields(patch=False))):
    """A service's directory data as its clinic publishes it."""

    id = fields.Integer(dump_only=True)
    clinic_id = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class ServicePatchSchema(Schema.from_dict(_service_fields(patch=True))):
    """Changes to a service; every field optional."""


class WeeklySchema(Schema):
    """A weekly pattern in the clinic's local time."""

    weekdays = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)),
        required=True,
        validate=validate.Length(min=1, max=7),
    )
    times = fields.List(fields.Time(), required=True, validate=validate.Length(min=1, max=48))
    from_date = fields.Date(required=True, validate=_SLOT_DAY)
    to_date = fields.Date(required=True, validate=_SLOT_DAY)


class SlotCreateSchema(Schema):
    """One slot (`starts_at`) or a weekly pattern (`weekly`), each place count `capacity`."""

    service_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))
    duration_minutes = fields.Integer(load_default=30, validate=validate.Range(5, 24 * 60))
    starts_at = fields.AwareDateTime(validate=_SLOT_MOMENT)
    weekly = fields.Nested(WeeklySchema)

    @validates_schema
    def one_of_starts_or_weekly(self, data, **kwargs):
        """Require exactly one way of saying when."""
        if ("starts_at" in data) == ("weekly" in data):
            raise ValidationError("give either starts_at or weekly", field_name="starts_at")


class SlotPatchSchema(Schema):
    """Changes to a slot: capacity (never below its bookings), or time (only without any)."""

    capacity = fields.Integer(strict=True, validate=validate.Range(1, 1000))
    starts_at = fields.AwareDateTime(validate=_SLOT_MOMENT)
    duration_minutes = fields.Integer(validate=validate.Range(5, 24 * 60))


class SlotCancelSchema(Schema):
    """Cancel a slot; with active bookings, say explicitly that they are cancelled too."""

    cancel_bookings = fields.Boolean(load_default=False)


class SlotSchema(Schema):
    """A slot as its clinic sees it."""

    id = fields.Integer(required=True)
    service_id = fields.Integer(required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    local_start = fields.Function(local_start, metadata={"type": "string"})
    capacity = fields.Integer(required=True)
    booked = fields.Integer(required=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)


class SlotCancelledSchema(Schema):
    """A cancelled slot and how many bookings went with it."""

    slot = fields.Nested(SlotSchema, required=True)
    cancelled_bookings = fields.Integer(required=True)


class RangeQuerySchema(Schema):
    """A time window (default: from a day ago to 30 days ahead) and optional filters."""

    start = fields.AwareDateTime(data_key="from", validate=_SLOT_MOMENT)
    end = fields.AwareDateTime(data_key="to", validate=_SLOT_MOMENT)
    service_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class BookingQuerySchema(RangeQuerySchema):
    """Filters of the clinic's booking list."""

    status = fields.String(validate=validate.OneOf([s.value for s in BookingStatus]))


class ClinicBookingSchema(Schema):
    """A booking as clinic staff see it: no code, no identity."""

    # No row id either: one sequence over every clinic, it would tell how busy the others are.
    status = fields.String(required=True)
    slot_id = fields.Integer(required=True)
    service_id = fields.Function(lambda booking: booking.slot.service_id)
    starts_at = fields.Function(lambda booking: booking.slot.starts_at.isoformat())
    local_start = fields.Function(lambda booking: local_start(booking.slot))
    created_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True)


class CheckInSchema(Schema):
    """The code the patient shows."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=80))


class RegistrationHandOverSchema(Schema):
    """Where to go next to register the person anonymously (no identity in the booking)."""

    mode = fields.String(required=True)
    method = fields.String(required=True)
    href = fields.String(required=True)


class CheckInResultSchema(Schema):
    """A checked-in booking and the anonymous-registration hand-over."""

    booking = fields.Nested(ClinicBookingSchema, required=True)
    registration = fields.Nested(RegistrationHandOverSchema, required=True)
