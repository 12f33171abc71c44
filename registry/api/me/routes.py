"""Who am I: the caller's user, roles and clinic."""

from flask import g
from marshmallow import Schema, fields

from registry.api.blueprint import ApiBlueprint
from registry.auth.models import Role
from registry.database import read_only

blp = ApiBlueprint("me", __name__, url_prefix="/api/v1", description="The caller")


class MeSchema(Schema):
    """The authenticated user."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    clinic_id = fields.Integer(allow_none=True)
    token_expires_at = fields.AwareDateTime()


@blp.route("/me", methods=["GET"])
@read_only
@blp.auth(*Role)
@blp.response(200, MeSchema)
def me():
    """Return the caller's user, roles and clinic."""
    user = g.user
    return {
        "id": user.id,
        "name": user.name,
        "roles": sorted(user.roles),
        "clinic_id": user.clinic_id,
        "token_expires_at": user.token_expires_at,
    }
