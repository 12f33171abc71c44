"""Append audit entries to the Merkle log inside the caller's transaction."""

import functools
import json
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import g, has_request_context
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm.util import identity_key

from registry import clock
from registry.audit.merkle import CompactRange, leaf_hash
from registry.audit.models import AuditEntry, AuditHead
from registry.database import lift_read_only, refuse_writes_if_read_only
from registry.driver_sql import driver_execute
from registry.errors import AuditNote
from registry.extensions import db

HEAD_ID = 1


_CANONICAL_FIELDS = (
    "idx", "at", "actor_id", "actor_role", "action", "object_type", "object_id", "outcome",
    "request_id",
)  # fmt: skip


def entry_bytes(entry: AuditEntry) -> bytes:
    """Return the canonical bytes of an entry that its leaf hash covers."""
    return _canonical_bytes({name: getattr(entry, name) for name in _CANONICAL_FIELDS})


def _canonical_bytes(values: dict) -> bytes:
    fields = {name: values[name] for name in _CANONICAL_FIELDS}
    fields["at"] = fields["at"].isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class Appended(NamedTuple):
    """Where an entry landed in the log."""

    idx: int
    leaf_hash: bytes


_HEAD = AuditHead.__table__
_ENTRIES = AuditEntry.__table__
# Built once: every write runs these, and building a statement cost more than running it.
_LOCK_HEAD = select(_HEAD.c.size, _HEAD.c.frontier).where(_HEAD.c.id == HEAD_ID).with_for_update()
_CREATE_HEAD = insert(_HEAD)
_UPDATE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(size=bindparam("new_size"), frontier=bindparam("new_frontier"))
)
_INSERT_ENTRY = insert(_ENTRIES)
# On PostgreSQL the head's update rides in the entry's INSERT as a data-modifying WITH: one
# round trip fewer on every write. SQLite has no such WITH, and no round trips to save.
_UPDATE_HEAD_AND_INSERT_ENTRY = insert(_ENTRIES).add_cte(_UPDATE_HEAD.cte("head_update"))


def _append_under_lock(connection, values: dict) -> Appended:
    """Lock the head, give the entry the next index and store both (on the driver: no ORM)."""
    head = driver_execute(connection, _LOCK_HEAD, {})
    size, hashes = head[0] if head else (0, [])
    values["idx"] = size
    values["leaf_hash"] = leaf_hash(_canonical_bytes(values))
    frontier = CompactRange.from_hashes(size, [bytes.fromhex(h) for h in hashes])
    frontier.append(values["leaf_hash"])
    new_frontier = [h.hex() for h in frontier.to_hashes()]
    new_head = {"new_size": size + 1, "new_frontier": new_frontier}
    if not head:
        driver_execute(
            connection, _CREATE_HEAD, {"id": HEAD_ID, "size": 1, "frontier": new_frontier}
        )
        driver_execute(connection, _INSERT_ENTRY, values)
    elif connection.dialect.name == "postgresql":
        driver_execute(connection, _UPDATE_HEAD_AND_INSERT_ENTRY, {**values, **new_head})
    else:
        driver_execute(connection, _UPDATE_HEAD, new_head)
        driver_execute(connection, _INSERT_ENTRY, values)
    return Appended(size, values["leaf_hash"])


def _forget_loaded_head() -> None:
    """Expire a head row this session loaded earlier, since Core updated it behind the ORM."""
    loaded = db.session.identity_map.get(_head_identity())
    if loaded is not None:
        db.session.expire(loaded)


@functools.cache
def _head_identity() -> tuple:
    # Computed once: building it on every write cost more than the lookup.
    return identity_key(AuditHead, HEAD_ID)


def _actor() -> tuple[int | None, str | None]:
    """Return the acting user id and role of the current request, if any."""
    if not has_request_context():
        return None, "system"
    user = g.get("user")
    return (user.id if user else None), g.get("acting_role")


def record(
    action: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    outcome: str = "ok",
    actor: tuple[int | None, str | None] | None = None,
) -> Appended:
    """Append one entry; it commits or rolls back with the caller's transaction."""
    refuse_writes_if_read_only()
    actor_id, actor_role = actor or _actor()
    values = {
        "at": clock.now(),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "outcome": outcome,
        "request_id": g.get("request_id") if has_request_context() else None,
    }
    # The caller's rows first, then the head lock, held from here until commit.
    db.session.flush()
    appended = _append_under_lock(db.session.connection(), values)
    _forget_loaded_head()
    return appended


def record_refusal(note: AuditNote, status: int) -> None:
    """Record a refused action in its own transaction, after the request's was rolled back."""
    lift_read_only()  # auditing a refusal is a write, even in a view that only reads
    record(note.action, note.object_type, note.object_id, outcome=f"{note.outcome}:{status}")
    db.session.commit()


# How far an entry's stamp may trail its predecessor's: `record` stamps an entry before it waits
# for the head lock, which a long transaction (a job, a batch) can hold; hosts' clocks differ.
STAMP_SLACK = timedelta(days=1)


def first_index_since(moment: datetime) -> int:
    """Return an index before which no entry is stamped `moment` or later (a period's start).

    The log has no index on time, and one would cost every write; its stamps rise with the
    index up to STAMP_SLACK, so a binary search on the primary key finds where a period
    starts, and a check reads the period rather than the whole log.
    """
    target = moment - STAMP_SLACK
    low, high = 0, (db.session.execute(select(func.max(AuditEntry.idx))).scalar() or -1) + 1
    while low < high:
        middle = (low + high) // 2
        stamped = db.session.execute(select(AuditEntry.at).where(AuditEntry.idx == middle))
        if stamped.scalar_one() < target:
            low = middle + 1
        else:
            high = middle
    return low
