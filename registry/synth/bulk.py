"""Write a batch of synthetic persons and episodes with the services' validation, in bulk.

Each person is made as `register_anonymous` makes one (random person key, wrapped data key,
care card hash, a clinic pseudonym per clinic visited); each episode passes the API's admission
schema, the protocol's eligibility check and its discharge check, and is stored as
`open_episode` / `discharge_episode` store it (discharge event, OST enrolment, treated_before).
Rows go in with multi-row inserts; the batch is one transaction with one audit entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import cache
from types import SimpleNamespace

from marshmallow import ValidationError, missing
from sqlalchemy import JSON, insert, select, text

from registry import clock
from registry.audit.log import record
from registry.crypto.codes import CARE_CARD, PSEUDONYM, new_codes
from registry.crypto.linkage import canonical_code_hash
from registry.database import json_text
from registry.episodes import codes
from registry.episodes.admission import age_at_admission, age_problems, contradictions
from registry.episodes.history import blocking, compiled_version, fold, violation_dict
from registry.episodes.models import Episode, EpisodeEvent, EpisodeStatus
from registry.episodes.services import is_oat
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.patients import keys
from registry.patients.models import CareCard, NewPerson, OstEnrolment, Person, Pseudonym
from registry.patients.services import clinic_domain
from registry.protocols import Event, check_eligibility
from registry.protocols.icd10 import normalise
from registry.protocols.models import Protocol, ProtocolVersion, Status

# An exit assessment (TOP items) given with a discharge: protocols ask for one at completion.
EXIT_ASSESSMENT = {"psychological_health": 12, "physical_health": 13, "quality_of_life": 12}


@cache
def admission_schema():
    """Return the API's admission-record schema (imported late: it needs the code lists)."""
    from registry.api.episodes.schemas import AdmissionSchema

    return AdmissionSchema()


@cache
def _field_value(name: str, value):
    """Return one admission item as the schema's own field loads it (memoised per value)."""
    return admission_schema().fields[name].deserialize(value)


def load_admission(record: dict) -> dict:
    """Load an admission record with the API schema's fields and the cross-item rules.

    The same field objects and the same consistency validator as a request; only the
    per-value results are memoised, since a million records repeat the same few codes.
    """
    schema = admission_schema()
    errors: dict[str, list[str]] = {n: ["Unknown field."] for n in set(record) - set(schema.fields)}
    loaded = {}
    for name in schema.fields:
        try:
            loaded[name] = _field_value(name, record.get(name, missing))
        except ValidationError as exc:
            errors[name] = exc.messages
    if not errors:
        errors.update(contradictions(loaded))
    if errors:
        raise ValidationError(errors)
    return loaded


def active_versions() -> dict[str, ProtocolVersion]:
    """Return the active version of every protocol by key."""
    rows = db.session.execute(
        select(Protocol.key, ProtocolVersion)
        .join(ProtocolVersion, ProtocolVersion.protocol_id == Protocol.id)
        .where(ProtocolVersion.status == Status.ACTIVE)
    ).all()
    return {key: version for key, version in rows}


def validated(episode: dict, versions: dict, path: str) -> tuple[dict, list[dict]]:
    """Return the loaded admission record and the eligibility violations, or raise 422."""
    try:
        loaded = load_admission(episode["admission"])
    except ValidationError as exc:
        raise ValidationFailed(
            errors={f"{path}.admission.{k}": v for k, v in exc.messages.items()}
        ) from None
    problems = age_problems(loaded, episode["age"])
    if problems:
        raise ValidationFailed(errors={f"{path}.admission.{k}": v for k, v in problems.items()})
    if not codes.valid_diagnosis(episode["diagnosis"]):
        raise ValidationFailed(errors={f"{path}.diagnosis": ["not an ICD-10 F10-F19 code"]})
    if episode["protocol"] not in versions:
        raise ValidationFailed(errors={f"{path}.protocol": ["no active protocol with this key"]})
    version = versions[episode["protocol"]]
    blocked, found = _eligibility(version, episode["diagnosis"], episode["age"])
    if blocked:
        raise ValidationFailed(errors={f"{path}.protocol": blocked})
    return loaded, found


# The protocol checks depend on a few values each (protocol version, diagnosis and age; or the
# dates and reason of a discharge), which a million episodes repeat: each is worked out and
# its violations rendered once per process. Bounded, as compiled_version's cache is.
_CHECKED: dict[tuple, tuple[list[str], list[dict]]] = {}
_CHECKED_MAX = 100_000  # a few hundred MB at most: entries hold rendered messages


def _memo(key: tuple, check: Callable[[], list]) -> tuple[list[str], list[dict]]:
    """Return (blocking rule ids, violations as stored) of a check, memoised by key."""
    found = _CHECKED.get(key)
    if found is None:
        violations = check()
        found = (
            [v.rule_id for v in violations] if any(blocking(v) for v in violations) else [],
            [violation_dict(v) for v in violations],
        )
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[key] = found
    return found


def _eligibility(version: ProtocolVersion, diagnosis: str, age: int | None):
    """Check eligibility as open_episode does; return (blocking rule ids, violations)."""
    protocol = compiled_version(version)
    key = ("eligibility", version.id, version.document_hash, diagnosis, age)
    return _memo(key, lambda: check_eligibility(protocol, diagnosis, age))


def _discharge_check(episode: dict, version: ProtocolVersion, path: str) -> list[dict]:
    """Check the discharge (with its exit assessment) as discharge_episode does."""
    protocol = compiled_version(version)
    on, reason = episode["discharged_on"], episode["reason"]

    def check() -> list:
        admitted = SimpleNamespace(admitted_on=episode["admitted_on"])
        state = fold(protocol, admitted, [Event("assessment", on, EXIT_ASSESSMENT)])
        return state.check(Event("discharge", on, {"reason": reason}))

    key = ("discharge", version.id, version.document_hash, episode["admitted_on"], on, reason)
    blocked, violations = _memo(key, check)
    if blocked:
        raise ValidationFailed(errors={f"{path}.reason": blocked})
    return violations


def insert_ids(model, rows: list[dict], unique: str) -> list[int]:
    """Insert rows in bulk and return their ids in the rows' order."""
    if not rows:
        return []
    table = model.__table__
    if _postgres():
        ids = list(
            db.session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
                ),
                {"t": table.name, "n": len(rows)},
            ).scalars()
        )
        _copy(table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
        return ids
    # Matching on a unique column is far cheaper than asking for ordered RETURNING.
    stmt = insert(table).returning(table.c.id, table.c[unique])
    found = dict((key, id_) for id_, key in db.session.execute(stmt, rows).all())
    return [found[row[unique]] for row in rows]


def insert_rows(model, rows: list[dict]) -> None:
    """Insert rows in bulk: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if _postgres():
        _copy(model.__table__, rows)
    else:
        db.session.execute(insert(model.__table__), rows)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _copy(table, rows: list[dict]) -> None:
    """COPY rows into a table inside the session's transaction (JSON as the engine writes it)."""
    # COPY skips the Python-side defaults an INSERT would apply: fill them in.
    defaults = {
        c.name: c.default.arg(None) if c.default.is_callable else c.default.arg
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and not c.default.is_sequence
    }
    columns = [*rows[0], *defaults]
    fixed = list(defaults.values())
    # Many rows share one violations list or payload: serialise each shared object once.
    texts: dict[int, tuple[object, str]] = {}

    def as_json(value) -> str:
        found = texts.get(id(value))
        if found is None:
            found = texts[id(value)] = (value, json_text(value))
        return found[1]

    as_text = [isinstance(table.c[c].type, JSON) for c in columns]
    raw = db.session.connection().connection.driver_connection
    names = ", ".join(columns)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            values = [*row.values(), *fixed]
            copy.write_row([as_json(v) if j else v for v, j in zip(values, as_text, strict=True)])


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


ITEMS = [name for name in codes.admission_items() if name != "centre_type"]


def episode_dicts(columns: dict) -> list[dict]:
    """Turn generated episode columns into request-like episodes with admission records."""
    items = [n for n in ITEMS if n in columns]
    out = []
    for i in range(len(columns["person"])):
        discharged = int(columns["discharged_on"][i])
        out.append(
            {
                "person": int(columns["person"][i]),
                "clinic": int(columns["clinic"][i]),
                "protocol": columns["protocol"][i],
                "diagnosis": columns["diagnosis"][i],
                "admitted_on": date.fromordinal(int(columns["admitted_on"][i])),
                "discharged_on": date.fromordinal(discharged) if discharged else None,
                "reason": columns["reason"][i],
                "admission": {n: _plain(columns[n][i]) for n in items},
            }
        )
    return out


def _plain(value):
    """Return a numpy scalar as the JSON-like Python value a request would carry."""
    return value.item() if hasattr(value, "item") else value


def write_batch(
    people: dict, columns: dict, clinic_ids: list[int], audit_id: str, progress: Callable
) -> tuple[int, int]:
    """Validate and store a batch of persons and their episodes; return (persons, episodes)."""
    versions = active_versions()
    episodes = episode_dicts(columns)
    for i, episode in enumerate(episodes):
        episode["age"] = age_at_admission(episode["admitted_on"], episode["admission"])
        episode["loaded"], episode["found"] = validated(episode, versions, f"episodes.{i}")
        if episode["discharged_on"] is not None:
            version = versions[episode["protocol"]]
            episode["discharge_found"] = _discharge_check(episode, version, f"episodes.{i}")
    person_ids = _persons(people, episodes)
    clinic_of = [clinic_ids[e["clinic"]] for e in episodes]
    _pseudonyms(person_ids, episodes, clinic_of)
    episode_ids = _episodes(person_ids, episodes, clinic_of, versions)
    _events_and_enrolments(person_ids, episodes, episode_ids, clinic_of, versions)
    record("synth.batch", "synth_batch", audit_id, actor=(None, "cli"))
    progress(len(person_ids), len(episode_ids))
    return len(person_ids), len(episode_ids)


def _persons(people: dict, episodes: list[dict]) -> list[int]:
    """Insert the persons and their care cards as register_anonymous does; return their ids."""
    treated = {e["person"] for e in episodes}
    now = clock.now()
    new = [
        # Seeded, so that a seed gives the same protected tables (synthetic persons only).
        NewPerson(person_key=keys.new_person_key(), record_key=float(key), created_at=now)
        for key in people["record_key"]
    ]
    keys.wrap_new_person_keys(new)
    rows = [
        {
            "person_key": person.person_key,
            "record_key": person.record_key,
            "treated_before": i in treated,
            "wrapped_key": person.wrapped_key,
            "wrapped_key_version": person.wrapped_key_version,
            "erased": False,
        }
        for i, person in enumerate(new)
    ]
    ids = insert_ids(Person, rows, "person_key")
    # What care_card_candidates(code)[-1] gives, with the key history read once per batch;
    # fresh codes are already canonical, as parse_code would return them.
    history = keys.key_history("care_card")
    version = max(history)
    cards = [
        {
            "person_id": person_id,
            "key_version": version,
            "digest": canonical_code_hash(history, code).digest,
        }
        for person_id, code in zip(ids, new_codes(len(ids), CARE_CARD), strict=True)
    ]
    insert_rows(CareCard, cards)
    return ids


def _pseudonyms(person_ids: list[int], episodes: list[dict], clinic_of: list[int]) -> None:
    pairs = {(person_ids[e["person"]], c) for e, c in zip(episodes, clinic_of, strict=True)}
    rows = [
        {"domain": clinic_domain(c), "value": code, "person_id": p}
        for (p, c), code in zip(sorted(pairs), new_codes(len(pairs), PSEUDONYM), strict=True)
    ]
    insert_rows(Pseudonym, rows)


def _episodes(person_ids, episodes, clinic_of, versions) -> list[int]:
    """Insert the episodes as open_episode and discharge_episode leave them."""
    centre = _centre_types(set(clinic_of))
    rows = []
    for episode, clinic_id in zip(episodes, clinic_of, strict=True):
        version = versions[episode["protocol"]]
        protocol = compiled_version(version)
        closed = episode["discharged_on"] is not None
        admission = episode["loaded"]
        episode["ref"] = secrets.token_hex(16)
        rows.append(
            {
                "ref": episode["ref"],
                "person_id": person_ids[episode["person"]],
                "clinic_id": clinic_id,
                "protocol_version_id": version.id,
                "protocol_key": protocol.key,
                "oat": is_oat(protocol),
                "status": EpisodeStatus.DISCHARGED if closed else EpisodeStatus.OPEN,
                "stage": protocol.initial_stage,
                "admitted_on": episode["admitted_on"],
                "discharged_on": episode["discharged_on"],
                "discharge_reason": episode["reason"],
                "diagnosis": normalise(episode["diagnosis"]),
                "secondary_diagnoses": [],
                "overdue_after": None,
                "override_count": 0,
                "admission_violations": episode["found"],
                "created_at": clock.now(),
                "centre_type": centre[clinic_id],
                "age_at_admission": episode["age"],
                **{n: admission.get(n) for n in codes.admission_items() if n != "centre_type"},
            }
        )
    return insert_ids(Episode, rows, "ref")


def _centre_types(clinic_ids: set[int]) -> dict[int, str]:
    from registry.access.models import Clinic

    rows = db.session.execute(
        select(Clinic.id, Clinic.centre_type).where(Clinic.id.in_(clinic_ids))
    )
    return dict(rows.all())


def _events_and_enrolments(person_ids, episodes, episode_ids, clinic_of, versions) -> None:
    """Store exit assessments and discharge events, and OST enrolments of OAT episodes."""
    events, enrolments = [], []
    now = clock.now()
    for episode, episode_id, clinic_id in zip(episodes, episode_ids, clinic_of, strict=True):
        on = episode["discharged_on"]
        if on is not None:
            base = {"episode_id": episode_id, "occurred_at": _noon(on), "day": on}
            base["recorded_at"] = now
            # A synthetic episode's only events: numbered 1 and 2 within it.
            events.append({**base, "n": 1, "type": "assessment", "payload": EXIT_ASSESSMENT})
            events.append(
                {
                    **base,
                    "n": 2,
                    "type": "discharge",
                    "payload": {"reason": episode["reason"]},
                    "violations": episode["discharge_found"],
                }
            )
        if is_oat(compiled_version(versions[episode["protocol"]])):
            enrolments.append(
                {
                    "person_id": person_ids[episode["person"]],
                    "clinic_id": clinic_id,
                    "ref": episode["ref"],
                    "opened_at": _noon(episode["admitted_on"]),
                    "closed_at": None if on is None else _noon(on),
                }
            )
    for row in events:
        row.setdefault("violations", [])
    insert_rows(EpisodeEvent, events)
    insert_rows(OstEnrolment, enrolments)
