"""Append audit entries to the Merkle log inside the caller's transaction."""

import json

from flask import g, has_request_context
from sqlalchemy import select

from registry import clock
from registry.audit.merkle import CompactRange, leaf_hash
from registry.audit.models import AuditEntry, AuditHead
from registry.errors import AuditNote
from registry.extensions import db

HEAD_ID = 1


def entry_bytes(entry: AuditEntry) -> bytes:
    """Return the canonical bytes of an entry that its leaf hash covers."""
    return json.dumps(
        {
            "idx": entry.idx,
            "at": entry.at.isoformat(timespec="microseconds"),
            "actor_id": entry.actor_id,
            "actor_role": entry.actor_role,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "outcome": entry.outcome,
            "request_id": entry.request_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def _locked_head() -> AuditHead:
    """Return the head row, locked until commit so that appends get consecutive indices."""
    head = db.session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, size=0, frontier=[])
        db.session.add(head)
    return head


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
) -> AuditEntry:
    """Append one entry; it commits or rolls back with the caller's transaction."""
    head = _locked_head()
    actor_id, actor_role = actor or _actor()
    entry = AuditEntry(
        idx=head.size,
        at=clock.now(),
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        outcome=outcome,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    entry.leaf_hash = leaf_hash(entry_bytes(entry))
    frontier = CompactRange.from_hashes(head.size, [bytes.fromhex(h) for h in head.frontier])
    frontier.append(entry.leaf_hash)
    head.frontier = [h.hex() for h in frontier.to_hashes()]
    head.size += 1
    db.session.add(entry)
    db.session.flush()
    return entry


def record_refusal(note: AuditNote, status: int) -> None:
    """Record a refused action in its own transaction, after the request's was rolled back."""
    record(note.action, note.object_type, note.object_id, outcome=f"{note.outcome}:{status}")
    db.session.commit()
