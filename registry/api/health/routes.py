"""Liveness and readiness probes for load balancers and orchestrators."""

from flask import current_app
from marshmallow import Schema, fields

from registry.api.blueprint import ApiBlueprint
from registry.database import read_only
from registry.health import readiness

blp = ApiBlueprint("health", __name__, url_prefix="/", description="Health probes")


class HealthSchema(Schema):
    """Whether the process (and, for readiness, its dependencies) is fine."""

    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz", methods=["GET"])
@read_only
@blp.public
@blp.response(200, HealthSchema)
def healthz():
    """Answer 200 while the process is up."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@read_only
@blp.public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="Not ready")
def readyz():
    """Answer 200 when the database, keyring and migrations are ready, else 503."""
    checks = readiness(current_app)
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
