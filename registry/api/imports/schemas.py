"""Schemas of the import endpoint: a CSV upload in, a report of counts and refused lines out."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields


class ImportUploadSchema(Schema):
    """The legacy register file (docs/import.md), as a multipart/form-data upload."""

    file = Upload(
        required=True,
        metadata={"description": "UTF-8 CSV with a header line; columns in docs/import.md."},
    )


class RejectedRowSchema(Schema):
    """A refused row: its line number and the rule it breaks, never its values."""

    line = fields.Integer()
    rule = fields.String()


class ImportReportSchema(Schema):
    """What an import did, in total over every run of the same file."""

    sha256 = fields.String(metadata={"description": "SHA-256 of the file: the run's key."})
    status = fields.String(metadata={"description": "running (interrupted) or done"})
    rows = fields.Integer()
    persons_created = fields.Integer()
    persons_found = fields.Integer()
    episodes_created = fields.Integer()
    episodes_skipped = fields.Integer(
        metadata={"description": "Rows whose episode (person, clinic, admission day) existed."}
    )
    rejected_count = fields.Integer()
    rejected = fields.List(
        fields.Nested(RejectedRowSchema),
        metadata={"description": "The first 1,000 refused rows by line and rule."},
    )
