"""Schemas of the audit endpoints; binary values are base64."""

from marshmallow import Schema, fields, validate

from registry.api.converters import MAX_ID


class Base64(fields.Field):
    """Bytes dumped as standard base64."""

    def _serialize(self, value, attr, obj, **kwargs):
        import base64

        return None if value is None else base64.b64encode(value).decode()


class CheckpointSchema(Schema):
    """A signed (tree size, root) statement and how to check it."""

    tree_size = fields.Integer(required=True)
    root_hash = Base64(required=True, metadata={"type": "string", "format": "byte"})
    signed_at = fields.AwareDateTime(required=True)
    key_id = fields.String(required=True)
    public_key = Base64(
        required=True,
        metadata={"type": "string", "format": "byte", "description": "raw Ed25519 public key"},
    )
    signature = Base64(required=True, metadata={"type": "string", "format": "byte"})
    signed_message = fields.String(
        required=True, metadata={"description": "the exact text that was signed"}
    )


class EntrySchema(Schema):
    """One audit entry: pseudonymous ids only."""

    idx = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String(allow_none=True)
    action = fields.String(required=True)
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    outcome = fields.String(required=True)
    request_id = fields.String(allow_none=True)
    leaf_hash = Base64(required=True, metadata={"type": "string", "format": "byte"})


class ProofQuerySchema(Schema):
    """Which entry to prove, and against which checkpoint."""

    index = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_ID))
    tree_size = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class InclusionProofSchema(Schema):
    """An RFC 6962 audit path from an entry's leaf to a checkpoint's root."""

    index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    leaf_hash = Base64(required=True, metadata={"type": "string", "format": "byte"})
    audit_path = fields.List(Base64(metadata={"type": "string", "format": "byte"}), required=True)
    entry = fields.Nested(EntrySchema, required=True)
    checkpoint = fields.Nested(CheckpointSchema, required=True)


class ConsistencyQuerySchema(Schema):
    """Two tree sizes to prove consistent."""

    from_size = fields.Integer(
        required=True, data_key="from", validate=validate.Range(min=1, max=MAX_ID)
    )
    to_size = fields.Integer(
        required=True, data_key="to", validate=validate.Range(min=1, max=MAX_ID)
    )


class ConsistencyProofSchema(Schema):
    """An RFC 6962 consistency proof."""

    from_size = fields.Integer(required=True, data_key="from")
    to_size = fields.Integer(required=True, data_key="to")
    proof = fields.List(Base64(metadata={"type": "string", "format": "byte"}), required=True)


class EntryPageQuerySchema(Schema):
    """A page of entries after an index."""

    after = fields.Integer(load_default=-1, validate=validate.Range(min=-1, max=MAX_ID))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class EntryPageSchema(Schema):
    """A page of audit entries."""

    entries = fields.List(fields.Nested(EntrySchema), required=True)
    next_after = fields.Integer(allow_none=True)
