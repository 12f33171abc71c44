"""Key custodians' pages: re-identification requests, approved or denied here, revealed offline."""

from flask import current_app, g, redirect, render_template, request, url_for

from registry import clock
from registry.auth.models import Role
from registry.console.blueprint import console
from registry.console.episode_forms import label
from registry.console.guard import console_roles
from registry.episodes.codes import raw_codes
from registry.extensions import db
from registry.patients import reidentification as service
from registry.patients.reidentification import APPROVALS_NEEDED
from registry.site.i18n import current_language


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, lang=current_language(), **values)


def _state(row, approvals: int) -> str:
    """Name where a request stands, in the order the service checks it."""
    if row.revealed_at is not None:
        return "revealed"
    if row.denied_at is not None:
        return "denied"
    if clock.now() >= row.expires_at:
        return "expired"
    return "approved" if approvals >= APPROVALS_NEEDED else "open"


def _coded(list_name: str, code: str) -> str:
    entry = raw_codes()[list_name].get(code)
    return label(entry) if entry else code


@console.route("/console/reidentifications", methods=["GET"])
@console_roles(Role.KEY_CUSTODIAN)
def reidentifications():
    """List the newest re-identification requests with where each stands."""
    found = service.recent_requests(current_app.config["CONSOLE_PAGE_SIZE"])
    approved = service.approvers([row.id for row, _ in found])
    rows = [
        {
            "row": row,
            "approvals": count,
            "state": _state(row, count),
            "purpose": _coded("reidentification_purposes", row.purpose),
            "legal_basis": _coded("legal_bases", row.legal_basis),
            "mine": row.requester_id == g.user.id,
            "approved_by_me": (row.id, g.user.id) in approved,
        }
        for row, count in found
    ]
    db.session.commit()
    return render_template(
        "console/reidentifications.html",
        rows=rows,
        needed=APPROVALS_NEEDED,
        done=request.args.get("done", "")[:10],
    )


@console.route("/console/reidentifications/<int:request_id>/approve", methods=["POST"])
@console_roles(Role.KEY_CUSTODIAN)
def approve_reidentification(request_id: int):
    """Approve a request as a custodian other than its requester (the service checks)."""
    service.approve(request_id, g.user.id)
    db.session.commit()
    return redirect(_url("console.reidentifications", done="approved") + f"#request-{request_id}")


@console.route("/console/reidentifications/<int:request_id>/deny", methods=["POST"])
@console_roles(Role.KEY_CUSTODIAN)
def deny_reidentification(request_id: int):
    """Deny a request: it can no longer be approved or revealed."""
    service.deny(request_id, g.user.id)
    db.session.commit()
    return redirect(_url("console.reidentifications", done="denied") + f"#request-{request_id}")


@console.route("/console/reidentifications/reveal", methods=["GET"])
@console_roles(Role.KEY_CUSTODIAN)
def reveal_offline():
    """Explain the offline reveal: the private key never reaches a browser or this server."""
    return render_template("console/reveal.html", needed=APPROVALS_NEEDED)
