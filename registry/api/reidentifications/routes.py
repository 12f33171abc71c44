"""Governed re-identification: request, two approvals, one reveal (key custodians only)."""

from functools import wraps

from flask import g

from registry.api.blueprint import ApiBlueprint
from registry.api.reidentifications.schemas import (
    RequestSchema,
    RequestStateSchema,
    RevealedIdentitySchema,
    RevealSchema,
)
from registry.auth.models import Role
from registry.errors import AuditNote, Forbidden, NotFound
from registry.extensions import db
from registry.patients import reidentification as service
from registry.patients.models import ReidentificationRequest

blp = ApiBlueprint(
    "reidentifications",
    __name__,
    url_prefix="/api/v1/reidentifications",
    description="Governed re-identification",
)


def audit_refused_roles(action: str):
    """Audit a caller whose role may not take part in re-identification (403)."""

    def decorator(view):
        @wraps(view)
        def audited(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except Forbidden as exc:
                if exc.audit is None:
                    exc.audit = AuditNote(action, "reidentification", kwargs.get("request_id"))
                raise

        return audited

    return decorator


def _state(row: ReidentificationRequest) -> dict:
    return {
        "id": row.id,
        "requester_id": row.requester_id,
        "purpose": row.purpose,
        "legal_basis": row.legal_basis,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "approvals": service.approval_count(row.id),
        "revealed_at": row.revealed_at,
        "denied_at": row.denied_at,
    }


@blp.route("", methods=["POST"])
@audit_refused_roles("reidentification.request")
@blp.auth(Role.KEY_CUSTODIAN)
@blp.arguments(RequestSchema)
@blp.response(201, RequestStateSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def create(data):
    """Request the identity behind a pseudonym, stating purpose and legal basis."""
    row = service.request_reidentification(
        g.user.id, data["pseudonym"], data["purpose"], data["legal_basis"]
    )
    db.session.commit()
    return _state(row)


@blp.route("/<int:request_id>", methods=["GET"])
@audit_refused_roles("reidentification.read")
@blp.auth(Role.KEY_CUSTODIAN)
@blp.response(200, RequestStateSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read(request_id: int):
    """Return a request and its approvals count."""
    row = db.session.get(ReidentificationRequest, request_id)
    if row is None:
        raise NotFound("no such request")
    return _state(row)


@blp.route("/<int:request_id>/approve", methods=["POST"])
@audit_refused_roles("reidentification.approve")
@blp.auth(Role.KEY_CUSTODIAN)
@blp.response(200, RequestStateSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def approve(request_id: int):
    """Approve as a custodian other than the requester."""
    row = service.approve(request_id, g.user.id)
    db.session.commit()
    return _state(row)


@blp.route("/<int:request_id>/deny", methods=["POST"])
@audit_refused_roles("reidentification.deny")
@blp.auth(Role.KEY_CUSTODIAN)
@blp.response(200, RequestStateSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def deny(request_id: int):
    """Deny as a custodian other than the requester; the request can no longer be revealed."""
    row = service.deny(request_id, g.user.id)
    db.session.commit()
    return _state(row)


@blp.route("/<int:request_id>/reveal", methods=["POST"])
@audit_refused_roles("reidentification.reveal")
@blp.auth(Role.KEY_CUSTODIAN)
@blp.arguments(RevealSchema)
@blp.response(200, RevealedIdentitySchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def reveal(data, request_id: int):
    """Reveal the identity once, with the private key given for this call only."""
    identity = service.reveal(request_id, g.user.id, data["private_key"])
    db.session.commit()
    return identity
