"""Store a batch of validated legacy rows: persons by registration's linkage, imported episodes.

Persons are found or made as `register_linked` finds or makes them (the same token material,
the same matching rule, escrow when configured); only the lookups are done for the whole
batch at once and the rows go in with bulk inserts (COPY on PostgreSQL), as `registry synth`
writes them. The caller commits a batch with its audit entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import select, update

from registry import clock
from registry.crypto.codes import PSEUDONYM, new_codes
from registry.episodes import codes
from registry.episodes.admission import age_at_admission
from registry.episodes.codes import NOT_KNOWN, NOT_KNOWN_NUMBER
from registry.episodes.history import compiled_version
from registry.episodes.models import Episode, EpisodeStatus
from registry.episodes.services import is_oat
from registry.extensions import db
from registry.imports.legacy import LegacyRow
from registry.patients import keys
from registry.patients.escrow import escrow_public_key, seal_identity
from registry.patients.models import Escrow, LinkageToken, OstEnrolment, Person, Pseudonym
from registry.patients.services import clinic_domain, match_identity, prepared_person
from registry.protocols.models import ProtocolVersion
from registry.synth.bulk import active_versions, insert_ids, insert_rows

# Statement parameters per IN list: under SQLite's and PostgreSQL's limits with room to spare.
CHUNK = 2000
# What the legacy register does not hold is "not known" in the TDI record (codes.yaml).
_UNKNOWN_ITEMS = {
    name: (NOT_KNOWN_NUMBER if name in codes.numeric_items() else NOT_KNOWN)
    for name in codes.admission_items()
    if name not in codes.optional_items()
}


@dataclass
class BatchResult:
    """What a batch made, found and skipped, and the rows it refused (line, rule)."""

    persons_created: int = 0
    persons_found: int = 0
    episodes_created: int = 0
    episodes_skipped: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def prepare_rows(rows: list[LegacyRow]) -> None:
    """Compute each row's keyed tokens and a new person for it, before any database work.

    Needs no database, so it can run beside the writing of the previous batch. Rows of one
    identity (one parsed Identity) share the work: only one of them can make a new person.
    """
    history = keys.key_history("linkage")
    made: dict[int, tuple] = {}
    for row in rows:
        key = id(row.identity)
        if key not in made:
            made[key] = (
                {
                    kind: keys.token_candidates(kind, material, history)
                    for kind, material in row.identity.materials
                },
                prepared_person(row.identity),
            )
        row.candidates, row.fresh = made[key]


def write_batch(rows: list[LegacyRow]) -> BatchResult:
    """Find or create each row's person and store its imported episode; flush, never commit."""
    result = BatchResult()
    centre = _centre_types({row.clinic_id for row in rows})
    kept = []
    for row in rows:
        if row.clinic_id not in centre:
            result.rejected.append((row.line, "clinic: no such clinic"))
        else:
            kept.append(row)
    people = _link(kept, result)
    _store_episodes(kept, people, centre, result)
    return result


# -- persons -------------------------------------------------------------------------------------


@dataclass
class _People:
    """Each kept row's person id, and which of them the batch made."""

    ids: list[int]
    new: set[int]


def _link(rows: list[LegacyRow], result: BatchResult) -> _People:
    """Match every row to a person by registration's rule; create the missing ones in bulk."""
    if any(row.candidates is None for row in rows):
        prepare_rows(rows)
    candidates = [row.candidates for row in rows]
    known = _stored_tokens(candidates)
    patronymic_holders = _holders_of(set(known.values()), "name_patronymic")

    def holder(kind: str, found: list) -> int | None:
        for version, digest in reversed(found):
            person = known.get((kind, version, digest))
            if person is not None:
                return person
        return None

    def has_kind(person: int, kind: str) -> bool:
        return kind == "name_patronymic" and person in patronymic_holders

    # New persons get negative stand-ins until the insert gives them ids.
    fresh: list[tuple] = []
    tokens: list[tuple[int, str, int, bytes]] = []
    assigned: list[int] = []
    used: set[int] = set()
    for row, found in zip(rows, candidates, strict=True):
        person, missing = match_identity(found, holder, has_kind)
        if person is None:
            # A prepared person serves once: never two persons with one person key.
            made = row.fresh if id(row.fresh) not in used else prepared_person(row.identity)
            used.add(id(row.fresh))
            fresh.append(made)
            person = -len(fresh)
        for kind in missing:
            version, digest = found[kind][-1]
            known[(kind, version, digest)] = person
            tokens.append((person, kind, version, digest))
            if kind == "name_patronymic":
                patronymic_holders.add(person)
        assigned.append(person)
    root = _canonical({p for p in assigned if p > 0})
    ids = _insert_persons(fresh, rows, assigned)
    real = [root.get(p, p) if p > 0 else ids[-p - 1] for p in assigned]
    _insert_tokens(tokens, ids)
    _seal_late(rows, assigned)
    new = set(ids)
    result.persons_created += len(ids)
    result.persons_found += len({p for p in real if p not in new})
    return _People(real, new)


def _stored_tokens(candidates: list[dict]) -> dict[tuple[str, int, bytes], int]:
    """Return the stored tokens matching any candidate: (kind, version, digest) -> person."""
    wanted: dict[tuple[str, int], set[bytes]] = {}
    for found in candidates:
        for kind, pairs in found.items():
            for version, digest in pairs:
                wanted.setdefault((kind, version), set()).add(digest)
    known = {}
    # By kind and version first: the unique index on (kind, key_version, digest) answers.
    for (kind, version), digests in sorted(wanted.items()):
        for part in _chunks(sorted(digests)):
            stmt = select(LinkageToken.digest, LinkageToken.person_id).where(
                LinkageToken.kind == kind,
                LinkageToken.key_version == version,
                LinkageToken.digest.in_(part),
            )
            for digest, person in db.session.execute(stmt):
                known[(kind, version, bytes(digest))] = person
    return known


def _holders_of(person_ids: set[int], kind: str) -> set[int]:
    """Return which of these persons hold a token of a kind."""
    found = set()
    for part in _chunks(sorted(person_ids)):
        stmt = select(LinkageToken.person_id).where(
            LinkageToken.kind == kind, LinkageToken.person_id.in_(part)
        )
        found.update(db.session.execute(stmt).scalars())
    return found


def _canonical(person_ids: set[int]) -> dict[int, int]:
    """Return each person's surviving person, following merges as `canonical` does."""
    parent: dict[int, int | None] = {}
    frontier = set(person_ids)
    while frontier:
        for part in _chunks(sorted(frontier)):
            stmt = select(Person.id, Person.merged_into_id).where(Person.id.in_(part))
            parent.update(db.session.execute(stmt).all())
        frontier = {p for p in parent.values() if p is not None and p not in parent}
    out = {}
    for person in person_ids:
        seen, current = set(), person
        while parent.get(current) is not None and current not in seen:
            seen.add(current)
            current = parent[current]
        out[person] = current
    return out


def _insert_persons(fresh: list[tuple], rows: list[LegacyRow], assigned: list[int]) -> list[int]:
    """Insert the new persons (and their escrow blobs); return their ids in stand-in order."""
    treated = {p for p, r in zip(assigned, rows, strict=True) if r.episode is not None}
    values = []
    for n, (person, _blob) in enumerate(fresh, start=1):
        person.treated_before = -n in treated
        values.append(person.row())
    ids = insert_ids(Person, values, "person_key")
    blobs = []
    for person_id, (_person, blob) in zip(ids, fresh, strict=True):
        if blob is not None:
            blobs.append(
                {
                    "person_id": person_id,
                    "custodian_key_id": blob.custodian_key_id,
                    "blob": blob.blob,
                }
            )
    insert_rows(Escrow, blobs)
    return ids


def _insert_tokens(tokens: list[tuple[int, str, int, bytes]], ids: list[int]) -> None:
    rows = [
        {
            "person_id": person if person > 0 else ids[-person - 1],
            "kind": kind,
            "key_version": version,
            "digest": digest,
            "superseded": False,
        }
        for person, kind, version, digest in tokens
    ]
    insert_rows(LinkageToken, rows)


def _seal_late(rows: list[LegacyRow], assigned: list[int]) -> None:
    """Escrow found token holders first seen before escrow was on, as registration does."""
    found = {a: r for r, a in zip(rows, assigned, strict=True) if a > 0}
    if not found:
        return
    if escrow_public_key() is None:
        return
    sealed = set()
    for part in _chunks(sorted(found)):
        sealed.update(
            db.session.execute(select(Escrow.person_id).where(Escrow.person_id.in_(part))).scalars()
        )
    missing = sorted(set(found) - sealed)
    blobs = []
    for part in _chunks(missing):
        for person in db.session.execute(select(Person).where(Person.id.in_(part))).scalars():
            blob = seal_identity(person, found[person.id].identity.escrow_plaintext)
            blobs.append(
                {
                    "person_id": person.id,
                    "custodian_key_id": blob.custodian_key_id,
                    "blob": blob.blob,
                }
            )
    insert_rows(Escrow, blobs)


# -- episodes ------------------------------------------------------------------------------------


def _store_episodes(rows, people: _People, centre: dict[int, str], result: BatchResult) -> None:
    """Give each person a pseudonym at each clinic and store the new imported episodes."""
    _pseudonyms(rows, people)
    versions = active_versions()
    seen, open_now = _existing_episodes(set(people.ids) - people.new)
    episodes, enrolments, treated = [], [], set()
    # One read of the OS generator and one clock reading per batch, not one per episode.
    random = secrets.token_bytes(16 * len(rows)).hex()
    refs = (random[i : i + 32] for i in range(0, len(random), 32))
    now = clock.now()
    for row, person in zip(rows, people.ids, strict=True):
        episode = row.episode
        if episode is None:
            continue
        key = (person, row.clinic_id, episode.admitted_on)
        if key in seen:
            result.episodes_skipped += 1  # already imported, or recorded in the registry
            continue
        version = versions[episode.protocol]
        protocol = compiled_version(version)
        opened = episode.discharged_on is None
        if opened and (person, row.clinic_id, protocol.key) in open_now:
            result.rejected.append(
                (row.line, "discharged_on: another open episode of this treatment")
            )
            continue
        seen.add(key)
        if opened:
            open_now.add((person, row.clinic_id, protocol.key))
        values = _episode_values(row, person, version, centre[row.clinic_id])
        values["ref"], values["created_at"] = next(refs), now
        values["oat"] = is_oat(protocol)
        values["stage"] = protocol.initial_stage
        episodes.append(values)
        treated.add(person)
        if values["oat"]:
            enrolments.append(_enrolment(person, row, values["ref"]))
    insert_rows(Episode, episodes)
    insert_rows(OstEnrolment, enrolments)
    earlier = sorted(treated - people.new)
    for part in _chunks(earlier):
        db.session.execute(update(Person).where(Person.id.in_(part)).values(treated_before=True))
    result.episodes_created += len(episodes)


def _pseudonyms(rows: list[LegacyRow], people: _People) -> None:
    """Give each person a pseudonym at each clinic of its rows, as a registration there would."""
    pairs = {(p, r.clinic_id) for r, p in zip(rows, people.ids, strict=True)}
    held = set()
    earlier = sorted({p for p, _ in pairs if p not in people.new})
    for part in _chunks(earlier):
        stmt = select(Pseudonym.person_id, Pseudonym.domain).where(Pseudonym.person_id.in_(part))
        held.update(db.session.execute(stmt).all())
    missing = [(p, c) for p, c in sorted(pairs) if (p, clinic_domain(c)) not in held]
    now = clock.now()
    values = new_codes(len(missing), PSEUDONYM)
    insert_rows(
        Pseudonym,
        [
            {"domain": clinic_domain(c), "value": v, "person_id": p, "created_at": now}
            for (p, c), v in zip(missing, values, strict=True)
        ],
    )


def _existing_episodes(person_ids: set[int]) -> tuple[set, set]:
    """Return the (person, clinic, admission day) of these persons' episodes, and open ones."""
    seen, open_now = set(), set()
    for part in _chunks(sorted(person_ids)):
        stmt = select(
            Episode.person_id,
            Episode.clinic_id,
            Episode.admitted_on,
            Episode.protocol_key,
            Episode.status,
        ).where(Episode.person_id.in_(part))
        for person, clinic, admitted, key, status in db.session.execute(stmt):
            seen.add((person, clinic, admitted))
            if status == EpisodeStatus.OPEN:
                open_now.add((person, clinic, key))
    return seen, open_now


def _episode_values(row: LegacyRow, person: int, version: ProtocolVersion, centre: str) -> dict:
    """Return an imported episode's row: the file's items, the rest of the TDI record unknown."""
    episode = row.episode
    record = {
        **_UNKNOWN_ITEMS,
        "centre_type": centre,
        "sex": row.sex,
        "birth_year": row.identity.birth_date.year,
        "birth_month": row.identity.birth_date.month,
        "primary_drug": episode.primary_drug,
    }
    closed = episode.discharged_on is not None
    return {
        **record,
        "person_id": person,
        "clinic_id": row.clinic_id,
        "protocol_version_id": version.id,
        "protocol_key": episode.protocol,
        "status": EpisodeStatus.DISCHARGED if closed else EpisodeStatus.OPEN,
        "admitted_on": episode.admitted_on,
        "discharged_on": episode.discharged_on,
        "discharge_reason": episode.reason,
        "diagnosis": episode.diagnosis,
        "secondary_diagnoses": [],
        "overdue_after": None,
        "override_count": 0,
        "admission_violations": [],
        "age_at_admission": age_at_admission(episode.admitted_on, record),
        "imported": True,
    }


def _enrolment(person: int, row: LegacyRow, ref: str) -> dict:
    """Return the OST enrolment of an imported OAT episode: open while the episode is."""
    episode = row.episode
    return {
        "person_id": person,
        "clinic_id": row.clinic_id,
        "ref": ref,
        "opened_at": _noon(episode.admitted_on),
        "closed_at": None if episode.discharged_on is None else _noon(episode.discharged_on),
    }


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def _centre_types(clinic_ids: set[int]) -> dict[int, str]:
    from registry.access.models import Clinic

    found = {}
    for part in _chunks(sorted(clinic_ids)):
        stmt = select(Clinic.id, Clinic.centre_type).where(Clinic.id.in_(part))
        found.update(db.session.execute(stmt).all())
    return found


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
