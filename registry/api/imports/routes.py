"""Import of the legacy register by operators (docs/import.md)."""

from registry.api.blueprint import ApiBlueprint
from registry.api.imports.schemas import ImportReportSchema, ImportUploadSchema
from registry.auth.models import Role
from registry.imports.runner import report, run_import
from registry.web import larger_body, takes_files

blp = ApiBlueprint(
    "imports",
    __name__,
    url_prefix="/api/v1/admin/imports",
    description="Import of the legacy register",
)


@blp.route("", methods=["POST"])
@larger_body("IMPORT_MAX_REQUEST_BYTES")
@takes_files
@blp.auth(Role.ADMIN)
@blp.arguments(ImportUploadSchema, location="files")
@blp.response(200, ImportReportSchema)
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(413, response="PAYLOAD_TOO_LARGE")
def create(data):
    """Import a legacy register file; the same file again resumes it or changes nothing.

    Each batch of rows is committed with its audit entry. Refused rows are reported by line
    number and rule, never by value; a file that is no UTF-8 CSV with known columns is a 422.
    """
    return report(run_import(data["file"].stream))
