"""Schemas of the patient endpoints; identity fields are loaded, never dumped."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry.api.converters import MAX_ID
from registry.api.episodes.schemas import EpisodeSummarySchema
from registry.patients.identity import NAME_FIELDS

_NAME = validate.Length(min=1, max=100)


class IdentitySchema(Schema):
    """An IIN (with optional birth date and sex to cross-check) or a name identity."""

    iin = fields.String(validate=validate.Length(min=1, max=32))
    family_name = fields.String(validate=_NAME)
    given_name = fields.String(validate=_NAME)
    patronymic = fields.String(validate=validate.Length(max=100))
    birth_date = fields.Date()
    sex = fields.String(validate=validate.OneOf(["M", "F"]))

    @validates_schema
    def _iin_or_names(self, data, **_kwargs):
        """Refuse names beside an IIN: the IIN alone decides who the person is."""
        if data.get("iin") is not None:
            given = [name for name in NAME_FIELDS if name in data]
            if given:
                raise ValidationError({name: ["not allowed with iin"] for name in given})


class RegistrationSchema(Schema):
    """Register a patient anonymously or with an identity."""

    mode = fields.String(required=True, validate=validate.OneOf(["anonymous", "linked"]))
    identity = fields.Nested(IdentitySchema)

    @validates_schema
    def _identity_matches_mode(self, data, **_kwargs):
        """Linked mode needs an identity; anonymous mode must not carry one."""
        if data.get("mode") == "linked" and not data.get("identity"):
            raise ValidationError({"identity": ["required in linked mode"]})
        if data.get("mode") == "anonymous" and "identity" in data:
            raise ValidationError({"identity": ["not allowed in anonymous mode"]})


class CareCardQrSchema(Schema):
    """A care card code to draw as a QR code; the code travels in the body, never a URL."""

    care_card = fields.String(required=True, validate=validate.Length(max=120))
    format = fields.String(load_default="svg", validate=validate.OneOf(["svg", "png"]))


class ResolveSchema(Schema):
    """A care card presented at a clinic."""

    care_card = fields.String(required=True, validate=validate.Length(max=120))


class PatientFactsSchema(Schema):
    """This clinic's pseudonym and what it may learn across clinics."""

    pseudonym = fields.String()
    existing = fields.Boolean(
        metadata={
            "description": "This clinic knew the person already (its pseudonym existed); "
            "says nothing of other clinics."
        }
    )
    ost_active_elsewhere = fields.Boolean()
    treated_before = fields.Boolean()
    care_card = fields.String(
        metadata={
            "description": "Anonymous mode only: shown once, stored only as a hash. "
            "POST it to /api/v1/patients/care-card/qr for a printable QR code."
        }
    )


class PatientSchema(Schema):
    """One of this clinic's patients."""

    pseudonym = fields.String()
    created_on = fields.Date(
        metadata={
            "description": "The day this clinic's pseudonym was made, on the clinic's calendar."
        }
    )
    treated_before = fields.Boolean()
    ost_active_elsewhere = fields.Boolean()
    episodes = fields.List(
        fields.Nested(EpisodeSummarySchema), metadata={"description": "Episodes at this clinic."}
    )


class ErasureQuerySchema(Schema):
    """The clinic whose pseudonym names the person to erase (operators have no clinic)."""

    clinic_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))


class MergeSchema(Schema):
    """Two of this clinic's pseudonyms that name the same person."""

    survivor = fields.String(required=True, validate=validate.Length(max=60))
    merged = fields.String(required=True, validate=validate.Length(max=60))


class MergeResultSchema(Schema):
    """A merge record."""

    id = fields.String(metadata={"description": "Random; the merge's id in its split path."})
    survivor = fields.String()
    merged = fields.String()
    created_at = fields.DateTime()
    split_at = fields.DateTime(allow_none=True)
