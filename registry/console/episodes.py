"""Clinicians' episode pages: open one, record events (checked first), discharge, the worklist."""

from flask import current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from registry.access.models import Clinic
from registry.auth.models import Role
from registry.console import episode_forms as forms
from registry.console.blueprint import console
from registry.console.guard import console_roles
from registry.episodes import services
from registry.episodes.history import today, zone
from registry.episodes.worklist import compliance_worklist
from registry.errors import RuleViolation, ValidationFailed
from registry.extensions import db
from registry.patients.services import patient_view
from registry.protocols.models import Protocol, ProtocolVersion, Status
from registry.site.i18n import current_language


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, lang=current_language(), **values)


def _titles() -> dict[str, str]:
    """Return every protocol's title in the page's language, by key (a handful of rows)."""
    rows = db.session.execute(select(Protocol.key, Protocol.title)).all()
    return {key: forms.label(title) if title else key for key, title in rows}


def _stage_names(key: str, n: int) -> dict[str, str]:
    """Return the stage names of an episode's pinned protocol version in the page's language."""
    document = db.session.execute(
        select(ProtocolVersion.document)
        .join(Protocol, Protocol.id == ProtocolVersion.protocol_id)
        .where(Protocol.key == key, ProtocolVersion.n == n)
    ).scalar_one_or_none()
    stages = (document or {}).get("stages", [])
    return {stage["id"]: forms.label(stage["name"]) for stage in stages if "name" in stage}


def _active_protocols() -> list[tuple[str, str]]:
    """Return the protocols with an active version: key and title in the page's language."""
    rows = db.session.execute(
        select(Protocol.key, Protocol.title)
        .join(ProtocolVersion, ProtocolVersion.protocol_id == Protocol.id)
        .where(ProtocolVersion.status == Status.ACTIVE)
        .order_by(Protocol.key)
    ).all()
    return [(key, forms.label(title) if title else key) for key, title in rows]


def _clinic_timezone() -> str:
    return db.session.get(Clinic, g.user.clinic_id).timezone


def _refusal(exc: ValidationFailed) -> tuple[dict[str, str], list[dict]]:
    """Undo the request's writes; return the field messages and any protocol violations."""
    db.session.rollback()
    violations = (exc.extra or {}).get("violations", []) if isinstance(exc, RuleViolation) else []
    return forms.field_messages(exc.errors), violations


def _choices() -> dict:
    return {
        "items": forms.admission_items(),
        "diagnoses": forms.diagnoses(),
        "protocols": _active_protocols(),
        "override_reasons": forms.coded_choices("override_reasons"),
        "not_known": forms.not_known(),
    }


@console.route("/console/patients/<pseudonym>/episodes/new", methods=["GET", "POST"])
@console_roles(Role.CLINICIAN)
def open_episode(pseudonym: str):
    """Open an episode with the TDI admission form; the API's schema and service check it."""
    facts, _person = patient_view(g.user.clinic_id, pseudonym)
    db.session.commit()  # the audited read of the patient
    values = request.form if request.method == "POST" else {}
    page = {"facts": facts, "values": values, "errors": {}, "violations": []}
    if request.method == "GET":
        page["today"] = forms.today_text(today(zone(_clinic_timezone())))
        return render_template("console/episode_new.html", **page, **_choices())
    try:
        episode = services.open_episode(
            g.user.clinic_id, g.user.id, forms.episode_payload(request.form, facts.pseudonym)
        )
        db.session.commit()
    except ValidationFailed as exc:
        page["errors"], page["violations"] = _refusal(exc)
        page["today"] = request.form.get("admitted_on", "")[:16]
        return render_template("console/episode_new.html", **page, **_choices()), 422
    return redirect(_url("console.episode", ref=episode.ref, opened=1))


def _event_forms() -> dict:
    substances, results = forms.screen_choices()
    return {
        "medications": forms.coded_choices("medications"),
        "units": forms.coded_choices("units"),
        "substances": substances,
        "results": results,
        "outcome": forms.outcome_fields(),
        "override_reasons": forms.coded_choices("override_reasons"),
        "reasons": forms.discharge_reasons(),
    }


def _episode_page(ref: str, status: int = 200, **extra):
    episode = services.read_episode(g.user.clinic_id, ref)
    db.session.commit()  # the read is audited
    page = {"episode": episode, "errors": {}, "kind": "", "titles": _titles(), **_event_forms()}
    page["stages"] = _stage_names(episode["protocol"], episode["protocol_version"])
    page.update(extra)
    return render_template("console/episode.html", **page), status


@console.route("/console/episodes/<ref>", methods=["GET"])
@console_roles(Role.CLINICIAN)
def episode(ref: str):
    """Show an episode: admission, compliance, timeline, and the forms to record events."""
    recorded = request.args.get("recorded", "")[:8]
    return _episode_page(ref, opened=bool(request.args.get("opened")), recorded=recorded)


@console.route("/console/episodes/<ref>/events", methods=["POST"])
@console_roles(Role.CLINICIAN)
def record_event(ref: str):
    """Check an event with the rule engine and show its answer; record it only when confirmed."""
    try:
        data = forms.event_payload(request.form)
        if request.form.get("action") != "record":
            answer = services.check_event(g.user.clinic_id, g.user.id, ref, data)
            db.session.commit()  # the audited read only
            return _check_page(ref, answer)
        row = services.record_event(g.user.clinic_id, g.user.id, ref, data)
        db.session.commit()
    except ValidationFailed as exc:
        errors, violations = _refusal(exc)
        if violations:  # the episode changed since the check: show the new answer
            answer = {"violations": violations, "blocking": [v["rule_id"] for v in violations]}
            return _check_page(ref, {**answer, "override_required": True}, status=422)
        return _episode_page(ref, 422, errors=errors, kind=request.form.get("type", "")[:20])
    return redirect(_url("console.episode", ref=ref, recorded=row.n) + "#timeline-title")


def _check_page(ref: str, answer: dict, status: int = 200):
    """Show the rule engine's answer, with the form's values kept to record the same event."""
    fields = [(k, v[:200]) for k, v in request.form.items(multi=True) if k not in _NOT_KEPT]
    return render_template(
        "console/event_check.html",
        ref=ref,
        answer=answer,
        kind=request.form.get("type", "")[:20],
        fields=fields,
        override_reasons=forms.coded_choices("override_reasons"),
        chosen_reason=request.form.get("override_reason", "")[:64],
    ), status


_NOT_KEPT = frozenset({"csrf_token", "action", "override_reason", "lang"})


@console.route("/console/episodes/<ref>/discharge", methods=["GET", "POST"])
@console_roles(Role.CLINICIAN)
def discharge(ref: str):
    """Discharge an episode with a coded reason and, where its protocol asks, an exit assessment."""
    episode = services.read_episode(g.user.clinic_id, ref)
    db.session.commit()  # the audited read
    page = {"episode": episode, "values": {}, "errors": {}, "violations": [], **_event_forms()}
    if request.method == "GET":
        page["today"] = forms.today_text(today(zone(_clinic_timezone())))
        return render_template("console/discharge.html", **page)
    try:
        services.discharge_episode(
            g.user.clinic_id, g.user.id, ref, forms.discharge_payload(request.form)
        )
        db.session.commit()
    except ValidationFailed as exc:
        page["errors"], page["violations"] = _refusal(exc)
        page["values"] = request.form
        page["today"] = request.form.get("discharged_on", "")[:16]
        return render_template("console/discharge.html", **page), 422
    return redirect(_url("console.episode", ref=ref, recorded="discharge"))


@console.route("/console/compliance", methods=["GET"])
@console_roles(Role.CLINICIAN)
def compliance():
    """List this clinic's open episodes, overdue first."""
    number = request.args.get("page", "1")[:6]
    page_number = int(number) if number.isdigit() and int(number) > 0 else 1
    size = current_app.config["CONSOLE_PAGE_SIZE"]
    page = compliance_worklist(g.user.clinic_id, _clinic_timezone(), page_number, size)
    db.session.commit()  # the read is audited
    return render_template("console/compliance.html", page=page, titles=_titles())
