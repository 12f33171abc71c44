"""Move the open episodes of a protocol to its newer active version: dry run, then apply."""

from typing import Any

from sqlalchemy import func, select

from registry.access.models import Clinic
from registry.audit.log import record
from registry.episodes.history import (
    active,
    compiled_version,
    engine_event,
    fold,
    refresh,
    replay,
    rows_by_episode,
    today,
    zone,
)
from registry.episodes.models import Episode, EpisodeMigration, EpisodeStatus
from registry.errors import AuditNote, Conflict, NotFound, ValidationFailed
from registry.extensions import db
from registry.protocols import compliance_of
from registry.protocols.lifecycle import get_version
from registry.protocols.models import Protocol, Status


def migrate(
    key: str,
    old: int,
    new: int,
    user_id: int,
    *,
    dry_run: bool,
    exclude: frozenset[str] = frozenset(),
    skip_in_violation: bool = False,
) -> dict[str, Any]:
    """Replay each open episode on version `old` under `new`; move them unless dry_run.

    Episodes named in `exclude`, and with `skip_in_violation` those whose history breaks an
    error-level rule of `new`, stay on `old` and are listed in `skipped`; a later migration
    can move them. Overdue duties alone never hold an episode back.
    """
    if new <= old:
        raise ValidationFailed(errors={"to": ["must be a later version than from"]})
    source, target = get_version(key, old), get_version(key, new)
    if target.status != Status.ACTIVE:
        raise Conflict(
            "episodes move only to the active version",
            audit=AuditNote("protocol.migrate", "protocol_version", target.label),
        )
    protocol = compiled_version(target)
    query = (
        select(Episode, Clinic.timezone)
        .join(Clinic, Clinic.id == Episode.clinic_id)
        .where(Episode.protocol_version_id == source.id, Episode.status == EpisodeStatus.OPEN)
        # Imported history was never checked by a protocol: it stays on its version, unreplayed.
        .where(Episode.imported.is_(False))
        .order_by(Episode.id)
    )
    if not dry_run:  # no event may slip in between the replay and the move
        query = query.with_for_update(of=Episode)
    rows = db.session.execute(query).all()
    unknown = exclude - {episode.ref for episode, _ in rows}
    if unknown:
        # Never echoed: a count only, as these are refs someone typed.
        message = f"{len(unknown)} of these are not open episodes on version {old}"
        raise ValidationFailed(errors={"exclude": [message]})
    events = rows_by_episode(episode.id for episode, _ in rows)
    found, skipped, migrated = [], [], 0
    for episode, timezone in rows:
        history = [engine_event(row) for row in active(events.get(episode.id, []))]
        on = today(zone(timezone))
        broken = sorted({v.rule_id for v in replay(protocol, episode, history)})
        state = fold(protocol, episode, history, until=on)
        overdue = sorted({item.rule_id for item in compliance_of(state, on).overdue})
        if broken or overdue:
            found.append(
                {
                    "episode": episode.ref,
                    "violations": broken,
                    "overdue": overdue,
                    "stage": state.stage.id,
                }
            )
        reason = "excluded" if episode.ref in exclude else None
        if reason is None and skip_in_violation and broken:
            reason = "in_violation"
        if reason is not None:
            skipped.append({"episode": episode.ref, "reason": reason})
        elif not dry_run:
            refresh(episode, fold(protocol, episode, history))
            episode.protocol_version_id = target.id
            db.session.add(
                EpisodeMigration(
                    episode_id=episode.id,
                    from_version_id=source.id,
                    to_version_id=target.id,
                    migrated_by=user_id,
                    violations=broken,
                )
            )
            record("episode.migrate", "episode", episode.ref)
            migrated += 1
    db.session.flush()
    action = "protocol.migrate_dry_run" if dry_run else "protocol.migrate"
    record(action, "protocol_version", f"{source.label}->{new}")
    return {
        "protocol": key,
        "from_version": old,
        "to_version": new,
        "dry_run": dry_run,
        "episodes": len(rows),
        "migrated": migrated,
        "in_violation": found,
        "skipped": skipped,
    }


def open_episodes_by_version() -> dict[int, int]:
    """Return how many open episodes are pinned to each protocol version, by version row id."""
    rows = db.session.execute(
        select(Episode.protocol_version_id, func.count())
        .where(Episode.status == EpisodeStatus.OPEN)
        .group_by(Episode.protocol_version_id)
    ).all()
    return dict(rows)


def open_episodes_of(key: str) -> int:
    """Return how many open episodes a protocol has, whatever version they are pinned to."""
    return db.session.execute(
        select(func.count())
        .select_from(Episode)
        .where(Episode.protocol_key == key, Episode.status == EpisodeStatus.OPEN)
    ).scalar_one()


def migrations_of(key: str) -> list[dict[str, Any]]:
    """Return the migration records of a protocol's episodes, newest first."""
    protocol = db.session.execute(select(Protocol).where(Protocol.key == key)).scalar_one_or_none()
    if protocol is None:
        raise NotFound("no such protocol")
    versions = {v.id: v.n for v in protocol.versions}
    rows = db.session.execute(
        select(EpisodeMigration, Episode.ref)
        .join(Episode, Episode.id == EpisodeMigration.episode_id)
        .where(EpisodeMigration.to_version_id.in_(list(versions)))
        .order_by(EpisodeMigration.id.desc())
    ).all()
    record("protocol.migrations_read", "protocol", key)
    return [
        {
            "episode": ref,
            "from_version": versions.get(m.from_version_id),
            "to_version": versions.get(m.to_version_id),
            "migrated_at": m.migrated_at,
            "migrated_by": m.migrated_by,
            "violations": m.violations,
        }
        for m, ref in rows
    ]
