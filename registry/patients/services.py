"""Register, resolve, read, erase, merge and split persons; OST enrolment facts."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from registry import clock
from registry.access.models import Clinic
from registry.audit.log import record
from registry.crypto.codes import CARE_CARD, PSEUDONYM, new_code, parse_code
from registry.crypto.errors import InvalidCode
from registry.database import read_before_writing
from registry.driver_sql import driver_execute, driver_savepoint
from registry.episodes.history import local_day, zone
from registry.errors import AuditNote, Conflict, NotFound, ValidationFailed
from registry.extensions import db
from registry.patients import keys
from registry.patients.escrow import seal_identity
from registry.patients.identity import Identity, parse_identity
from registry.patients.models import (
    CareCard,
    Escrow,
    LinkageToken,
    NewPerson,
    OstEnrolment,
    Person,
    PersonMerge,
    Pseudonym,
)

# Audit outcomes of a linked registration (registry/oversight counts them): a person new to the
# registry; one known only at other clinics, so the answer told this clinic of them; or one of
# this clinic's own patients found again, which tells it nothing.
NEW, FOUND, EXISTING = "new", "found", "existing"
LINKED_OUTCOMES = (NEW, FOUND, EXISTING)
# Retries after a unique-constraint clash with a concurrent registration of the same person.
_RETRIES = 5


@dataclass
class PatientFacts:
    """What a clinic learns about a person: its own pseudonym and the §2.5 facts."""

    pseudonym: str
    existing: bool
    ost_active_elsewhere: bool
    treated_before: bool
    care_card: str | None = None
    # The clinic's own day: when its pseudonym was made, on its calendar (never the person's
    # creation, which another clinic may have caused and would see alike).
    created_on: date | None = None
    # Whether this request gave the clinic its pseudonym: the person was new to the clinic. Not
    # part of any answer; the audit log keeps it for the oversight check.
    new_here: bool = False


def clinic_domain(clinic_id: int) -> str:
    """Return the pseudonym domain of a clinic."""
    return f"clinic:{int(clinic_id)}"


_RESEARCH_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def research_domain(name: str) -> str:
    """Return the pseudonym domain of a research export, e.g. 'research:tdi-2026'."""
    if not _RESEARCH_NAME.match(name):
        raise ValidationFailed(errors={"research": ["lowercase letters, digits, - and _ only"]})
    return f"research:{name}"


def research_pseudonym(person_id: int, name: str) -> str:
    """Return the person's stable pseudonym in a research export's own domain."""
    domain = research_domain(name)
    root = canonical(db.session.get(Person, person_id))
    return pseudonym_for(root, domain)


def parse_pseudonym(text: str, field: str = "pseudonym") -> str:
    """Return the canonical pseudonym, or raise 422 naming the field and the rule."""
    try:
        return parse_code(text, PSEUDONYM)
    except InvalidCode as exc:
        raise ValidationFailed(errors={field: [exc.rule]}) from None


def parse_care_card(text: str, field: str = "care_card") -> str:
    """Return the canonical care card code, or raise 422 before any lookup."""
    try:
        return parse_code(text, CARE_CARD)
    except InvalidCode as exc:
        raise ValidationFailed(errors={field: [exc.rule]}) from None


# -- persons and merge groups ------------------------------------------------------------------


def _unsaved_person() -> NewPerson:
    """Return a new person's row: a random key, record key and wrapped data key."""
    person = NewPerson(
        person_key=keys.new_person_key(),
        # 53 random bits: a uniform float in [0, 1) from the OS generator.
        record_key=secrets.randbits(53) / (1 << 53),
        created_at=clock.now(),
    )
    keys.wrap_new_person_key(person)
    return person


# New rows of a registration go in as prebuilt statements on the driver: the ORM's unit of
# work, and even Core's per-statement bookkeeping, cost several times the inserts themselves.
_INSERT_PERSON = insert(Person.__table__).returning(Person.__table__.c.id)
_INSERTS = {model: insert(model.__table__) for model in (CareCard, Escrow, LinkageToken, Pseudonym)}


def _insert_person(person: NewPerson) -> None:
    """Store a new person and give it its id."""
    person.id = driver_execute(db.session.connection(), _INSERT_PERSON, person.row())[0][0]


def _insert(model, rows: dict | list[dict]) -> None:
    """Insert rows of a model, each in one statement."""
    connection = db.session.connection()
    for row in [rows] if isinstance(rows, dict) else rows:
        driver_execute(connection, _INSERTS[model], row)


def canonical(person: Person) -> Person:
    """Follow merges to the surviving person."""
    seen = set()
    while person.merged_into_id is not None and person.id not in seen:
        seen.add(person.id)
        person = db.session.get(Person, person.merged_into_id)
    return person


def group_ids(root: Person) -> list[int]:
    """Return the ids of a surviving person and of everyone merged into it."""
    ids, frontier = [root.id], [root.id]
    while frontier:
        frontier = list(
            db.session.execute(
                select(Person.id).where(Person.merged_into_id.in_(frontier))
            ).scalars()
        )
        ids.extend(frontier)
    return ids


def person_for_pseudonym(domain: str, value: str) -> Person | None:
    """Return the person a pseudonym of a domain names, or None (one query either way)."""
    return db.session.execute(
        select(Person)
        .join(Pseudonym, Pseudonym.person_id == Person.id)
        .where(Pseudonym.domain == domain, Pseudonym.value == value)
    ).scalar_one_or_none()


def pseudonym_for(root: Person, domain: str) -> str:
    """Return the person's pseudonym in a domain, creating a random one the first time."""
    return _pseudonym_in(root, domain)[0]


def _pseudonym_in(root: Person, domain: str) -> tuple[str, bool]:
    """Return the person's pseudonym in a domain and whether the domain had it already."""
    ids = group_ids(root)
    for _ in range(_RETRIES):
        found = db.session.execute(
            select(Pseudonym.person_id, Pseudonym.value).where(
                Pseudonym.domain == domain, Pseudonym.person_id.in_(ids)
            )
        ).all()
        if found:
            # Prefer the survivor's own; else one the domain already holds for a merged person.
            return min(found, key=lambda row: row.person_id != root.id).value, True
        value = new_code(PSEUDONYM)
        try:
            with db.session.begin_nested():
                db.session.add(Pseudonym(domain=domain, value=value, person_id=root.id))
            return value, False
        except IntegrityError:
            continue  # a concurrent request created it (or, never in practice, a value clash)
    raise Conflict("the pseudonym could not be assigned; try again")


def facts_for(root: Person, clinic_id: int) -> PatientFacts:
    """Return this clinic's pseudonym and the cross-clinic facts it may learn.

    `existing` says whether this clinic knew the person: whether anyone else did is no care
    fact (DESIGN.md §2.5), and would tell it of another clinic's registration.
    """
    ids = group_ids(root)
    pseudonym, known_here = _pseudonym_in(root, clinic_domain(clinic_id))
    return PatientFacts(
        pseudonym=pseudonym,
        existing=known_here,
        ost_active_elsewhere=_ost_active_elsewhere(ids, clinic_id),
        treated_before=_treated_before(ids),
        new_here=not known_here,
    )


def facts_for_new(person: NewPerson, clinic_id: int, value: str) -> PatientFacts:
    """Store a new person's pseudonym (a fresh `new_code(PSEUDONYM)`) and return its facts.

    A new person has no merges, pseudonyms, enrolments or past treatment yet; skipping those
    lookups halves the cost of a registration. The 80 random bits of the value make a clash
    unheard of; one would fail the unique index, loudly.
    """
    _insert(Pseudonym, {"domain": clinic_domain(clinic_id), "value": value, "person_id": person.id})
    return PatientFacts(
        pseudonym=value,
        existing=False,
        ost_active_elsewhere=False,
        treated_before=False,
        new_here=True,
    )


def _treated_before(ids: list[int]) -> bool:
    return bool(
        db.session.execute(
            select(exists().where(Person.id.in_(ids), Person.treated_before.is_(True)))
        ).scalar()
    )


def mark_treated(person_id: int) -> None:
    """Record that a person has been in treatment (TDI 'ever treated')."""
    db.session.execute(update(Person).where(Person.id == person_id).values(treated_before=True))


# -- registration ------------------------------------------------------------------------------


def register_anonymous(clinic_id: int) -> PatientFacts:
    """Create a person with a care card and return this clinic's pseudonym."""
    # The costly parts (keys, hashes) come before the first statement, which takes the write lock.
    code = new_code(CARE_CARD)
    version, digest = keys.care_card_candidates(code)[-1]
    pseudonym = new_code(PSEUDONYM)
    person = _unsaved_person()
    _insert_person(person)
    _insert(CareCard, {"person_id": person.id, "key_version": version, "digest": digest})
    facts = facts_for_new(person, clinic_id, pseudonym)
    facts.care_card = code
    record("patient.register", "pseudonym", facts.pseudonym)
    return facts


def register_linked(clinic_id: int, identity_fields: dict) -> PatientFacts:
    """Find or create the person behind an identity; return this clinic's pseudonym."""
    identity = parse_identity(identity_fields)
    candidates = {
        kind: keys.token_candidates(kind, material) for kind, material in identity.materials
    }
    # A new person's keys and escrow blob are made, and the identity looked up, before the
    # write lock is taken: most registrations are of new persons, and others wait for none of it.
    fresh, pseudonym = prepared_person(identity), new_code(PSEUDONYM)
    found = read_before_writing(lambda: _find_by_identity(candidates))
    for _ in range(_RETRIES):
        person, missing = found
        if person is not None:
            _add_tokens(person, candidates, missing)
            if _escrow_missing(person):
                _seal_late(person, identity)
            facts = facts_for(canonical(person), clinic_id)
            outcome = FOUND if facts.new_here else EXISTING
            record("patient.register", "pseudonym", facts.pseudonym, outcome=outcome)
            return facts
        person, blob = fresh or prepared_person(identity)
        db.session.flush()  # a batch caller's pending changes stay out of the savepoint
        try:
            with driver_savepoint(db.session.connection()):
                _insert_person(person)
                if blob is not None:
                    blob.person_id = person.id
                    _insert(Escrow, _escrow_values(blob))
                _store_tokens(person, candidates, missing)
        except IntegrityError:
            fresh = None  # the savepoint took this one's rows with it
            # The same identity was registered concurrently: look it up again, under the lock.
            found = _find_by_identity(candidates)
            continue
        facts = facts_for_new(person, clinic_id, pseudonym)
        record("patient.register", "pseudonym", facts.pseudonym, outcome=NEW)
        return facts
    raise Conflict("the registration clashed with concurrent ones; try again")


def prepared_person(identity: Identity) -> tuple[NewPerson, Escrow | None]:
    """Return a new person's row and its escrow blob (None when escrow is off)."""
    person = _unsaved_person()
    # The blob is bound to the person key, not the id, so it can be sealed before the insert.
    return person, seal_identity(person, identity.escrow_plaintext)


def _find_by_identity(candidates: dict) -> tuple[Person | None, list[str]]:
    """Return the matching person and the token kinds to add; or None and kinds to store."""
    person_id, missing = match_identity(candidates)
    return (None if person_id is None else _person(person_id)), missing


def match_identity(
    candidates: dict,
    holder: Callable[[str, list], int | None] | None = None,
    has_kind: Callable[[int, str], bool] | None = None,
) -> tuple[int | None, list[str]]:
    """Return the id of the matching person and the token kinds to add; or None and kinds to store.

    A patronymic token wins; a bare name token matches only a person without a different
    patronymic on record, since two people may share name, birth date and sex. `holder` and
    `has_kind` look tokens up: in the database by default, in a batch's own map for an import.
    """
    holder, has_kind = holder or keys.find_token_holder, has_kind or _has_kind
    if "iin" in candidates:
        found = holder("iin", candidates["iin"])
        return (found, []) if found is not None else (None, ["iin"])
    if "name_patronymic" in candidates:
        found = holder("name_patronymic", candidates["name_patronymic"])
        if found is not None:
            return found, []
        found = holder("name", candidates["name"])
        if found is None:
            return None, ["name_patronymic", "name"]
        if has_kind(found, "name_patronymic"):
            return None, ["name_patronymic"]
        return found, ["name_patronymic"]
    found = holder("name", candidates["name"])
    return (found, []) if found is not None else (None, ["name"])


def _person(person_id: int) -> Person:
    return db.session.get(Person, person_id)


def _has_kind(person_id: int, kind: str) -> bool:
    return bool(
        db.session.execute(
            select(exists().where(LinkageToken.person_id == person_id, LinkageToken.kind == kind))
        ).scalar()
    )


def _store_tokens(person: Person | NewPerson, candidates: dict, kinds: list[str]) -> None:
    """Store the newest-version token of each kind for a person."""
    rows = []
    for kind in kinds:
        version, digest = candidates[kind][-1]
        rows.append(
            {"person_id": person.id, "kind": kind, "key_version": version, "digest": digest}
        )
    _insert(LinkageToken, rows)


def _escrow_values(blob: Escrow) -> dict:
    return {
        "person_id": blob.person_id,
        "custodian_key_id": blob.custodian_key_id,
        "blob": blob.blob,
    }


def _add_tokens(person: Person, candidates: dict, kinds: list[str]) -> None:
    """Add a token learnt later (a patronymic); a clash means a concurrent request added it."""
    if not kinds:
        return
    try:
        with db.session.begin_nested():
            _store_tokens(person, candidates, kinds)
    except IntegrityError:
        pass


def _seal_late(person: Person, identity: Identity) -> None:
    """Escrow a person first seen before escrow was switched on; a concurrent one may win."""
    try:
        with db.session.begin_nested():
            _seal(person, identity)
    except IntegrityError:
        pass


def _escrow_missing(person: Person) -> bool:
    return not db.session.execute(select(exists().where(Escrow.person_id == person.id))).scalar()


def _seal(person: Person, identity: Identity) -> None:
    blob = seal_identity(person, identity.escrow_plaintext)
    if blob is not None:
        db.session.add(blob)
        db.session.flush()


def resolve_care_card(clinic_id: int, code: str) -> PatientFacts:
    """Return this clinic's pseudonym for the holder of a care card (404 when unknown)."""
    canonical_code = parse_care_card(code)
    candidates = keys.care_card_candidates(canonical_code)
    card = db.session.execute(
        select(CareCard).where(keys.match_clause(CareCard, candidates)).limit(1)
    ).scalar_one_or_none()
    if card is None:
        raise NotFound("no such patient", audit=AuditNote("patient.resolve", "care_card"))
    facts = facts_for(canonical(db.session.get(Person, card.person_id)), clinic_id)
    record("patient.resolve", "pseudonym", facts.pseudonym)
    return facts


def person_for_clinic_pseudonym(clinic_id: int, pseudonym: str, action: str) -> Person:
    """Return the surviving person behind one of a clinic's pseudonyms, or an audited 404.

    Another clinic's pseudonym and a non-existent one take the same query and the same answer.
    """
    value = parse_pseudonym(pseudonym)
    person = person_for_pseudonym(clinic_domain(clinic_id), value)
    if person is None:
        raise NotFound("no such patient", audit=AuditNote(action, "pseudonym"))
    return canonical(person)


def patient_view(clinic_id: int, pseudonym: str) -> tuple[PatientFacts, Person]:
    """Return this clinic's view of one of its patients, and the person; others are not found."""
    value = parse_pseudonym(pseudonym)
    found = db.session.execute(
        select(Person, Pseudonym.created_at, Clinic.timezone)
        .join(Pseudonym, Pseudonym.person_id == Person.id)
        .join(Clinic, Clinic.id == clinic_id)
        .where(Pseudonym.domain == clinic_domain(clinic_id), Pseudonym.value == value)
    ).one_or_none()
    if found is None:
        raise NotFound("no such patient", audit=AuditNote("patient.read", "pseudonym"))
    person, made, timezone = found
    root = canonical(person)
    ids = group_ids(root)
    record("patient.read", "pseudonym", value)
    facts = PatientFacts(
        pseudonym=value,
        existing=True,
        ost_active_elsewhere=_ost_active_elsewhere(ids, clinic_id),
        treated_before=_treated_before(ids),
        created_on=local_day(made, zone(timezone)),
    )
    return facts, root


# -- erasure -----------------------------------------------------------------------------------


def erase_person(clinic_id: int, pseudonym: str) -> None:
    """Remove every link to a person: tokens, escrow, care cards, pseudonyms, data key.

    Refused (409) while the person, or anyone merged with them, is in opioid agonist treatment
    anywhere: the open enrolment is what stops a second clinic dosing them, and ending it is a
    clinical decision (a discharge), not an operator's (README.md beside this file).
    """
    value = parse_pseudonym(pseudonym)
    person = person_for_pseudonym(clinic_domain(clinic_id), value)
    if person is None:
        raise NotFound("no such patient", audit=AuditNote("patient.erase", "pseudonym"))
    ids = group_ids(canonical(person))
    # Locked as opening an episode locks the person: an OAT episode opened meanwhile is either
    # seen here or finds the person erased once it has the lock.
    db.session.execute(
        select(Person.id).where(Person.id.in_(ids)).order_by(Person.id).with_for_update()
    )
    if _ost_active(ids):
        raise Conflict(
            "the person is in opioid agonist treatment: a clinician must discharge the open OAT "
            "episode first, then the person can be erased",
            audit=AuditNote("patient.erase", "pseudonym", value),
        )
    for model in (LinkageToken, Escrow, CareCard, Pseudonym):
        db.session.execute(delete(model).where(model.person_id.in_(ids)))
    db.session.execute(
        update(Person)
        .where(Person.id.in_(ids))
        .values(wrapped_key=None, wrapped_key_version=None, erased=True, erased_at=clock.now())
    )
    db.session.expire_all()
    record("patient.erase", "pseudonym", value)


# -- merge and split ---------------------------------------------------------------------------


def merge_persons(clinic_id: int, user_id: int, survivor: str, merged: str) -> PersonMerge:
    """Merge the person behind one of this clinic's pseudonyms into another's."""
    domain = clinic_domain(clinic_id)
    survivor_value = parse_pseudonym(survivor, "survivor")
    merged_value = parse_pseudonym(merged, "merged")
    keep = person_for_pseudonym(domain, survivor_value)
    gone = person_for_pseudonym(domain, merged_value)
    if keep is None or gone is None:
        raise NotFound("no such patient", audit=AuditNote("patient.merge", "pseudonym"))
    keep, gone = canonical(keep), canonical(gone)
    if keep.id == gone.id:
        raise Conflict(
            "these pseudonyms already name the same person",
            audit=AuditNote("patient.merge", "pseudonym", merged_value),
        )
    gone.merged_into_id = keep.id
    merge = PersonMerge(
        ref=secrets.token_hex(16),
        survivor_id=keep.id,
        merged_id=gone.id,
        clinic_id=clinic_id,
        requested_by=user_id,
    )
    db.session.add(merge)
    db.session.flush()
    record("patient.merge", "merge", merge.ref)
    return merge


def split_merge(clinic_id: int, user_id: int, ref: str) -> PersonMerge:
    """Undo a merge made at this clinic; another clinic's merge is not found."""
    merge = db.session.execute(
        select(PersonMerge).where(PersonMerge.ref == ref[:32], PersonMerge.clinic_id == clinic_id)
    ).scalar_one_or_none()
    if merge is None:
        raise NotFound("no such merge", audit=AuditNote("patient.split", "merge"))
    gone = db.session.get(Person, merge.merged_id)
    if merge.split_at is not None or gone.merged_into_id != merge.survivor_id or gone.erased:
        raise Conflict(
            "this merge cannot be split any more",
            audit=AuditNote("patient.split", "merge", merge.ref),
        )
    gone.merged_into_id = None
    merge.split_at = clock.now()
    merge.split_by = user_id
    db.session.flush()
    record("patient.split", "merge", merge.ref)
    return merge


# -- opioid agonist treatment enrolments (set by the episodes domain) -------------------------


def open_ost_enrolment(person_id: int, clinic_id: int, ref: str) -> OstEnrolment:
    """Record that a person started opioid agonist treatment at a clinic."""
    enrolment = OstEnrolment(person_id=person_id, clinic_id=clinic_id, ref=str(ref))
    db.session.add(enrolment)
    db.session.flush()
    record("ost.open", "ost_enrolment", enrolment.id)
    return enrolment


def close_ost_enrolment(person_id: int, clinic_id: int, ref: str) -> int:
    """Close the open enrolments a clinic opened under a reference; return how many."""
    rows = db.session.execute(
        select(OstEnrolment).where(
            OstEnrolment.person_id == person_id,
            OstEnrolment.clinic_id == clinic_id,
            OstEnrolment.ref == str(ref),
            OstEnrolment.closed_at.is_(None),
        )
    ).scalars()
    closed = 0
    for enrolment in rows:
        enrolment.closed_at = clock.now()
        record("ost.close", "ost_enrolment", enrolment.id)
        closed += 1
    db.session.flush()
    return closed


def ost_active_elsewhere(person_id: int, clinic_id: int) -> bool:
    """Return True while the person (or anyone merged with them) is in OST at another clinic."""
    person = db.session.get(Person, person_id)
    if person is None:
        return False
    return _ost_active_elsewhere(group_ids(canonical(person)), clinic_id)


def _ost_active_elsewhere(ids: list[int], clinic_id: int) -> bool:
    return _ost_active(ids, OstEnrolment.clinic_id != clinic_id)


def _ost_active(ids: list[int], *where) -> bool:
    """Tell whether any of these persons has an open OST enrolment (where also holds)."""
    open_enrolment = exists().where(
        OstEnrolment.person_id.in_(ids), OstEnrolment.closed_at.is_(None), *where
    )
    return bool(db.session.execute(select(open_enrolment)).scalar())
