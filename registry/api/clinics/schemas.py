"""Schemas of the clinic endpoints."""

from marshmallow import Schema, fields, validate

CENTRE_TYPES = ("outpatient", "inpatient", "prison", "gp", "low_threshold", "other")


class ClinicSchema(Schema):
    """A clinic as its staff and operators see it."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    region_code = fields.String(required=True, validate=validate.Regexp(r"^\d{9}$"))
    centre_type = fields.String(required=True, validate=validate.OneOf(CENTRE_TYPES))
    timezone = fields.String(load_default="Asia/Almaty", validate=validate.Length(max=40))
