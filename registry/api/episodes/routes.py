"""Episodes: clinicians open, record, discharge and read their clinic's episodes."""

from flask import current_app, g

from registry.api.blueprint import ApiBlueprint
from registry.api.episodes.schemas import (
    ComplianceSchema,
    DischargeInSchema,
    EpisodeInSchema,
    EpisodePageSchema,
    EpisodeQuerySchema,
    EpisodeSchema,
    EventCheckSchema,
    EventInSchema,
    EventSchema,
    MigrationInSchema,
    MigrationRecordSchema,
    MigrationReportSchema,
)
from registry.auth.models import Role
from registry.episodes import migration, services
from registry.extensions import db

blp = ApiBlueprint(
    "episodes", __name__, url_prefix="/api/v1/episodes", description="Treatment episodes"
)
migrations_blp = ApiBlueprint(
    "protocol_migrations",
    __name__,
    url_prefix="/api/v1/protocols",
    description="Moving open episodes to a newer protocol version",
)


def _read(ref: str) -> dict:
    return services.read_episode(g.user.clinic_id, ref)


@blp.route("", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(EpisodeInSchema)
@blp.response(201, EpisodeSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def open_episode(data):
    """Open an episode: pseudonym, protocol key (its active version), diagnosis, TDI record."""
    episode = services.open_episode(g.user.clinic_id, g.user.id, data)
    body = _read(episode.ref)
    db.session.commit()
    return body


@blp.route("", methods=["GET"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(EpisodeQuerySchema, location="query")
@blp.response(200, EpisodePageSchema)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def list_episodes(query):
    """List this clinic's episodes (filters: status, protocol, overdue, dates; paged)."""
    config = current_app.config
    per_page = query.get("per_page") or config["EPISODES_PER_PAGE"]
    query["per_page"] = min(per_page, config["EPISODES_MAX_PER_PAGE"])
    page = services.list_episodes(g.user.clinic_id, query)
    db.session.commit()  # the read is audited
    return page


@blp.route("/<ref>", methods=["GET"])
@blp.auth(Role.CLINICIAN)
@blp.response(200, EpisodeSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read_episode(ref: str):
    """Return an episode with its admission record, timeline and compliance."""
    body = _read(ref)
    db.session.commit()  # the read is audited
    return body


@blp.route("/<ref>/events", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(EventInSchema)
@blp.response(201, EventSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def record_event(data, ref: str):
    """Record an event checked against the pinned protocol (422 with rule ids, or override)."""
    row = services.record_event(g.user.clinic_id, g.user.id, ref, data)
    body = services.timeline_entry(row, None, g.user.name)
    db.session.commit()
    return body


@blp.route("/<ref>/events/check", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(EventInSchema)
@blp.response(200, EventCheckSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def check_event(data, ref: str):
    """Dry run: what the rules say of an event, before it is recorded; nothing is recorded.

    The same body as POST /events and the same check. A 200 answer lists every rule the event
    breaks; `blocking` ones need an `override_reason` to record it. Only the read is audited
    (`episode.check`): the answer is drawn from the episode's clinical history.
    """
    body = services.check_event(g.user.clinic_id, g.user.id, ref, data)
    db.session.commit()  # the audited read only
    return body


@blp.route("/<ref>/discharge", methods=["POST"])
@blp.auth(Role.CLINICIAN)
@blp.arguments(DischargeInSchema)
@blp.response(200, EpisodeSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def discharge(data, ref: str):
    """Discharge an episode with a reason of its protocol; 409 once discharged."""
    services.discharge_episode(g.user.clinic_id, g.user.id, ref, data)
    body = _read(ref)
    db.session.commit()
    return body


@blp.route("/<ref>/compliance", methods=["GET"])
@blp.auth(Role.CLINICIAN)
@blp.response(200, ComplianceSchema)
@blp.alt_response(404, response="NOT_FOUND")
def compliance(ref: str):
    """Return overdue and upcoming required events (notices: they never block dosing)."""
    body = services.episode_compliance(g.user.clinic_id, ref)
    db.session.commit()  # the read is audited
    return body


@migrations_blp.route("/<key>/migrations", methods=["POST"])
@migrations_blp.auth(Role.PROTOCOL_ADMIN)
@migrations_blp.arguments(MigrationInSchema)
@migrations_blp.response(200, MigrationReportSchema)
@migrations_blp.alt_response(404, response="NOT_FOUND")
@migrations_blp.alt_response(409, response="CONFLICT")
@migrations_blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def migrate(data, key: str):
    """Report which open episodes the new version finds in violation; apply unless dry_run."""
    report = migration.migrate(
        key,
        data["from_version"],
        data["to_version"],
        g.user.id,
        dry_run=data["dry_run"],
        exclude=frozenset(data["exclude"]),
        skip_in_violation=data["skip_in_violation"],
    )
    db.session.commit()
    return report


@migrations_blp.route("/<key>/migrations", methods=["GET"])
@migrations_blp.auth(Role.PROTOCOL_ADMIN)
@migrations_blp.response(200, MigrationRecordSchema(many=True))
@migrations_blp.alt_response(404, response="NOT_FOUND")
def migrations(key: str):
    """List the episodes moved between versions of a protocol."""
    found = migration.migrations_of(key)
    db.session.commit()  # the read is audited
    return found
