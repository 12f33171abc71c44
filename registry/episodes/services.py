"""Open, record, discharge and read treatment episodes; flush, never commit."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, func, insert, select, update

from registry import clock
from registry.access.models import Clinic
from registry.audit.log import record
from registry.auth.models import User
from registry.database import read_before_writing, reading_bind
from registry.driver_sql import driver_execute, driver_query
from registry.episodes import codes
from registry.episodes.admission import age_at_admission
from registry.episodes.history import (
    active,
    as_aware,
    blocking,
    compiled_version,
    engine_event,
    event_facts,
    event_rows,
    fold,
    judged_facts,
    local_day,
    noon,
    protocol_of,
    rechecked,
    refresh,
    stage_columns,
    today,
    violation_dict,
    zone,
)
from registry.episodes.models import Episode, EpisodeEvent, EpisodeStatus, NewEvent
from registry.errors import AuditNote, Conflict, NotFound, RuleViolation, ValidationFailed
from registry.extensions import db
from registry.patients.models import Person, Pseudonym
from registry.patients.services import (
    clinic_domain,
    close_ost_enrolment,
    group_ids,
    mark_treated,
    open_ost_enrolment,
    ost_active_elsewhere,
    person_for_clinic_pseudonym,
)
from registry.protocols import (
    CompiledProtocol,
    EpisodeState,
    Event,
    check_eligibility,
    compliance_of,
)
from registry.protocols.icd10 import normalise
from registry.protocols.model import Violation
from registry.protocols.models import Protocol, ProtocolVersion, Status

OST_CONDITION = "ost_active_elsewhere"
# Where a rule's violation points in the request, by the kind of rule.
RULE_FIELDS = {
    "medication": "payload.unit",
    "unlisted_medication": "payload.medication",
    "first_dose_max": "payload.amount",
    "first_day_max": "payload.amount",
    "missed_doses": "payload.amount",
    "daily_max": "payload.amount",
    "max_increase_per_day": "payload.amount",
    "max_increase_per_week": "payload.amount",
    "dose_range": "payload.amount",
    "transition": "payload.to",
    "duration": "payload.to",
    "take_home": "payload.medication",
    "take_home_band": "payload.doses",
    "discharge_reason": "reason",
    "exit_assessment": "assessment",
    "eligibility_diagnosis": "diagnosis",
    "min_age": "admission.birth_year",
    "exclusion": "diagnosis",
}


# -- lookups -----------------------------------------------------------------------------------


def is_oat(protocol: CompiledProtocol) -> bool:
    """Tell whether a protocol is opioid agonist treatment: it excludes OST elsewhere."""
    return any(e.condition == OST_CONDITION for e in protocol.exclusions)


def _active_version(key: str) -> ProtocolVersion:
    version = db.session.execute(
        select(ProtocolVersion)
        .join(Protocol, Protocol.id == ProtocolVersion.protocol_id)
        .where(Protocol.key == key, ProtocolVersion.status == Status.ACTIVE)
    ).scalar_one_or_none()
    if version is None:
        raise ValidationFailed(errors={"protocol": ["no active protocol with this key"]})
    return version


def episode_for(clinic_id: int, ref: str, action: str, *, lock: bool = False) -> Episode:
    """Return one of the clinic's episodes; another clinic's or none is an audited 404."""
    query = select(Episode).where(Episode.ref == ref[:32], Episode.clinic_id == clinic_id)
    if lock:  # serialise writes to one episode: each event is checked against all before it
        query = query.with_for_update().execution_options(populate_existing=True)
    episode = db.session.execute(query).scalar_one_or_none()
    if episode is None:
        raise NotFound("no such episode", audit=AuditNote(action, "episode"))
    return episode


@dataclass
class EpisodeToCheck:
    """What checking and appending an event read of its episode: a plain row, not an ORM object.

    Loading the whole episode through the ORM cost more than the event's writes together.
    """

    id: int
    ref: str
    status: str
    admitted_on: date
    protocol_version_id: int
    engine_state: dict | None
    engine_state_event_n: int | None
    override_count: int


# Built once, run on the driver. No FOR UPDATE: the first read runs before the write and must
# not wait for other writers; the write locks the episode row itself (_unchanged_since) and
# reads again.
_EPISODE_TO_CHECK = (
    select(
        *(getattr(Episode, field.name) for field in fields(EpisodeToCheck)),
        Clinic.timezone,
        ProtocolVersion.document_hash,
        # In the same read, so the stored engine state is checked against the same moment.
        select(func.max(EpisodeEvent.n))
        .where(EpisodeEvent.episode_id == Episode.id)
        .scalar_subquery(),
    )
    .join(Clinic, Clinic.id == Episode.clinic_id)
    .join(ProtocolVersion, ProtocolVersion.id == Episode.protocol_version_id)
    .where(Episode.ref == bindparam("ref"), Episode.clinic_id == bindparam("clinic_id"))
)


def _episode_to_check(
    clinic_id: int, ref: str, action: str
) -> tuple[EpisodeToCheck, str, str, int | None]:
    """Return a clinic's episode, the clinic's timezone, its version's hash and newest event's n."""
    # One round trip instead of four; another clinic's or no episode is an audited 404.
    values = {"ref": ref[:32], "clinic_id": clinic_id}
    rows = driver_query(reading_bind(), _EPISODE_TO_CHECK, values)
    if not rows:
        raise NotFound("no such episode", audit=AuditNote(action, "episode"))
    *columns, timezone, digest, newest = rows[0]
    return EpisodeToCheck(*columns), timezone, digest, newest


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:  # a clinic user always has one; defensive
        raise NotFound("no such clinic")
    return clinic


def _refused(
    protocol: CompiledProtocol,
    violations: list[Violation],
    detail: str,
    cls: type[RuleViolation] | type[Conflict] = RuleViolation,
    field_of: Callable[[Violation], str | None] = lambda v: None,
    **kwargs,
):
    """Build the refusal: errors map the request field each rule is about to rule ids.

    The field is the one its kind of rule is about, unless field_of names another.
    """
    errors: dict[str, list[str]] = {}
    for v in violations:
        rule = protocol.rules.get(v.rule_id)
        field = field_of(v) or RULE_FIELDS.get(rule.kind if rule else "", "_rules")
        errors.setdefault(field, []).append(v.rule_id)
    return cls(
        detail,
        errors=errors if cls is RuleViolation else None,
        extra={"violations": [violation_dict(v) for v in violations]},
        **kwargs,
    )


# -- open --------------------------------------------------------------------------------------


def open_episode(clinic_id: int, user_id: int, data: dict[str, Any]) -> Episode:
    """Open an episode for one of the clinic's patients under a protocol's active version."""
    clinic = _clinic(clinic_id)
    tz = zone(clinic.timezone)
    person = person_for_clinic_pseudonym(clinic_id, data["pseudonym"], "episode.open")
    # Lock the person so that two clinics cannot both open OAT for them at the same moment,
    # nor one open it while the person is being erased (erase_person takes the same lock).
    locked = select(Person.erased).where(Person.id == person.id).with_for_update()
    if db.session.execute(locked).scalar_one():
        raise NotFound("no such patient", audit=AuditNote("episode.open", "pseudonym"))
    admitted_on = data["admitted_on"]
    if admitted_on > today(tz):
        raise ValidationFailed(errors={"admitted_on": ["must not be in the future"]})
    version = _active_version(data["protocol"])
    protocol = compiled_version(version)
    oat = is_oat(protocol)
    admission = data["admission"]
    age = age_at_admission(admitted_on, admission)
    elsewhere = oat and ost_active_elsewhere(person.id, clinic_id)
    conditions = {OST_CONDITION} if elsewhere else set()
    secondary = data.get("secondary_diagnoses") or []
    found = check_eligibility(
        protocol, data["diagnosis"], age, other_diagnoses=secondary, conditions=conditions
    )
    ost = [v for v in found if v.details.get("condition") == OST_CONDITION]
    if ost:
        # Never overridable: the answer says only that OAT is active elsewhere, never where.
        raise _refused(
            protocol,
            ost,
            "the person is in opioid agonist treatment at another clinic",
            Conflict,
            audit=AuditNote("episode.open", "protocol_version", version.label),
        )
    errors = [v for v in found if blocking(v)]
    if errors and not data.get("override_reason"):
        raise _refused(
            protocol,
            errors,
            "the patient is not eligible for this protocol",
            field_of=lambda v: _admission_field(v, data["diagnosis"]),
        )
    if _open_here(person.id, clinic_id, protocol.key):
        raise Conflict(
            "the patient already has an open episode of this protocol here",
            audit=AuditNote("episode.open", "protocol_version", version.label),
        )
    episode = Episode(
        ref=secrets.token_hex(16),
        person_id=person.id,
        clinic_id=clinic_id,
        protocol_version_id=version.id,
        protocol_key=protocol.key,
        oat=oat,
        status=EpisodeStatus.OPEN,
        stage=protocol.initial_stage,
        admitted_on=admitted_on,
        diagnosis=normalise(data["diagnosis"]),
        diagnosis_icd11=data.get("diagnosis_icd11"),
        secondary_diagnoses=list(secondary),
        created_by=user_id,
        centre_type=clinic.centre_type,
        age_at_admission=age,
        override_count=1 if errors else 0,
        admission_violations=[violation_dict(v) for v in found],
        admission_override_reason=data["override_reason"] if errors else None,
        **{name: admission.get(name) for name in codes.admission_items() if name != "centre_type"},
    )
    db.session.add(episode)
    db.session.flush()
    admitted = fold(protocol, episode, ())
    refresh(episode, admitted)
    _store_state(episode, admitted, None, admitted.admission)
    if oat:
        open_ost_enrolment(person.id, clinic_id, episode.ref)
    mark_treated(person.id)
    record("episode.open", "episode", episode.ref)
    if errors:
        record("episode.override", "episode", episode.ref)
    return episode


def _admission_field(violation: Violation, diagnosis: str) -> str | None:
    """Return the field an exclusion matched on when it was a secondary diagnosis."""
    code = violation.details.get("code")
    return "secondary_diagnoses" if code and code != normalise(diagnosis) else None


def _open_here(person_id: int, clinic_id: int, key: str) -> bool:
    return (
        db.session.execute(
            select(Episode.id).where(
                Episode.person_id.in_(group_ids(db.session.get(Person, person_id))),
                Episode.clinic_id == clinic_id,
                Episode.protocol_key == key,
                Episode.status == EpisodeStatus.OPEN,
            )
        ).first()
        is not None
    )


# -- events ------------------------------------------------------------------------------------


def _event_day(episode: EpisodeToCheck, tz, occurred_at: datetime | None, field: str) -> tuple:
    """Return (moment in UTC, clinic day) of an event, refusing future and pre-admission times."""
    now = clock.now()
    moment = now if occurred_at is None else as_aware(occurred_at, tz)
    skew = timedelta(seconds=current_app.config["EPISODE_CLOCK_SKEW_SECONDS"])
    if moment > now + skew:
        raise ValidationFailed(errors={field: ["must not be in the future"]})
    day = local_day(moment, tz)
    moment = moment.astimezone(UTC)
    if day < episode.admitted_on:
        raise ValidationFailed(errors={field: ["must not be before the admission date"]})
    return moment, day


def _superseded(episode: EpisodeToCheck, rows: list[EpisodeEvent], n: int, kind: str):
    target = next((row for row in rows if row.n == n), None)
    if target is None:
        raise ValidationFailed(errors={"supersedes": ["no such event in this episode"]})
    if target.type != kind:
        raise ValidationFailed(errors={"supersedes": ["a correction keeps the event's type"]})
    if any(row.supersedes_n == n for row in rows):
        raise Conflict("this event was corrected already; correct the correction")
    return target


@dataclass
class _EventPlan:
    """An event checked against its episode as it stood, ready to append."""

    episode: EpisodeToCheck
    row: NewEvent
    errors: list[Violation]
    replaced: EpisodeEvent | None
    state: EpisodeState  # the engine state after the event
    last_day: date
    newest: int | None  # the number of the episode's newest event when it was checked


def record_event(clinic_id: int, user_id: int, ref: str, data: dict[str, Any]) -> NewEvent:
    """Check an event against the episode's pinned version and append it (or refuse, 422).

    The check (the costliest part) runs before the write lock is taken; the write then makes
    sure that no event reached the episode in between, or else checks again under the lock.
    A backdated event is checked against the events up to its own day and recorded; what it
    makes the later events break is flagged by compliance (history.rechecked), not refused.
    """
    plan = read_before_writing(lambda: _plan_event(clinic_id, user_id, ref, data))
    if not _unchanged_since(plan):
        plan = _plan_event(clinic_id, user_id, ref, data)  # now holding the episode's lock
    return _append(plan)


def check_event(clinic_id: int, user_id: int, ref: str, data: dict[str, Any]) -> dict[str, Any]:
    """Judge an event exactly as record_event would, and write nothing to the episode.

    The answer reads the episode's clinical history, so the read is audited (episode.check),
    like every other read of an episode; nothing else is written.
    """
    plan = _plan_event(clinic_id, user_id, ref, data, judge_only=True)
    record("episode.check", "episode", plan.episode.ref)
    blocking_ids = [v.rule_id for v in plan.errors]
    return {
        "type": plan.row.type,
        "day": plan.row.day,
        "payload": plan.row.payload,
        "supersedes": plan.row.supersedes_n,
        "violations": plan.row.violations,
        "blocking": blocking_ids,
        "override_required": bool(blocking_ids),
        "would_record": not blocking_ids or bool(data.get("override_reason")),
    }


def _plan_event(
    clinic_id: int, user_id: int, ref: str, data: dict[str, Any], *, judge_only: bool = False
) -> _EventPlan:
    episode, timezone, digest, newest_event = _episode_to_check(clinic_id, ref, "episode.event")
    if episode.status != EpisodeStatus.OPEN:
        raise Conflict(
            "the episode is discharged and accepts no events",
            audit=AuditNote("episode.event", "episode", episode.ref),
        )
    tz = zone(timezone)
    moment, day = _event_day(episode, tz, data.get("occurred_at"), "occurred_at")
    protocol = protocol_of(episode.protocol_version_id, digest)
    event = Event(data["type"], day, data.get("payload") or {})
    _refuse_unknown_stage(protocol, event, episode.ref)
    replaced, history = None, None
    correcting = data.get("supersedes") is not None
    state = None if correcting else _stored_state(episode, protocol, event.day, newest_event)
    newest = episode.engine_state_event_n
    if state is None:  # a correction, a backdated event or no valid snapshot: fold the history
        rows = event_facts(episode.id)
        newest = max((row.n for row in rows), default=None)
        if correcting:
            replaced = _superseded(episode, rows, data["supersedes"], data["type"])
        history = [engine_event(row) for row in active(rows) if row is not replaced]
        state = fold(protocol, episode, history, until=day)
    found = state.check(event)
    errors = [v for v in found if blocking(v)]
    override = data.get("override_reason")
    if errors and not override and not judge_only:
        raise _refused(
            protocol,
            errors,
            "the event breaks the protocol",
            audit=AuditNote("episode.event", "episode", episode.ref),
        )
    row = NewEvent(
        episode_id=episode.id,
        type=data["type"],
        occurred_at=moment,
        day=day,
        payload=dict(event.payload),
        supersedes_n=replaced.n if replaced else None,
        override_reason=override if errors else None,
        violations=[violation_dict(v) for v in found],
        recorded_by=user_id,
    )
    if judge_only:  # the state after the event is for a write only
        return _EventPlan(episode, row, errors, replaced, state, event.day, newest)
    last_day = max(event.day, history[-1].day) if history else event.day
    if last_day > event.day:  # backdated: later events must be folded again
        state = fold(protocol, episode, _merged(history, event))
    else:
        state.apply(event, force=True)
    return _EventPlan(episode, row, errors, replaced, state, last_day, newest)


def _refuse_unknown_stage(protocol: CompiledProtocol, event: Event, ref: str) -> None:
    """Refuse a stage change to a stage the protocol lacks: only its stage ids are codes.

    An override can accept a transition the rules forbid, but not store a made-up target,
    which could be any text shaped like an id (a name, an IIN).
    """
    if event.type == "stage_change" and event.payload["to"] not in protocol.stages:
        raise ValidationFailed(
            errors={"payload.to": ["not a stage of this episode's protocol"]},
            audit=AuditNote("episode.event", "episode", ref),
        )


# Two statements, not one: on PostgreSQL a statement that waited for the row lock still reads
# the events as they were when it began; the second one sees an event committed meanwhile.
_LOCK_EPISODE = (
    select(Episode.status, Episode.protocol_version_id)
    .where(Episode.id == bindparam("episode_id"))
    .with_for_update()
)


def _unchanged_since(plan: _EventPlan) -> bool:
    """Lock the episode; tell whether it is as the plan saw it (open, same version and events)."""
    connection = db.session.connection()
    found = driver_execute(connection, _LOCK_EPISODE, {"episode_id": plan.episode.id})
    if not found or found[0] != (EpisodeStatus.OPEN, plan.episode.protocol_version_id):
        return False
    newest = driver_execute(connection, _NEWEST_EVENT, {"episode_id": plan.episode.id})
    return newest[0][0] == plan.newest


# The event row and the episode's new state go in on the driver: the ORM's flushes of the two
# cost several times the statements, and both are made while other writers wait.
_EVENTS = EpisodeEvent.__table__
_EVENT_COLUMNS = (
    "episode_id", "n", "type", "occurred_at", "day", "recorded_at", "payload", "supersedes_n",
    "override_reason", "violations", "recorded_by",
)  # fmt: skip
_INSERT_EVENT = insert(_EVENTS)
_SAVE_STATE = update(Episode.__table__).where(Episode.__table__.c.id == bindparam("episode_id"))


def _append(plan: _EventPlan) -> NewEvent:
    """Store a planned event, numbered after the episode's newest, and its new state; audit it."""
    episode, row = plan.episode, plan.row
    row.recorded_at = clock.now()
    row.n = _next_number(plan.newest)
    connection = db.session.connection()
    driver_execute(connection, _INSERT_EVENT, {name: getattr(row, name) for name in _EVENT_COLUMNS})
    columns = {
        **stage_columns(plan.state),
        **_state_columns(episode, plan.state, row.n, plan.last_day),
        "override_count": episode.override_count + (1 if plan.errors else 0),
    }
    driver_execute(connection, _SAVE_STATE, {**columns, "episode_id": episode.id})
    if plan.errors:
        record("episode.override", "episode", episode.ref)
    record("episode.correct" if plan.replaced else "episode.event", "episode", episode.ref)
    return row


_NEWEST_EVENT = select(func.max(EpisodeEvent.n)).where(
    EpisodeEvent.episode_id == bindparam("episode_id")
)


def _next_number(newest: int | None) -> int:
    """Return the number of an episode's next event (its first is 1)."""
    return (newest or 0) + 1


def _stored_state(
    episode: EpisodeToCheck, protocol: CompiledProtocol, day: int, newest_event: int | None
) -> EpisodeState | None:
    """Return the episode's stored engine state if it still holds and day is not backdated."""
    stored = episode.engine_state
    if not stored or stored["version"] != episode.protocol_version_id or stored["last_day"] > day:
        return None
    if newest_event != episode.engine_state_event_n:  # an event came in by another path
        return None
    if stored["state"].get("format") != EpisodeState.SNAPSHOT_FORMAT:  # kept by older code
        return None
    return EpisodeState.restore(protocol, stored["state"])


def _state_columns(
    episode: Episode | EpisodeToCheck, state: EpisodeState, event_n: int | None, last_day: date
):
    """Return the columns keeping the engine state after the newest event (Episode.engine_state)."""
    return {
        "engine_state": {
            "version": episode.protocol_version_id,
            "last_day": last_day,
            "state": state.snapshot(),
        },
        "engine_state_event_n": event_n,
    }


def _store_state(episode: Episode, state: EpisodeState, event_n: int | None, last_day: date):
    """Keep the engine state after the episode's newest event (see Episode.engine_state)."""
    for name, value in _state_columns(episode, state, event_n, last_day).items():
        setattr(episode, name, value)


def _merged(history: list[Event], event: Event) -> list[Event]:
    """Insert a backdated event after the events of its own day and before later ones."""
    index = next((i for i, e in enumerate(history) if e.day > event.day), len(history))
    return [*history[:index], event, *history[index:]]


# -- discharge ---------------------------------------------------------------------------------


def discharge_episode(clinic_id: int, user_id: int, ref: str, data: dict[str, Any]) -> EpisodeEvent:
    """Discharge an episode with a reason of its protocol; close its OST enrolment."""
    episode = episode_for(clinic_id, ref, "episode.discharge", lock=True)
    if episode.status != EpisodeStatus.OPEN:
        raise Conflict(
            "the episode is discharged already",
            audit=AuditNote("episode.discharge", "episode", episode.ref),
        )
    tz = zone(_clinic(clinic_id).timezone)
    on = data.get("discharged_on") or today(tz)
    if on > today(tz):
        raise ValidationFailed(errors={"discharged_on": ["must not be in the future"]})
    if on < episode.admitted_on:
        raise ValidationFailed(errors={"discharged_on": ["must not be before the admission date"]})
    stored = event_facts(episode.id)
    number = _next_number(max((row.n for row in stored), default=None))
    rows = active(stored)
    if rows and rows[-1].day > on:
        raise ValidationFailed(errors={"discharged_on": ["events were recorded after this date"]})
    history = [engine_event(row) for row in rows]
    protocol = protocol_of(episode.protocol_version_id)
    moment = noon(on, tz).astimezone(UTC) if on < today(tz) else clock.now()
    assessment = None
    if data.get("assessment") is not None:
        assessment = Event("assessment", on, data["assessment"])
        history.append(assessment)
    event = Event("discharge", on, {"reason": data["reason"]})
    state = fold(protocol, episode, history)
    found = state.check(event)
    errors = [v for v in found if blocking(v)]
    override = data.get("override_reason")
    if errors and not override:
        raise _refused(
            protocol,
            errors,
            "the discharge breaks the protocol",
            audit=AuditNote("episode.discharge", "episode", episode.ref),
        )
    if assessment is not None:
        db.session.add(
            EpisodeEvent(
                episode_id=episode.id,
                n=number,
                type="assessment",
                occurred_at=moment,
                day=on,
                payload=dict(assessment.payload),
                violations=[],
                recorded_by=user_id,
                recorded_at=clock.now(),
            )
        )
        number += 1
    row = EpisodeEvent(
        episode_id=episode.id,
        n=number,
        type="discharge",
        occurred_at=moment,
        day=on,
        payload=dict(event.payload),
        override_reason=override if errors else None,
        violations=[violation_dict(v) for v in found],
        recorded_by=user_id,
        recorded_at=clock.now(),
    )
    db.session.add(row)
    episode.status = EpisodeStatus.DISCHARGED
    episode.discharged_on = on
    episode.discharge_reason = data["reason"]
    episode.overdue_after = None
    if errors:
        episode.override_count += 1
        record("episode.override", "episode", episode.ref)
    if episode.oat:
        close_ost_enrolment(episode.person_id, clinic_id, episode.ref)
    db.session.flush()
    record("episode.discharge", "episode", episode.ref)
    return row


# -- reads -------------------------------------------------------------------------------------


def _listing(clinic_id: int):
    """Return the select of a clinic's episodes with this clinic's pseudonym and version."""
    return (
        select(Episode, Pseudonym.value, ProtocolVersion.n)
        .join(ProtocolVersion, ProtocolVersion.id == Episode.protocol_version_id)
        .outerjoin(
            Pseudonym,
            and_(
                Pseudonym.person_id == Episode.person_id,
                Pseudonym.domain == clinic_domain(clinic_id),
            ),
        )
        .where(Episode.clinic_id == clinic_id)
    )


def list_episodes(clinic_id: int, filters: dict[str, Any]) -> dict[str, Any]:
    """Return a page of the clinic's episodes matching the filters."""
    tz = zone(_clinic(clinic_id).timezone)
    now = today(tz)
    query = _listing(clinic_id)
    conditions = []
    if filters.get("status"):
        conditions.append(Episode.status == filters["status"])
    if filters.get("protocol"):
        conditions.append(Episode.protocol_key == filters["protocol"])
    if filters.get("overdue") is True:
        conditions += [Episode.status == EpisodeStatus.OPEN, Episode.overdue_after < now]
    elif filters.get("overdue") is False:
        conditions.append((Episode.overdue_after.is_(None)) | (Episode.overdue_after >= now))
    for name, column, op in (
        ("admitted_from", Episode.admitted_on, "ge"),
        ("admitted_to", Episode.admitted_on, "le"),
        ("discharged_from", Episode.discharged_on, "ge"),
        ("discharged_to", Episode.discharged_on, "le"),
    ):
        if filters.get(name) is not None:
            value = filters[name]
            conditions.append(column >= value if op == "ge" else column <= value)
    if filters.get("pseudonym"):
        person = person_for_clinic_pseudonym(clinic_id, filters["pseudonym"], "episode.list")
        conditions.append(Episode.person_id.in_(group_ids(person)))
    query = query.where(*conditions)
    total = db.session.execute(
        select(func.count()).select_from(query.with_only_columns(Episode.id).subquery())
    ).scalar_one()
    page, per_page = filters["page"], filters["per_page"]
    rows = db.session.execute(
        query.order_by(Episode.admitted_on.desc(), Episode.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    record("episode.list", "clinic", clinic_id)
    return {
        "items": [summary(e, pseudonym, n, now) for e, pseudonym, n in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def summary(episode: Episode, pseudonym: str | None, n: int, on: date) -> dict[str, Any]:
    """Return the list form of an episode."""
    return {
        "id": episode.ref,
        "pseudonym": pseudonym,
        "protocol": episode.protocol_key,
        "protocol_version": n,
        "oat": episode.oat,
        "status": episode.status,
        "stage": episode.stage,
        "diagnosis": episode.diagnosis,
        "admitted_on": episode.admitted_on,
        "discharged_on": episode.discharged_on,
        "discharge_reason": episode.discharge_reason,
        "length_of_stay": episode.length_of_stay(on),
        "overdue": episode.status == EpisodeStatus.OPEN
        and episode.overdue_after is not None
        and episode.overdue_after < on,
        "override_count": episode.override_count,
    }


def episodes_of_person(clinic_id: int, person: Person) -> list[dict[str, Any]]:
    """Return the summaries of a person's episodes at one clinic (for the patient view)."""
    tz = zone(_clinic(clinic_id).timezone)
    rows = db.session.execute(
        select(Episode, ProtocolVersion.n)
        .join(ProtocolVersion, ProtocolVersion.id == Episode.protocol_version_id)
        .where(Episode.clinic_id == clinic_id, Episode.person_id.in_(group_ids(person)))
        .order_by(Episode.admitted_on.desc(), Episode.id.desc())
    ).all()
    now = today(tz)
    return [summary(e, None, n, now) for e, n in rows]


def timeline_entry(
    row: EpisodeEvent | NewEvent, superseded_by: int | None, recorded_by: str | None
) -> dict[str, Any]:
    """Return one event as shown in an episode's timeline; its id is its number in the episode."""
    return {
        "id": row.n,
        "type": row.type,
        "occurred_at": row.occurred_at,
        "day": row.day,
        "recorded_at": row.recorded_at,
        "payload": row.payload,
        "supersedes": row.supersedes_n,
        "superseded_by": superseded_by,
        "override_reason": row.override_reason,
        "violations": row.violations,
        "recorded_by": recorded_by,
    }


def _user_names(user_ids: set[int | None]) -> dict[int, str]:
    """Return the names of users by id: a row id would count every clinic's staff."""
    known = user_ids - {None}
    if not known:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(known))).all())


def read_episode(clinic_id: int, ref: str) -> dict[str, Any]:
    """Return an episode with its admission record, timeline and compliance today."""
    episode = episode_for(clinic_id, ref, "episode.read")
    tz = zone(_clinic(clinic_id).timezone)
    now = today(tz)
    version = db.session.get(ProtocolVersion, episode.protocol_version_id)
    pseudonym = db.session.execute(
        select(Pseudonym.value).where(
            Pseudonym.person_id == episode.person_id, Pseudonym.domain == clinic_domain(clinic_id)
        )
    ).scalar_one_or_none()
    rows = event_rows(episode.id)
    by = {row.supersedes_n: row.n for row in rows if row.supersedes_n is not None}
    names = _user_names({row.recorded_by for row in rows})
    body = summary(episode, pseudonym, version.n, now)
    body["diagnosis_icd11"] = episode.diagnosis_icd11
    body["secondary_diagnoses"] = episode.secondary_diagnoses
    body["admission"] = {name: getattr(episode, name) for name in codes.admission_items()}
    body["age_at_admission"] = episode.age_at_admission
    body["admission_violations"] = episode.admission_violations
    body["admission_override_reason"] = episode.admission_override_reason
    body["timeline"] = [
        timeline_entry(row, by.get(row.n), names.get(row.recorded_by)) for row in rows
    ]
    body["compliance"] = _compliance(episode, version, rows, now)
    record("episode.read", "episode", episode.ref)
    return body


def _compliance(episode, version, rows, on: date) -> dict[str, Any]:
    """Return overdue and upcoming duties, and what events recorded before a backdated one
    break now (`rechecked`); rows carry what each event was found to break when recorded.
    """
    if episode.status != EpisodeStatus.OPEN:
        return {"on": on, "overdue": [], "upcoming": [], "rechecked": []}
    protocol = compiled_version(version)
    state, later = rechecked(protocol, episode, rows, on)
    found = compliance_of(state, on)
    return {
        "on": on,
        "overdue": [_item(i) for i in found.overdue],
        "upcoming": [_item(i) for i in found.upcoming],
        "rechecked": later,
    }


def _item(item) -> dict[str, Any]:
    return {
        "rule_id": item.rule_id,
        "event_type": item.event_type,
        "due": item.due,
        "grace_until": item.grace_until,
        "message": dict(item.message),
    }


def episode_compliance(clinic_id: int, ref: str) -> dict[str, Any]:
    """Return the overdue and upcoming required events of an episode today (clinic time)."""
    episode = episode_for(clinic_id, ref, "episode.compliance")
    tz = zone(_clinic(clinic_id).timezone)
    version = db.session.get(ProtocolVersion, episode.protocol_version_id)
    found = _compliance(episode, version, judged_facts(episode.id), today(tz))
    record("episode.compliance", "episode", episode.ref)
    return {"id": episode.ref, "status": episode.status, **found}
