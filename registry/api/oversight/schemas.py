"""Schemas of the oversight findings: users, clinics, periods and counts; never an identity."""

from marshmallow import Schema, fields, validate

from registry.api.converters import MAX_ID
from registry.oversight.models import FindingKind

_KINDS = [kind.value for kind in FindingKind]


def _share(count: int | None, total: int | None) -> float | None:
    return None if not total else count / total


class FindingSchema(Schema):
    """A user whose linked registrations stood out in a period (docs/registration-oracle.md)."""

    id = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(_KINDS),
        metadata={
            "description": "found_existing: many registrations found persons known only "
            "elsewhere; no_episodes: many registered persons were never admitted at the "
            "user's clinic; limit_reached: answers refused by the oracle limits"
        },
    )
    user_id = fields.Integer(required=True)
    clinic_id = fields.Integer(allow_none=True)
    period_start = fields.AwareDateTime(required=True)
    period_end = fields.AwareDateTime(required=True)
    count = fields.Integer(
        required=True,
        metadata={"description": "the user's registrations of this kind (or refusals)"},
    )
    total = fields.Integer(
        required=True, metadata={"description": "the user's linked registrations in the period"}
    )
    share = fields.Function(
        lambda finding: _share(finding.count, finding.total),
        allow_none=True,
        metadata={"type": "number", "description": "count / total"},
    )
    pool_count = fields.Integer(
        allow_none=True, metadata={"description": "the same count over every other user"}
    )
    pool_total = fields.Integer(
        allow_none=True,
        metadata={"description": "every other user's linked registrations in the period"},
    )
    pool_share = fields.Function(
        lambda finding: _share(finding.pool_count, finding.pool_total),
        allow_none=True,
        metadata={"type": "number", "description": "the norm: pool_count / pool_total"},
    )
    created_at = fields.AwareDateTime(required=True)


class FindingPageQuerySchema(Schema):
    """A page of findings after an id, optionally of one kind."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    kind = fields.String(validate=validate.OneOf(_KINDS))


class FindingPageSchema(Schema):
    """A page of findings, oldest first; `next_after` asks for the next page."""

    findings = fields.List(fields.Nested(FindingSchema), required=True)
    next_after = fields.Integer(allow_none=True)
