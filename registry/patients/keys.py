"""Keyed tokens under every stored key version, per-person data keys, and re-keying batches."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable

from sqlalchemy import and_, bindparam, delete, or_, select
from sqlalchemy.exc import IntegrityError

from registry import keyring
from registry.crypto import aead
from registry.crypto.keyring import Keyring
from registry.crypto.linkage import Domain, canonical_code_hash, derive_token, rekey
from registry.database import reading_bind
from registry.driver_sql import driver_query
from registry.extensions import db
from registry.patients.models import CareCard, LinkageToken, NewPerson, Person

# Token kinds as stored; each maps to the crypto domain that separates its inputs.
KIND_DOMAINS = {
    "iin": Domain.IIN,
    "name": Domain.NAME,
    "name_patronymic": Domain.NAME_PATRONYMIC,
}


def current_keyring() -> Keyring:
    """Return the keyring as it is now: reloaded if another process rotated a key since."""
    from registry.patients.rotation import refresh_keyring

    refresh_keyring()
    return keyring()


def key_history(purpose: str) -> dict[int, bytes]:
    """Return {version: material} of every key version of a purpose."""
    return {key.version: key.material for key in current_keyring().history(purpose)}


def _prefixes(history: dict[int, bytes]) -> list[dict[int, bytes]]:
    """Return the key history truncated at each version, oldest first."""
    versions = sorted(history)
    return [{v: history[v] for v in versions[: i + 1]} for i in range(len(versions))]


def token_candidates(
    kind: str, material: bytes, history: dict[int, bytes] | None = None
) -> list[tuple[int, bytes]]:
    """Return (version, digest) of an identifier under every linkage key version.

    During a rotation stored tokens carry old and new versions side by side, so a lookup
    must match either; the newest candidate is the one new rows store. A batch passes the
    linkage key history it read once.
    """
    domain = KIND_DOMAINS[kind]
    history = key_history("linkage") if history is None else history
    digest = None
    out = []
    for version in sorted(history):
        if digest is None:
            digest = derive_token({version: history[version]}, domain, material).digest
        else:
            digest = rekey(digest, history[version])
        out.append((version, digest))
    return out


def care_card_candidates(canonical: str) -> list[tuple[int, bytes]]:
    """Return (version, digest) of a canonical care card code under every care-card key version.

    The callers hold the canonical form already (`parse_care_card` or `new_code`); parsing
    it again cost a fifth of this function.
    """
    return [
        (max(prefix), canonical_code_hash(prefix, canonical).digest)
        for prefix in _prefixes(key_history("care_card"))
    ]


def match_clause(model, candidates: list[tuple[int, bytes]]):
    """Return a WHERE clause matching any (version, digest) candidate."""
    return or_(
        *(
            and_(model.key_version == version, model.digest == digest)
            for version, digest in candidates
        )
    )


# Run as is on the driver for every linked registration; one candidate per key version.
_TOKEN_HOLDER = (
    select(LinkageToken.person_id)
    .where(
        LinkageToken.kind == bindparam("kind"),
        LinkageToken.key_version == bindparam("version"),
        LinkageToken.digest == bindparam("digest"),
    )
    .limit(1)
)


def find_token_holder(kind: str, candidates: list[tuple[int, bytes]]) -> int | None:
    """Return the id of the person holding a stored token of this kind matching a candidate."""
    bind = reading_bind()
    for version, digest in reversed(candidates):  # the newest version holds most tokens
        values = {"kind": kind, "version": version, "digest": digest}
        rows = driver_query(bind, _TOKEN_HOLDER, values)
        if rows:
            return rows[0][0]
    return None


# -- per-person data keys (crypto-shredding) -------------------------------------------------


def _person_aad(person: Person | NewPerson) -> bytes:
    return b"registry/person-key/v1\x00" + person.person_key.encode("ascii")


def wrap_new_person_key(person: NewPerson) -> None:
    """Give a person a fresh data key, wrapped under the primary 'data' key."""
    wrap_new_person_keys([person])


def wrap_new_person_keys(persons: Iterable[NewPerson]) -> None:
    """Give each person a fresh data key, wrapped under the primary 'data' key (read once)."""
    # The primary as of now: after a rotation elsewhere, a key wrapped under the old one would
    # keep that version in use after the re-wrap job had cleared it.
    data_key = current_keyring().primary("data")
    for person in persons:
        person.wrapped_key = aead.encrypt(
            data_key.version, data_key.material, aead.generate_key(), _person_aad(person)
        )
        person.wrapped_key_version = data_key.version


def person_data_key(person: Person) -> bytes:
    """Unwrap a person's data key (for encrypting their clinical free text)."""
    if person.wrapped_key is None:
        raise LookupError("this person's data key has been shredded")
    return aead.decrypt(key_history("data"), person.wrapped_key, _person_aad(person))


def new_person_key() -> str:
    """Return a fresh random person key (128 bits, hex)."""
    return secrets.token_hex(16)


# -- re-keying after a rotation ---------------------------------------------------------------
#
# Re-keying copies each old-version row to the newest version and marks the old row
# superseded; a later prune deletes superseded rows.  Until then lookups match either
# version, so a worker that has not yet seen the new key still finds every person.


# A batch is (rows done, last id seen): callers page on by id so each row is read once.
Batch = tuple[int, int]


def rekey_linkage_batch(limit: int, after_id: int = 0) -> Batch:
    """Copy up to `limit` linkage tokens older than the primary version to it."""
    return _rekey_batch(LinkageToken, key_history("linkage"), limit, after_id)


def rekey_care_card_batch(limit: int, after_id: int = 0) -> Batch:
    """Copy up to `limit` care-card hashes older than the primary version to it."""
    return _rekey_batch(CareCard, key_history("care_card"), limit, after_id)


def _rekey_batch(model, history: dict[int, bytes], limit: int, after_id: int) -> Batch:
    """Add HMAC(new key, old digest) beside each old row and mark the old row superseded."""
    newest = max(history)
    rows = db.session.execute(
        select(model)
        .where(model.id > after_id, model.key_version < newest, model.superseded.is_(False))
        .order_by(model.id)
        .limit(limit)
    ).scalars()
    done, last = 0, after_id
    for row in rows:
        last = row.id
        digest = row.digest
        for step in sorted(v for v in history if v > row.key_version):
            digest = rekey(digest, history[step])
        extra = {"kind": row.kind} if model is LinkageToken else {}
        copy = model(person_id=row.person_id, key_version=newest, digest=digest, **extra)
        try:
            with db.session.begin_nested():
                db.session.add(copy)
        except IntegrityError:
            _adopt_duplicate(model, row, newest, digest)
        row.superseded = True
        done += 1
    db.session.flush()
    return done, last


def _adopt_duplicate(model, row, newest: int, digest: bytes) -> None:
    """The new form exists already: same person (a concurrent re-keyer) or a duplicate.

    A duplicate arises only when a worker still on the old key registered someone known
    under the new key; it is merged into the holder, reversibly, and audited.
    """
    from registry.audit.log import record
    from registry.patients.services import canonical

    clause = [model.key_version == newest, model.digest == digest]
    if model is LinkageToken:
        clause.append(LinkageToken.kind == row.kind)
    holder = db.session.execute(select(model).where(*clause)).scalar_one()
    keep = canonical(db.session.get(Person, holder.person_id))
    gone = canonical(db.session.get(Person, row.person_id))
    if keep.id != gone.id:
        gone.merged_into_id = keep.id
        record("patient.merge_duplicate", "key", f"{model.__tablename__}:v{newest}")


def prune_superseded(purpose: str, limit: int, after_id: int = 0) -> Batch:
    """Delete up to `limit` superseded rows of a purpose."""
    model = {"linkage": LinkageToken, "care_card": CareCard}[purpose]
    ids = list(
        db.session.execute(
            select(model.id)
            .where(model.id > after_id, model.superseded.is_(True))
            .order_by(model.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        db.session.execute(delete(model).where(model.id.in_(ids)))
    return len(ids), (ids[-1] if ids else after_id)


def rewrap_person_keys_batch(limit: int, after_id: int = 0) -> Batch:
    """Re-wrap up to `limit` person data keys under the primary 'data' key version."""
    history = key_history("data")
    newest = max(history)
    persons = db.session.execute(
        select(Person)
        .where(Person.id > after_id, Person.wrapped_key_version < newest)
        .order_by(Person.id)
        .limit(limit)
    ).scalars()
    done, last = 0, after_id
    for person in persons:
        last = person.id
        person.wrapped_key = aead.reencrypt(
            history, newest, person.wrapped_key, _person_aad(person)
        )
        person.wrapped_key_version = newest
        done += 1
    db.session.flush()
    return done, last


REKEYERS: dict[str, Callable[[int, int], Batch]] = {
    "linkage": rekey_linkage_batch,
    "care_card": rekey_care_card_batch,
    "data": rewrap_person_keys_batch,
}
