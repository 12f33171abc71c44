"""The daily compliance job: store overdue and upcoming required events per open episode."""

from collections import defaultdict
from datetime import date

from flask import Flask
from sqlalchemy import delete, insert, select

from registry.access.models import Clinic
from registry.database import read_before_writing
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

BATCH = 200  # episodes per write transaction: what a clinic write may wait for


def compute_compliance_flags(app: Flask | None = None) -> str:
    """Replace today's flags of every open episode (clinic calendar); return a summary.

    Each batch is read without the write lock and written in a transaction of its own, so
    clinics' writes wait for one batch at most, never for the whole run. Flags are replaced
    per day, so a run stopped half-way is completed by the next one.
    """
    episodes = flagged = 0
    after = 0
    protocols: dict[int, CompiledProtocol] = {}
    while True:
        rows, events = read_before_writing(lambda: _next_batch(after))
        if not rows:
            break
        after = rows[-1][0].id
        flags_by_day: dict[date, list[dict]] = defaultdict(list)
        ids_by_day: dict[date, list[int]] = defaultdict(list)
        for episode, timezone in rows:
            if episode.protocol_version_id not in protocols:
                protocols[episode.protocol_version_id] = protocol_of(episode.protocol_version_id)
            on = clinic_today(zone(timezone))
            found = _flags(episode, protocols[episode.protocol_version_id], on, events)
            ids_by_day[on].append(episode.id)
            flags_by_day[on].extend(found)
            flagged += sum(flag["status"] == "overdue" for flag in found)
            episodes += 1
        _replace_flags(ids_by_day, flags_by_day)
        db.session.commit()
    return f"{episodes} open episodes, {flagged} overdue flags"


def _next_batch(after: int) -> tuple[list, dict]:
    """Return the next open episodes after id `after` with their clinics' zones, and their events."""
    rows = db.session.execute(
        select(Episode, Clinic.timezone)
        .join(Clinic, Clinic.id == Episode.clinic_id)
        .where(Episode.status == EpisodeStatus.OPEN, Episode.id > after)
        .order_by(Episode.id)
        .limit(BATCH)
    ).all()
    return rows, rows_by_episode(episode.id for episode, _ in rows)


def _flags(episode: Episode, protocol: CompiledProtocol, on: date, events: dict) -> list[dict]:
    """Fold an episode up to day `on`, refresh its stage columns and return its flag rows."""
    rows = events.get(episode.id, [])
    state = fold(protocol, episode, [engine_event(r) for r in active(rows)], until=on)
    refresh(episode, state)
    found = compliance_of(state, on, messages=False)
    return [
        {
            "episode_id": episode.id,
            "computed_on": on,
            "rule_id": item.rule_id,
            "event_type": item.event_type,
            "status": status,
            "due": item.due,
            "grace_until": item.grace_until,
        }
        for status, items in (("overdue", found.overdue), ("upcoming", found.upcoming))
        for item in items
    ]


def _replace_flags(ids_by_day: dict[date, list[int]], flags_by_day: dict[date, list[dict]]):
    """Replace the day's flags of the batch's episodes: idempotent when a day is rerun."""
    for on, ids in ids_by_day.items():
        db.session.execute(
            delete(ComplianceFlag)
            .where(ComplianceFlag.episode_id.in_(ids), ComplianceFlag.computed_on == on)
            .execution_options(synchronize_session=False)
        )
        if flags_by_day[on]:
            db.session.execute(insert(ComplianceFlag), flags_by_day[on])
