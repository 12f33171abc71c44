"""Schemas of the re-identification endpoints."""

import base64
import binascii

from marshmallow import Schema, ValidationError, fields, validate


class RequestSchema(Schema):
    """A request to re-identify the person behind a pseudonym."""

    pseudonym = fields.String(required=True, validate=validate.Length(max=60))
    purpose = fields.String(required=True, validate=validate.Length(min=10, max=2000))
    legal_basis = fields.String(required=True, validate=validate.Length(min=3, max=2000))


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


class Base64Bytes(fields.Field):
    """Bytes given as standard base64 text (the value is never echoed in errors)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 4096:
            raise ValidationError("must be base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("must be base64 text") from None


class RevealSchema(Schema):
    """The custodians' private key, for this one call only."""

    private_key = Base64Bytes(required=True, metadata={"type": "string", "format": "byte"})


class RevealedIdentitySchema(Schema):
    """The revealed identity, returned once."""

    iin = fields.String()
    family_name = fields.String()
    given_name = fields.String()
    patronymic = fields.String()
    birth_date = fields.String()
    sex = fields.String()
