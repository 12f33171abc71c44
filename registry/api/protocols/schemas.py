"""Schemas of the protocol endpoints."""

from typing import ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from registry.api.converters import MAX_ID

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="Not a protocol key.")
_CONTENT = ("document", "yaml")


class VersionRef(fields.Field):
    """A version number, or "active" for the protocol's active version."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "invalid": 'Give a version number or "active".'
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "active":
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        raise self.make_error("invalid")


def _exactly_one(data: dict, names: tuple[str, ...]) -> None:
    given = [name for name in names if data.get(name) is not None]
    if len(given) != 1:
        raise ValidationError(f"give exactly one of: {', '.join(names)}")


class DocumentInSchema(Schema):
    """A protocol document as a JSON object, or as YAML text."""

    document = fields.Dict(
        keys=fields.String(),
        metadata={"description": "the document as a JSON object (see /api/v1/protocols/schema)"},
    )
    yaml = fields.String(metadata={"description": "the document as YAML text"})

    @validates_schema
    def one_content(self, data, **kwargs):
        """Require exactly one way of giving the document."""
        _exactly_one(data, _CONTENT)


class DraftInSchema(DocumentInSchema):
    """A new draft: a document (new key or next version of its key), or a copy of a version."""

    key = fields.String(
        validate=KEY,
        metadata={"description": "the protocol key; required with copy_from"},
    )
    copy_from = VersionRef(
        metadata={
            "description": 'copy this version of `key` (a number, or "active")',
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["active"]}],
        }
    )

    @validates_schema
    def one_content(self, data, **kwargs):
        """Require exactly one of document, yaml and copy_from; copying needs a key."""
        _exactly_one(data, (*_CONTENT, "copy_from"))
        if data.get("copy_from") is not None and not data.get("key"):
            raise ValidationError("required with copy_from", field_name="key")


class VersionSummarySchema(Schema):
    """A protocol version's number, status and who did what when."""

    n = fields.Integer(required=True)
    status = fields.String(required=True)
    document_hash = fields.String(
        required=True,
        metadata={"description": "SHA-256 of the canonical JSON without version and status"},
    )
    author_id = fields.Integer(allow_none=True, metadata={"description": "null: shipped"})
    approved_by_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    approved_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    retired_at = fields.AwareDateTime(allow_none=True)
    retire_requested_by_id = fields.Integer(
        allow_none=True, metadata={"description": "who asked for the retirement (first person)"}
    )
    retire_requested_at = fields.AwareDateTime(allow_none=True)
    retired_by_id = fields.Integer(
        allow_none=True, metadata={"description": "who retired it (second person)"}
    )
    open_episodes = fields.Integer(
        metadata={
            "description": "open episodes pinned to this version (protocol administrators only)"
        }
    )


class VersionSchema(VersionSummarySchema):
    """A protocol version with its document (whose status is the version's)."""

    key = fields.String(required=True)
    document = fields.Function(
        lambda version: version.served_document(), metadata={"type": "object"}
    )


class ProtocolSchema(Schema):
    """A protocol key with its versions."""

    key = fields.String(required=True)
    title = fields.Dict(keys=fields.String(), values=fields.String())
    versions = fields.List(fields.Nested(VersionSummarySchema))


def versions_in_use(protocols: list[dict], open_by_version: dict[int, int]) -> list[dict]:
    """Return the protocol list with each version's count of open episodes beside it."""
    names = [name for name in VersionSummarySchema().fields if name != "open_episodes"]
    return [
        {
            **protocol,
            "versions": [
                {
                    **{name: getattr(version, name) for name in names},
                    "open_episodes": open_by_version.get(version.id, 0),
                }
                for version in protocol["versions"]
            ],
        }
        for protocol in protocols
    ]


class RetireInSchema(Schema):
    """The second administrator's retirement of the active version."""

    confirm_no_active_version = fields.Boolean(
        load_default=False,
        metadata={
            "description": "required while the protocol has open episodes: retiring its only "
            "active version stops new episodes of the protocol until a version is published"
        },
    )


class DiffQuerySchema(Schema):
    """The two version numbers to compare."""

    from_ = fields.Integer(
        data_key="from", attribute="old", required=True, validate=validate.Range(min=1, max=MAX_ID)
    )
    to = fields.Integer(attribute="new", required=True, validate=validate.Range(min=1, max=MAX_ID))


class DiffSchema(Schema):
    """Rules added, removed and changed (by stable rule id), and metadata changes."""

    from_ = fields.Dict(data_key="from", attribute="from")
    to = fields.Dict()
    added = fields.List(fields.Dict(), metadata={"description": "{id, kind, path, value}"})
    removed = fields.List(fields.Dict(), metadata={"description": "{id, kind, path, value}"})
    changed = fields.List(
        fields.Dict(), metadata={"description": "{id, kind, path, changes: [{field, old, new}]}"}
    )
    metadata_ = fields.List(
        fields.Dict(),
        data_key="metadata",
        attribute="metadata",
        metadata={"description": "[{field, old, new}]"},
    )
