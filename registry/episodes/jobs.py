"""The daily compliance job: store overdue and upcoming required events per open episode."""

from flask import Flask
from sqlalchemy import delete, select

from registry.access.models import Clinic
from registry.episodes.history import (
    active,
    engine_event,
    fold,
    protocol_of,
    refresh,
    rows_by_episode,
    zone,
)
from registry.episodes.history import today as clinic_today
from registry.episodes.models import ComplianceFlag, Episode, EpisodeStatus
from registry.extensions import db
from registry.protocols import CompiledProtocol, compliance_of

BATCH = 500


def compute_compliance_flags(app: Flask | None = None) -> str:
    """Replace today's flags of every open episode (clinic calendar); return a summary."""
    episodes = flagged = 0
    after = 0
    protocols: dict[int, CompiledProtocol] = {}
    while True:
        rows = db.session.execute(
            select(Episode, Clinic.timezone)
            .join(Clinic, Clinic.id == Episode.clinic_id)
            .where(Episode.status == EpisodeStatus.OPEN, Episode.id > after)
            # Imported episodes are the legacy register's history: no rule checks them.
            .where(Episode.imported.is_(False))
            .order_by(Episode.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        after = rows[-1][0].id
        events = rows_by_episode(episode.id for episode, _ in rows)
        for episode, timezone in rows:
            if episode.protocol_version_id not in protocols:
                protocols[episode.protocol_version_id] = protocol_of(episode.protocol_version_id)
            protocol = protocols[episode.protocol_version_id]
            flagged += _flag(episode, protocol, timezone, events.get(episode.id, []))
            episodes += 1
        db.session.flush()
    return f"{episodes} open episodes, {flagged} overdue flags"


def _flag(episode: Episode, protocol: CompiledProtocol, timezone: str | None, rows: list) -> int:
    on = clinic_today(zone(timezone))
    state = fold(protocol, episode, [engine_event(r) for r in active(rows)], until=on)
    refresh(episode, state)
    found = compliance_of(state, on)
    # Idempotent per day: a rerun of the same day replaces that day's flags.
    db.session.execute(
        delete(ComplianceFlag).where(
            ComplianceFlag.episode_id == episode.id, ComplianceFlag.computed_on == on
        )
    )
    for status, items in (("overdue", found.overdue), ("upcoming", found.upcoming)):
        for item in items:
            db.session.add(
                ComplianceFlag(
                    episode_id=episode.id,
                    computed_on=on,
                    rule_id=item.rule_id,
                    event_type=item.event_type,
                    status=status,
                    due=item.due,
                    grace_until=item.grace_until,
                )
            )
    return len(found.overdue)
