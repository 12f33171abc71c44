"""Schemas of the re-identification endpoints."""

from marshmallow import Schema, fields, validate

from registry.api.coded import coded


class RequestSchema(Schema):
    """A request to re-identify the person behind a pseudonym."""

    pseudonym = fields.String(required=True, validate=validate.Length(max=60))
    purpose = coded(
        "reidentification_purposes", "Why the person must be identified.", required=True
    )
    legal_basis = coded("legal_bases", "The law or order that allows it.", required=True)


class RequestStateSchema(Schema):
    """A request and where it stands."""

    id = fields.Integer()
    requester_id = fields.Integer()
    purpose = fields.String()
    legal_basis = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    approvals = fields.Integer()
    revealed_at = fields.DateTime(allow_none=True)
    denied_at = fields.DateTime(allow_none=True)


class RevealSchema(Schema):
    """The custodians' private key, for this one call only."""

    private_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"format": "byte", "description": "Base64; used for this call, never stored."},
    )


class RevealedIdentitySchema(Schema):
    """The revealed identity, returned once."""

    iin = fields.String()
    family_name = fields.String()
    given_name = fields.String()
    patronymic = fields.String()
    birth_date = fields.String()
    sex = fields.String()
