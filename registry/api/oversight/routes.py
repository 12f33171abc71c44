"""Findings of the oversight check of linked registration (operators and key custodians)."""

from registry.api.blueprint import ApiBlueprint
from registry.api.oversight.schemas import FindingPageQuerySchema, FindingPageSchema
from registry.auth.models import Role
from registry.database import read_only
from registry.oversight.check import findings_after

blp = ApiBlueprint(
    "oversight",
    __name__,
    url_prefix="/api/v1/oversight",
    description="Oversight of linked registration: users whose registrations look like probing",
)


@blp.route("/findings", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN, Role.KEY_CUSTODIAN)
@blp.arguments(FindingPageQuerySchema, location="query")
@blp.response(200, FindingPageSchema)
def findings(query):
    """List oversight findings oldest first, a page at a time."""
    rows = findings_after(query["after"], query["limit"], query.get("kind"))
    next_after = rows[-1].id if len(rows) == query["limit"] else None
    return {"findings": rows, "next_after": next_after}
