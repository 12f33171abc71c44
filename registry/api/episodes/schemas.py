"""Schemas of the episode endpoints: admission record, events, discharge, reads."""

import math
import re
from datetime import date

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from registry.api.coded import coded
from registry.api.converters import MAX_ID
from registry.episodes import admission, codes
from registry.episodes.examples import ADMISSION_EXAMPLE
from registry.protocols import icd10
from registry.protocols.compiled import REASON_LABELS

_REASON = "Why the protocol is not followed here."
_SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9_]{0,63}$", error="Not a valid code.")
_ICD11 = re.compile(r"^6C4[0-9A-H](\.[0-9A-Z]{1,2})?$")
_ICD11_DISAGREES = "Must name a substance of diagnosis: see icd11 at GET /api/v1/codes."
EARLIEST_YEAR = 1900
# Comorbidities enough for any admission; more is a list pasted by mistake.
MAX_SECONDARY_DIAGNOSES = 12
EVENT_TYPES = ("dose", "take_home", "visit", "screen", "review", "assessment", "stage_change")


class Code(fields.Field):
    """A code of one TDI item's list; the number 99 is read as the code "99" (not known)."""

    def __init__(self, item: str, **kwargs):
        super().__init__(**kwargs)
        self.item = item

    def _deserialize(self, value, attr, data, **kwargs):
        if value == codes.NOT_KNOWN_NUMBER and not isinstance(value, bool):
            return codes.NOT_KNOWN
        if not isinstance(value, str):
            raise ValidationError("Not a valid code.")
        if value not in codes.item_codes()[self.item]:
            raise ValidationError("Unknown code; see GET /api/v1/codes.")
        return value


class Icd10Code(fields.String):
    """An ICD-10 code of any chapter that WHO's edition has, returned in canonical form (K72.0)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        code = icd10.who_code(text) if len(text) <= 8 else None
        if code is None:
            raise ValidationError("Not an ICD-10 code (WHO 2019 edition), e.g. K72.0.")
        return code


class Year(fields.Integer):
    """A numeric TDI item (year, month, age); 99 means not known."""

    def __init__(self, item: str, **kwargs):
        super().__init__(strict=True, **kwargs)
        self.item = item

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        number = super()._deserialize(value, attr, data, **kwargs)
        problem = codes.numeric_problem(self.item, number)
        if problem:
            raise ValidationError(problem)
        return number


class Number(fields.Float):
    """A finite JSON number (not a string, not a boolean, not NaN or Infinity)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a valid number.")
        if not math.isfinite(value):
            raise ValidationError("Not a finite number.")
        return super()._deserialize(value, attr, data, **kwargs)


def _modern(value: date) -> bool:
    """Refuse dates before 1900 (typos such as 0202), which no clinic record can have."""
    if value.year < EARLIEST_YEAR:
        raise ValidationError(f"must not be before {EARLIEST_YEAR}")
    return True


def _admission_fields() -> dict[str, fields.Field]:
    out: dict[str, fields.Field] = {}
    optional = codes.optional_items()
    numeric = codes.numeric_items()
    for name in codes.admission_items():
        if name in codes.FROM_CLINIC:
            continue
        kwargs = {"allow_none": True, "load_default": None} if name in optional else {}
        kind = Year if name in numeric else Code
        out[name] = kind(name, required=name not in optional, **kwargs)
    return out


class _AdmissionBase(Schema):
    """The TDI 3.0 admission record; every item takes 99 (not known)."""

    @validates_schema
    def _consistent(self, data, **_kwargs):
        """Refuse records that contradict themselves (never tested but a result, …)."""
        problems = admission.contradictions(data)
        if problems:
            raise ValidationError(problems)


AdmissionSchema = _AdmissionBase.from_dict(_admission_fields(), name="AdmissionSchema")
AdmissionSchema.__doc__ = "The TDI 3.0 admission record; every item takes 99 (not known)."


class EpisodeInSchema(Schema):
    """Open an episode for one of this clinic's patients."""

    pseudonym = fields.String(required=True, validate=validate.Length(min=1, max=60))
    protocol = fields.String(required=True, validate=_SLUG)
    diagnosis = fields.String(
        required=True,
        validate=validate.Length(max=8),
        metadata={"description": "ICD-10 F10-F19 with the 4th character, e.g. F11.2"},
    )
    diagnosis_icd11 = fields.String(
        validate=validate.Regexp(_ICD11, error="Not an ICD-11 code of 6C40-6C4H."),
        allow_none=True,
        metadata={
            "description": "ICD-11 6C40-6C4H naming a substance of the ICD-10 diagnosis "
            "(the icd11 list at GET /api/v1/codes gives the ICD-10 categories of each)"
        },
    )
    secondary_diagnoses = fields.List(
        Icd10Code(),
        load_default=list,
        validate=validate.Length(max=MAX_SECONDARY_DIAGNOSES),
        metadata={
            "description": "Comorbidities and other diagnoses: ICD-10 codes of any chapter "
            "(letter, 2 digits, optional dot and 1-2 digits, e.g. K72.0), checked against the "
            "protocol's exclusions"
        },
    )
    admitted_on = fields.Date(
        required=True, validate=_modern, metadata={"description": "Clinic calendar day."}
    )
    admission = fields.Nested(
        AdmissionSchema, required=True, metadata={"example": ADMISSION_EXAMPLE}
    )
    override_reason = coded("override_reasons", _REASON)

    @validates_schema
    def _diagnosis(self, data, **_kwargs):
        """Accept only F10-F19 codes with a valid 4th character, and an ICD-11 code that agrees."""
        if "diagnosis" not in data:
            return
        if not codes.valid_diagnosis(data["diagnosis"]):
            raise ValidationError({"diagnosis": ["Not an ICD-10 code F10.0-F19.9."]})
        icd11 = data.get("diagnosis_icd11")
        if icd11 and not codes.diagnoses_agree(data["diagnosis"], icd11):
            raise ValidationError({"diagnosis_icd11": [_ICD11_DISAGREES]})

    @validates_schema
    def _distinct_diagnoses(self, data, **_kwargs):
        """Refuse a secondary diagnosis that repeats the diagnosis or another secondary one."""
        listed = data.get("secondary_diagnoses") or []
        main = icd10.normalise(data["diagnosis"]) if "diagnosis" in data else None
        if main in {icd10.normalise(code) for code in listed}:
            raise ValidationError({"secondary_diagnoses": ["repeats the diagnosis"]})
        if len(set(listed)) < len(listed):
            raise ValidationError({"secondary_diagnoses": ["repeats a secondary diagnosis"]})

    @validates_schema
    def _ages(self, data, **_kwargs):
        """Refuse an admission record that disagrees with the age at admission."""
        if "admission" in data and "admitted_on" in data:
            record = data["admission"]
            age = admission.age_at_admission(data["admitted_on"], record)
            problems = admission.age_problems(record, age)
            if problems:
                raise ValidationError({"admission": problems})


class DosePayload(Schema):
    """A dose given (supervised) at the clinic."""

    medication = coded("medications", "The medication given.", required=True)
    amount = Number(required=True, validate=validate.Range(min=0, max=100_000, min_inclusive=False))
    unit = coded("units", "The unit of the amount.", required=True)
    supervised = fields.Boolean(load_default=True)


class TakeHomePayload(Schema):
    """Doses handed over to take home."""

    medication = coded("medications", "The medication handed over.", required=True)
    doses = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=60))


class StageChangePayload(Schema):
    """A move to another stage of the protocol."""

    to = fields.String(
        required=True,
        validate=_SLUG,
        metadata={"description": "A stage id of the episode's protocol version."},
    )


class ScreenPayload(Schema):
    """A urine drug screen: result per substance."""

    results = fields.Dict(
        required=True,
        keys=fields.String(validate=validate.OneOf(sorted(codes.screen_codes()[0]))),
        values=fields.String(validate=validate.OneOf(sorted(codes.screen_codes()[1]))),
        validate=validate.Length(min=1),
    )


_TOP = codes.outcome_items()


def _top_fields() -> dict[str, fields.Field]:
    days = _TOP["days_used"]
    out: dict[str, fields.Field] = {
        "timepoint": fields.String(validate=validate.OneOf(["start", "review", "exit"])),
        "days_used": fields.Dict(
            keys=fields.String(validate=validate.OneOf(sorted(days["substances"]))),
            values=fields.Integer(
                strict=True, validate=validate.Range(days["range"]["min"], days["range"]["max"])
            ),
        ),
    }
    for name, item in _TOP["items"].items():
        if item.get("boolean"):
            out[name] = fields.Boolean(allow_none=True)
        else:
            low, high = item["range"]["min"], item["range"]["max"]
            out[name] = fields.Integer(strict=True, validate=validate.Range(low, high))
    return out


AssessmentPayload = Schema.from_dict(_top_fields(), name="AssessmentPayload")
AssessmentPayload.__doc__ = "A TOP-like outcome assessment (days in the last 28, 0-20 ratings)."


class EmptyPayload(Schema):
    """Visits and clinical reviews carry no payload (no free text: it could identify)."""


# One loader per event type, made once (a schema instance copies its fields when made).
PAYLOADS: dict[str, Schema] = {
    "dose": DosePayload(),
    "take_home": TakeHomePayload(),
    "stage_change": StageChangePayload(),
    "screen": ScreenPayload(),
    "assessment": AssessmentPayload(),
    "visit": EmptyPayload(),
    "review": EmptyPayload(),
}


class EventInSchema(Schema):
    """An event of an episode; a correction names the event it supersedes."""

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_at = fields.DateTime(
        validate=_modern,
        metadata={"description": "Default now; without an offset it is clinic local time."},
    )
    payload = fields.Dict(load_default=dict)
    supersedes = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The id (number in this episode) of the event it corrects."},
    )
    override_reason = coded("override_reasons", _REASON)

    @post_load
    def _payload(self, data, **_kwargs):
        """Load the payload with the schema of the event's type."""
        try:
            data["payload"] = PAYLOADS[data["type"]].load(data.get("payload") or {})
        except ValidationError as exc:
            raise ValidationError({"payload": exc.messages}) from None
        return data


class DischargeInSchema(Schema):
    """Discharge an episode: reason, day, and the exit outcome assessment where required."""

    reason = fields.String(required=True, validate=validate.OneOf(sorted(REASON_LABELS)))
    discharged_on = fields.Date(
        validate=_modern, metadata={"description": "Clinic calendar day; default today."}
    )
    assessment = fields.Nested(AssessmentPayload, allow_none=True)
    override_reason = coded("override_reasons", _REASON)


class EpisodeQuerySchema(Schema):
    """Filters and page of the episode list."""

    status = fields.String(validate=validate.OneOf(["open", "discharged"]))
    protocol = fields.String(validate=_SLUG)
    overdue = fields.Boolean()
    pseudonym = fields.String(validate=validate.Length(min=1, max=60))
    admitted_from = fields.Date()
    admitted_to = fields.Date()
    discharged_from = fields.Date()
    discharged_to = fields.Date()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1))


class ViolationSchema(Schema):
    """A protocol rule an event breaks or a duty that is overdue."""

    rule_id = fields.String()
    severity = fields.String()
    overdue = fields.Boolean()
    message = fields.Dict(keys=fields.String(), values=fields.String())
    details = fields.Dict()


class EpisodeSummarySchema(Schema):
    """An episode in a list."""

    id = fields.String()
    pseudonym = fields.String(allow_none=True)
    protocol = fields.String()
    protocol_version = fields.Integer()
    oat = fields.Boolean()
    status = fields.String()
    stage = fields.String()
    diagnosis = fields.String()
    admitted_on = fields.Date()
    discharged_on = fields.Date(allow_none=True)
    discharge_reason = fields.String(allow_none=True)
    length_of_stay = fields.Integer(metadata={"description": "Days, to today while open."})
    overdue = fields.Boolean()
    override_count = fields.Integer()


class EpisodePageSchema(Schema):
    """A page of episodes."""

    items = fields.List(fields.Nested(EpisodeSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class EventSchema(Schema):
    """A recorded event."""

    id = fields.Integer(
        metadata={
            "description": "The event's number in its episode: 1, 2, 3… in the order recorded."
        }
    )
    type = fields.String()
    occurred_at = fields.DateTime()
    day = fields.Date()
    recorded_at = fields.DateTime()
    payload = fields.Dict()
    supersedes = fields.Integer(
        allow_none=True, metadata={"description": "The id of the event this one corrects."}
    )
    superseded_by = fields.Integer(
        allow_none=True, metadata={"description": "The id of the event that corrects this one."}
    )
    override_reason = fields.String(allow_none=True)
    violations = fields.List(fields.Nested(ViolationSchema))
    recorded_by = fields.String(
        allow_none=True, metadata={"description": "The name of the user who recorded it."}
    )


class EventCheckSchema(Schema):
    """The rule engine's answer to an event not recorded (a dry run of POST /events)."""

    type = fields.String()
    day = fields.Date(metadata={"description": "The clinic day the event would fall on."})
    payload = fields.Dict()
    supersedes = fields.Integer(allow_none=True)
    violations = fields.List(
        fields.Nested(ViolationSchema),
        metadata={"description": "Every rule the event breaks: blocking errors and warnings."},
    )
    blocking = fields.List(
        fields.String(),
        metadata={"description": "Rule ids refusing the event unless an override_reason is given."},
    )
    override_required = fields.Boolean()
    would_record = fields.Boolean(
        metadata={"description": "Whether POST /events with the same body would record it now."}
    )


class ComplianceItemSchema(Schema):
    """A required event and its due date."""

    rule_id = fields.String()
    event_type = fields.String()
    due = fields.Date()
    grace_until = fields.Date()
    message = fields.Dict(keys=fields.String(), values=fields.String())


class RecheckedSchema(Schema):
    """A rule an event breaks since an earlier-dated event was recorded after it."""

    event = fields.Integer(metadata={"description": "the id (number in the episode) of the event"})
    event_type = fields.String()
    day = fields.Date(metadata={"description": "the clinic day of the event checked again"})
    rule_id = fields.String()
    severity = fields.String()
    message = fields.Dict(keys=fields.String(), values=fields.String())
    details = fields.Dict()


class ComplianceSchema(Schema):
    """Overdue and upcoming required events; overdue ones are notices, never a block."""

    id = fields.String()
    status = fields.String()
    on = fields.Date()
    overdue = fields.List(fields.Nested(ComplianceItemSchema))
    upcoming = fields.List(fields.Nested(ComplianceItemSchema))
    rechecked = fields.List(
        fields.Nested(RecheckedSchema),
        metadata={
            "description": "rules that events break since a backdated event (or a correction "
            "of an earlier day) was recorded after them: recorded, never refused afterwards"
        },
    )


class EpisodeSchema(EpisodeSummarySchema):
    """An episode with its admission record, timeline and compliance."""

    diagnosis_icd11 = fields.String(allow_none=True)
    secondary_diagnoses = fields.List(fields.String())
    age_at_admission = fields.Integer(allow_none=True)
    admission = fields.Dict()
    timeline = fields.List(fields.Nested(EventSchema))
    compliance = fields.Nested(ComplianceSchema)
    admission_violations = fields.List(
        fields.Nested(ViolationSchema),
        metadata={"description": "What the eligibility check found (warnings, overridden errors)."},
    )
    admission_override_reason = fields.String(allow_none=True)


class MigrationInSchema(Schema):
    """Move the open episodes of a protocol from one version to the active one."""

    from_version = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID), data_key="from"
    )
    to_version = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID), data_key="to"
    )
    dry_run = fields.Boolean(load_default=True)
    exclude = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=10000),
        metadata={"description": "episode ids to leave on `from` (open episodes of it only)"},
    )
    skip_in_violation = fields.Boolean(
        load_default=False,
        metadata={"description": "leave on `from` the episodes whose history breaks `to`"},
    )


class MigrationSkippedSchema(Schema):
    """An episode left on its version, and why."""

    episode = fields.String()
    reason = fields.String(metadata={"enum": ["excluded", "in_violation"]})


class MigrationEpisodeSchema(Schema):
    """An episode that the new version would find in violation."""

    episode = fields.String()
    violations = fields.List(fields.String())
    overdue = fields.List(fields.String())
    stage = fields.String()


class MigrationReportSchema(Schema):
    """What a migration found (dry run) or did."""

    protocol = fields.String()
    from_version = fields.Integer(data_key="from")
    to_version = fields.Integer(data_key="to")
    dry_run = fields.Boolean()
    episodes = fields.Integer()
    migrated = fields.Integer()
    in_violation = fields.List(fields.Nested(MigrationEpisodeSchema))
    skipped = fields.List(fields.Nested(MigrationSkippedSchema))


class MigrationRecordSchema(Schema):
    """An episode moved to a newer version."""

    episode = fields.String()
    from_version = fields.Integer(data_key="from")
    to_version = fields.Integer(data_key="to")
    migrated_at = fields.DateTime()
    migrated_by = fields.Integer(allow_none=True)
    violations = fields.List(fields.String())
