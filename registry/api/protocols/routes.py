"""Protocols: administrators draft, approve, publish and retire versions; clinicians read."""

import json

from flask import Response, current_app, g, request

from registry.api.blueprint import ApiBlueprint
from registry.api.protocols.schemas import (
    DiffQuerySchema,
    DiffSchema,
    DocumentInSchema,
    DraftInSchema,
    ProtocolSchema,
    RetireInSchema,
    VersionSchema,
    versions_in_use,
)
from registry.auth.models import Role
from registry.database import read_only
from registry.episodes import migration
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.protocols import lifecycle, schema
from registry.web import larger_body

blp = ApiBlueprint(
    "protocols",
    __name__,
    url_prefix="/api/v1/protocols",
    description="Clinical protocols as versioned data",
)

FHIR_JSON = "application/fhir+json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@blp.before_request
def refuse_deep_documents() -> None:
    """Refuse JSON nested too deeply to parse as 422 (their size: `larger_body` below)."""
    if request.method not in _BODY_METHODS or not request.is_json:
        return
    try:
        json.loads(request.get_data(cache=True))
    except RecursionError:
        # The JSON decoder recurses; an answer from here beats a 500 from the schema layer.
        depth = current_app.config["PROTOCOL_MAX_DEPTH"]
        raise ValidationFailed(errors={"document": [f"nested deeper than {depth} levels"]})
    except ValueError:
        return  # malformed JSON: the schema layer answers 400


def _sees_unpublished() -> bool:
    """Tell whether the caller may read drafts and approved versions."""
    return Role.PROTOCOL_ADMIN in g.user.roles


def _submitted(data: dict) -> dict | None:
    """Return the submitted document as a dict, or None when none was given."""
    if data.get("document") is None and data.get("yaml") is None:
        return None
    return lifecycle.read_submission(data.get("document"), data.get("yaml"))


@blp.route("", methods=["GET"])
@read_only
@blp.auth(Role.PROTOCOL_ADMIN, Role.CLINICIAN)
@blp.response(200, ProtocolSchema(many=True))
def list_protocols():
    """List protocols with their versions (clinicians see active and retired ones only).

    Protocol administrators also see how many open episodes use each version; clinicians do
    not, as the count moves with other clinics' patients (DESIGN §2.5).
    """
    protocols = lifecycle.list_protocols(include_unpublished=_sees_unpublished())
    if not _sees_unpublished():
        return protocols
    return versions_in_use(protocols, migration.open_episodes_by_version())


@blp.route("", methods=["POST"])
@larger_body("PROTOCOL_MAX_REQUEST_BYTES")
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.arguments(DraftInSchema)
@blp.response(201, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def create(data):
    """Create a draft: a new protocol, or the next version of one (from a document or a copy)."""
    version = lifecycle.create_draft(
        g.user.id, _submitted(data), key=data.get("key"), copy_from=data.get("copy_from")
    )
    db.session.commit()
    return version


@blp.route("/schema", methods=["GET"])
@read_only
@blp.public
@blp.response(200, description="JSON Schema (draft 2020-12) of protocol documents")
def document_schema():
    """Return the published JSON Schema of protocol documents."""
    return schema()


@blp.route("/<key>/versions/<int:n>", methods=["GET"])
@read_only
@blp.auth(Role.PROTOCOL_ADMIN, Role.CLINICIAN)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read(key: str, n: int):
    """Return one version with its document."""
    return lifecycle.get_version(key, n, include_unpublished=_sees_unpublished())


@blp.route("/<key>/versions/<int:n>", methods=["PUT"])
@larger_body("PROTOCOL_MAX_REQUEST_BYTES")
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.arguments(DocumentInSchema)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def edit(data, key: str, n: int):
    """Replace the document of a draft (its author only; 409 once approved)."""
    version = lifecycle.edit_draft(key, n, g.user.id, _submitted(data))
    db.session.commit()
    return version


@blp.route("/<key>/versions/<int:n>/approve", methods=["POST"])
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def approve(key: str, n: int):
    """Approve a draft; the approver must not be its author (403)."""
    version = lifecycle.approve(key, n, g.user.id)
    db.session.commit()
    return version


@blp.route("/<key>/versions/<int:n>/publish", methods=["POST"])
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def publish(key: str, n: int):
    """Make an approved version active; the previously active version is retired."""
    version = lifecycle.publish(key, n)
    db.session.commit()
    return version


@blp.route("/<key>/versions/<int:n>/retirement-request", methods=["POST"])
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def request_retirement(key: str, n: int):
    """Ask for the active version to be retired; a second administrator then retires it."""
    version = lifecycle.request_retirement(key, n, g.user.id)
    db.session.commit()
    return version


@blp.route("/<key>/versions/<int:n>/retire", methods=["POST"])
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.arguments(RetireInSchema)
@blp.response(200, VersionSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def retire(data, key: str, n: int):
    """Retire the active version whose retirement another administrator requested.

    While the protocol has open episodes, retiring its only active version needs
    `confirm_no_active_version` (409 otherwise, with `open_episodes`). Episodes pinned to the
    version keep it.
    """
    version = lifecycle.retire(
        key,
        n,
        g.user.id,
        open_episodes=migration.open_episodes_of(key),
        confirmed=data["confirm_no_active_version"],
    )
    db.session.commit()
    return version


@blp.route("/<key>/diff", methods=["GET"])
@read_only
@blp.auth(Role.PROTOCOL_ADMIN)
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, DiffSchema)
@blp.alt_response(404, response="NOT_FOUND")
def diff(query, key: str):
    """Compare two versions rule by rule: added, removed and changed rule ids and values."""
    return lifecycle.diff_versions(key, query["old"], query["new"])


@blp.route("/<key>/versions/<int:n>/fhir", methods=["GET"])
@read_only
@blp.auth(Role.PROTOCOL_ADMIN, Role.CLINICIAN)
@blp.response(200, description="FHIR R4 PlanDefinition", content_type=FHIR_JSON)
@blp.alt_response(404, response="NOT_FOUND")
def fhir(key: str, n: int):
    """Export a version as a FHIR R4 PlanDefinition."""
    version = lifecycle.get_version(key, n, include_unpublished=_sees_unpublished())
    plan = lifecycle.plan_definition(version)
    return Response(json.dumps(plan, ensure_ascii=False), mimetype=FHIR_JSON)
