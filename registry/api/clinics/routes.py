"""Clinics: operators create them; staff read their own."""

from flask import g

from registry.access.clinics import create_clinic, get_clinic, visible_clinics
from registry.api.blueprint import ApiBlueprint
from registry.api.clinics.schemas import ClinicSchema
from registry.auth.models import Role
from registry.database import read_only
from registry.extensions import db

blp = ApiBlueprint("clinics", __name__, url_prefix="/api/v1/clinics", description="Clinics")


@blp.route("", methods=["POST"])
@blp.auth(Role.ADMIN)
@blp.arguments(ClinicSchema)
@blp.response(201, ClinicSchema)
def create(data):
    """Create a clinic."""
    clinic = create_clinic(**data)
    db.session.commit()
    return clinic


@blp.route("", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN, Role.CLINICIAN, Role.CLINIC_ADMIN)
@blp.response(200, ClinicSchema(many=True))
def list_clinics():
    """List clinics: all for operators, the caller's own for clinic staff."""
    return visible_clinics(g.user)


@blp.route("/<int:clinic_id>", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN, Role.CLINICIAN, Role.CLINIC_ADMIN)
@blp.response(200, ClinicSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read(clinic_id: int):
    """Return one clinic (404 for another clinic's staff)."""
    return get_clinic(g.user, clinic_id)
