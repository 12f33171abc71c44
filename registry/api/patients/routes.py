"""Patients: registration, care cards, this clinic's view, erasure, merge and split."""

from flask import Response, g

from registry.api.blueprint import ApiBlueprint
from registry.api.oracle_limits import (
    CARE_CARD_RESOLUTION,
    LINKED_REGISTRATION,
    count_oracle_answer,
)
from registry.api.patients.schemas import (
    CareCardQrSchema,
    ErasureQuerySchema,
    MergeResultSchema,
    MergeSchema,
    PatientFactsSchema,
    PatientSchema,
    RegistrationSchema,
    ResolveSchema,
)
from registry.audit.log import record
from registry.auth.models import Role
from registry.episodes.services import episodes_of_person
from registry.extensions import db
from registry.patients import qr
from registry.patients.services import (
    PatientFacts,
    erase_person,
    merge_persons,
    parse_care_card,
    patient_view,
    register_anonymous,
    register_linked,
    resolve_care_card,
    split_merge,
)

blp = ApiBlueprint(
    "patients", __name__, url_prefix="/api/v1/patients", description="Patients and pseudonyms"
)


def _facts_body(facts) -> dict:
    """Return the answer to a registration; the care card appears only when just issued."""
    body = {
        "pseudonym": facts.pseudonym,
        "existing": facts.existing,
        "ost_active_elsewhere": facts.ost_active_elsewhere,
        "treated_before": facts.treated_before,
    }
    if facts.care_card:
        # The QR code is drawn on request (POST /care-card/qr): drawing it here tripled the
        # cost of every anonymous registration, printed or not.
        body["care_card"] = facts.care_card
    return body


@blp.route("", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(RegistrationSchema)
@blp.response(201, PatientFactsSchema)
@blp.alt_response(200, schema=PatientFactsSchema, description="This clinic knew the person.")
@blp.alt_response(409, response="CONFLICT")
def register(data):
    """Register a patient; answer this clinic's pseudonym (201 new here, 200 known here)."""
    facts = register_for_caller(data)
    db.session.commit()
    return _facts_body(facts), (200 if facts.existing else 201)


def register_for_caller(data: dict) -> PatientFacts:
    """Register for the calling clinician: anonymously, or linked within the oracle limits."""
    if data["mode"] == "anonymous":
        return register_anonymous(g.user.clinic_id)
    count_oracle_answer(LINKED_REGISTRATION)
    return register_linked(g.user.clinic_id, data["identity"])


def resolve_for_caller(care_card: str) -> PatientFacts:
    """Resolve a care card for the calling clinician, within the oracle limits."""
    count_oracle_answer(CARE_CARD_RESOLUTION)
    return resolve_care_card(g.user.clinic_id, care_card)


@blp.route("/resolve", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(ResolveSchema)
@blp.response(200, PatientFactsSchema)
@blp.alt_response(404, response="NOT_FOUND")
def resolve(data):
    """Return this clinic's pseudonym for the holder of a care card."""
    facts = resolve_for_caller(data["care_card"])
    db.session.commit()
    return _facts_body(facts)


@blp.route("/care-card/qr", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(CareCardQrSchema)
@blp.response(200, description="The QR code as image/svg+xml or image/png.")
def care_card_qr(data):
    """Draw a care card as a QR code (the code goes in the body, never in a URL)."""
    code = parse_care_card(data["care_card"])
    record("care_card.qr", "care_card")
    db.session.commit()
    if data["format"] == "png":
        return Response(qr.care_card_png(code), mimetype="image/png")
    return Response(qr.care_card_svg(code), mimetype="image/svg+xml")


@blp.route("/merges", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(MergeSchema)
@blp.response(201, MergeResultSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def merge(data):
    """Merge two of this clinic's pseudonyms that turned out to name the same person."""
    record_ = merge_persons(g.user.clinic_id, g.user.id, data["survivor"], data["merged"])
    db.session.commit()
    return {
        "id": record_.ref,
        "survivor": data["survivor"],
        "merged": data["merged"],
        "created_at": record_.created_at,
        "split_at": None,
    }


@blp.route("/merges/<merge_id>/split", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.response(200, MergeResultSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def split(merge_id: str):
    """Undo a merge made at this clinic."""
    record_ = split_merge(g.user.clinic_id, g.user.id, merge_id)
    db.session.commit()
    return {"id": record_.ref, "created_at": record_.created_at, "split_at": record_.split_at}


@blp.route("/<pseudonym>", methods=["GET"])
@blp.auth(Role.CLINICIAN)
@blp.response(200, PatientSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def read(pseudonym: str):
    """Return this clinic's view of one of its patients."""
    facts, person = patient_view(g.user.clinic_id, pseudonym)
    episodes = episodes_of_person(g.user.clinic_id, person)
    db.session.commit()
    return {
        "pseudonym": facts.pseudonym,
        "created_on": facts.created_on,
        "treated_before": facts.treated_before,
        "ost_active_elsewhere": facts.ost_active_elsewhere,
        "episodes": episodes,
    }


@blp.route("/<pseudonym>", methods=["DELETE"])
@blp.auth(Role.ADMIN)
@blp.arguments(ErasureQuerySchema, location="query")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def erase(query, pseudonym: str):
    """Erase a person named by a clinic's pseudonym (?clinic_id=): every link is removed.

    Tokens, escrow, care cards and every pseudonym go; episodes stay as unlinkable statistical
    rows. 409 while the person (or anyone merged with them) is in opioid agonist treatment at
    any clinic: the open enrolment is what keeps a second clinic from dosing them, so a
    clinician discharges the OAT episode first (with its reason and exit assessment), then
    the person can be erased. The refusal says no more: not which clinic, nor since when.
    """
    erase_person(query["clinic_id"], pseudonym)
    db.session.commit()


@blp.record_once
def _check_escrow_setting(state) -> None:
    """Refuse to start with an escrow public key setting that is not a custodian key."""
    from registry.patients.escrow import decode_public_key

    setting = state.app.config.get("ESCROW_PUBLIC_KEY")
    if setting:
        decode_public_key(setting)
