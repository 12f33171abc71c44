"""Schemas of the public directory and booking endpoints."""

from zoneinfo import ZoneInfo

from marshmallow import Schema, fields, validate

from registry.access.vocab import CARE_TYPES, COSTS, LANGUAGES, MEDICATIONS


class ServiceQuerySchema(Schema):
    """Filters of the public search; every one is optional."""

    region = fields.String(validate=validate.Regexp(r"^\d{9}$"))
    care_type = fields.String(validate=validate.OneOf(CARE_TYPES))
    medication = fields.String(validate=validate.OneOf(MEDICATIONS))
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    anonymous = fields.Boolean()
    cost = fields.String(validate=validate.OneOf(COSTS))
    wheelchair = fields.Boolean()
    free_within_days = fields.Integer(
        validate=validate.Range(1, 60),
        metadata={"description": "only services with a free slot in the next N days"},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = fields.Integer(load_default=10, validate=validate.Range(1, 50))


class RegionSchema(Schema):
    """A region with its names."""

    code = fields.String(required=True)
    name_en = fields.String(required=True)
    name_ru = fields.String(required=True)
    name_kk = fields.String(required=True)


class ClinicRefSchema(Schema):
    """The clinic behind a service."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PublicServiceSchema(Schema):
    """A published service as anyone sees it."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    care_type = fields.String(required=True)
    medications = fields.List(fields.String(), required=True)
    languages = fields.List(fields.String(), required=True)
    opening_hours = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True
    )
    anonymous = fields.Boolean(required=True)
    address = fields.String(required=True)
    phone = fields.String(allow_none=True)
    cost = fields.String(allow_none=True, metadata={"description": "free, paid or null"})
    wheelchair = fields.Boolean(allow_none=True)
    description = fields.String(allow_none=True)
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        required=True,
    )
    clinic = fields.Nested(ClinicRefSchema, required=True)
    region = fields.Nested(RegionSchema, attribute="clinic.region", required=True)
    timezone = fields.String(attribute="clinic.timezone", required=True)


class ServicePageSchema(Schema):
    """One page of search results."""

    items = fields.List(fields.Nested(PublicServiceSchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)


class SlotQuerySchema(Schema):
    """How far ahead to list free slots."""

    days = fields.Integer(load_default=14, validate=validate.Range(1, 60))


def local_start(slot) -> str:
    """Return the slot's start in its clinic's time zone, ISO 8601 with offset."""
    return slot.starts_at.astimezone(ZoneInfo(slot.service.clinic.timezone)).isoformat()


class PublicSlotSchema(Schema):
    """A slot with its free places."""

    id = fields.Integer(required=True)
    service_id = fields.Integer(required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    local_start = fields.Function(local_start, metadata={"type": "string"})
    timezone = fields.Function(lambda slot: slot.service.clinic.timezone)
    free = fields.Function(lambda slot: slot.capacity - slot.booked, metadata={"type": "integer"})


class ChallengeSchema(Schema):
    """An ALTCHA v1 proof-of-work challenge."""

    algorithm = fields.String(required=True)
    challenge = fields.String(required=True)
    maxnumber = fields.Integer(required=True)
    salt = fields.String(required=True)
    signature = fields.String(required=True)


class BookingRequestSchema(Schema):
    """A booking: which slot, and a solved challenge."""

    slot_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1))
    altcha = fields.String(
        required=True,
        validate=validate.Length(max=1024),
        metadata={"description": "base64 of the ALTCHA solution JSON"},
    )


class CodeSchema(Schema):
    """A booking code, sent in the body so that it never lands in a URL or a log."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=80))


class BookingViewSchema(Schema):
    """What a booking code opens: its status, slot and service."""

    status = fields.String(required=True)
    slot = fields.Nested(PublicSlotSchema, required=True)
    service = fields.Nested(PublicServiceSchema, attribute="slot.service", required=True)


class BookingCreatedSchema(BookingViewSchema):
    """A new booking with its code: shown once, never stored, never shown again."""

    code = fields.String(required=True)
