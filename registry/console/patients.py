"""Clinicians' pages: register a patient, resolve a care card, this clinic's patients."""

import base64

from flask import current_app, g, render_template, request

from registry.api.patients.routes import register_for_caller, resolve_for_caller
from registry.auth.models import Role
from registry.console.blueprint import console
from registry.console.forms import refused, registration_payload, text
from registry.console.guard import console_roles
from registry.episodes.services import episodes_of_person
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.patients import qr
from registry.patients.listing import clinic_patients
from registry.patients.services import patient_view


def _care_card_image(code: str) -> str:
    """Return the care card's QR code as a data URI for an <img> (no request leaves the page)."""
    svg = qr.care_card_svg(code).encode("ascii")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@console.route("/console/patients", methods=["GET"])
@console_roles(Role.CLINICIAN)
def patients():
    """List this clinic's patients, newest first or by the start of a pseudonym."""
    search = request.args.get("q", "")[:60].strip()
    after = request.args.get("after", "")[:60]
    errors = {}
    try:
        page = clinic_patients(
            g.user.clinic_id, search, after, current_app.config["CONSOLE_PAGE_SIZE"]
        )
    except ValidationFailed as exc:
        errors, page = refused(exc), None
    db.session.commit()
    return render_template(
        "console/patients.html", page=page, search=search, after=after, errors=errors
    ), (422 if errors else 200)


@console.route("/console/patients/new", methods=["GET", "POST"])
@console_roles(Role.CLINICIAN)
def register_patient():
    """Register a patient anonymously, by IIN or by name; show an anonymous care card once."""
    mode = request.form.get("mode", "")
    if request.method == "GET":
        return render_template("console/register.html", mode="", errors={})
    try:
        facts = register_for_caller(registration_payload(request.form))
        db.session.commit()
    except ValidationFailed as exc:
        # The identity typed is not sent back: it would sit in the page and the browser's cache.
        return render_template("console/register.html", mode=mode, errors=refused(exc)), 422
    image = _care_card_image(facts.care_card) if facts.care_card else None
    return render_template("console/registered.html", facts=facts, care_card_image=image)


@console.route("/console/patients/resolve", methods=["GET", "POST"])
@console_roles(Role.CLINICIAN)
def resolve():
    """Find this clinic's pseudonym for the holder of a care card."""
    if request.method == "GET":
        return render_template("console/resolve.html", errors={})
    try:
        facts = resolve_for_caller(text("care_card", 120))
        db.session.commit()
    except ValidationFailed as exc:
        return render_template("console/resolve.html", errors=refused(exc)), 422
    return render_template(
        "console/registered.html", facts=facts, care_card_image=None, resolved=True
    )


@console.route("/console/patients/<pseudonym>", methods=["GET"])
@console_roles(Role.CLINICIAN)
def patient(pseudonym: str):
    """Show one of this clinic's patients and their episodes here (others are not found)."""
    facts, person = patient_view(g.user.clinic_id, pseudonym)
    episodes = episodes_of_person(g.user.clinic_id, person)
    db.session.commit()
    return render_template("console/patient.html", facts=facts, episodes=episodes)
