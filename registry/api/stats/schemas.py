"""Schemas of the statistics endpoints."""

from marshmallow import Schema, fields, validate

from registry.stats.catalogue import MEASURES

_SHORT = validate.Length(min=1, max=60)


class CatalogueQuerySchema(Schema):
    """Which reference year the period codes are listed for."""

    year = fields.Integer(load_default=None, validate=validate.Range(min=1990, max=9999))


class TableQuerySchema(Schema):
    """A table from the catalogue: up to 4 dimensions, filters on declared codes."""

    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=9999))
    measure = fields.String(load_default="persons", validate=validate.OneOf(list(MEASURES)))
    dimensions = fields.List(
        fields.String(validate=_SHORT), required=True, validate=validate.Length(min=1, max=10)
    )
    filters = fields.Dict(
        keys=fields.String(validate=_SHORT),
        values=fields.List(fields.String(validate=_SHORT), validate=validate.Length(max=200)),
        load_default=dict,
        validate=validate.Length(max=20),
    )


class CellSchema(Schema):
    """One released cell: its codes by dimension, value (null when suppressed) and status."""

    key = fields.Dict(keys=fields.String(), values=fields.String())
    value = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(["published", "suppressed", "perturbed"]))


class RateCellSchema(Schema):
    """A rate from protected counts: null, with its counts, when either count is suppressed."""

    key = fields.Dict(keys=fields.String(), values=fields.String())
    rate = fields.Float(allow_none=True)
    value = fields.Integer(allow_none=True, metadata={"description": "protected numerator"})
    denominator = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(["published", "suppressed", "perturbed"]))


class TableAnswerSchema(Schema):
    """A protected table and the release it belongs to (rate measures add rates)."""

    release = fields.String()
    definition = fields.Dict()
    protection = fields.Dict()
    cells = fields.List(fields.Nested(CellSchema))
    rates = fields.List(fields.Nested(RateCellSchema))


class TdiQuerySchema(Schema):
    """The reference year of a standard table, and optionally a chart format."""

    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=9999))
    format = fields.String(load_default=None, validate=validate.OneOf(["png", "svg"]))


class TdiAnswerSchema(Schema):
    """A TDI standard table in its parts (all, never treated, previously treated)."""

    release = fields.String()
    definition = fields.Dict()
    protection = fields.Dict()
    parts = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(CellSchema)))


class ReleaseSchema(Schema):
    """A release record."""

    ref = fields.String()
    kind = fields.String()
    released_at = fields.DateTime()
    released_by = fields.Integer(allow_none=True)
    definition = fields.Dict()
    parameters = fields.Dict()
    cells = fields.Integer()
    suppressed = fields.Integer()
    output_hash = fields.String()
