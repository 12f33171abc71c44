"""The daily compliance job: store overdue and upcoming required events per open episode."""

from datetime import UTC, date, timedelta
from functools import partial

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
    """Bring today's flags of every open episode (clinic calendar) up to date; return a summary.

    Each batch is read without the write lock and written in a transaction of its own, so
    clinics' writes wait for one batch at most, never for the whole run. Only flags that
    changed are written: a rerun of the same day writes nothing new, and a run stopped
    half-way is completed by the next one.
    """
    episodes = flagged = 0
    after = 0
    protocols: dict[int, CompiledProtocol] = {}
    # The first run of a day finds no flags of the day to compare with: it reads none. Reading
    # them per batch would scan a table this run fills, with statistics from before it.
    compare = read_before_writing(_has_recent_flags)
    while True:
        rows, events, stored = read_before_writing(partial(_next_batch, after, compare))
        if not rows:
            break
        after = rows[-1][0].id
        wanted: list[dict] = []
        day_of: dict[int, date] = {}
        for episode, timezone in rows:
            if episode.protocol_version_id not in protocols:
                protocols[episode.protocol_version_id] = protocol_of(episode.protocol_version_id)
            on = day_of[episode.id] = clinic_today(zone(timezone))
            found = _flags(episode, protocols[episode.protocol_version_id], on, events)
            wanted.extend(found)
            flagged += sum(flag["status"] == "overdue" for flag in found)
            episodes += 1
        _write_changes(stored, wanted, day_of)
        db.session.commit()
    return f"{episodes} open episodes, {flagged} overdue flags"


def _since() -> date:
    """Return yesterday in UTC: every clinic's today is on or after it."""
    return clinic_today(UTC) - timedelta(days=1)


def _has_recent_flags() -> bool:
    """Whether any flag was stored since yesterday (UTC): only this job writes flags."""
    found = select(ComplianceFlag.id).where(ComplianceFlag.computed_on >= _since()).limit(1)
    return db.session.execute(found).first() is not None


def _next_batch(after: int, compare: bool = True) -> tuple[list, dict, dict]:
    """Return the next open episodes after id `after` with their clinics' zones, their events,
    and their flags stored since yesterday (UTC) by flag key."""
    rows = db.session.execute(
        select(Episode, Clinic.timezone)
        .join(Clinic, Clinic.id == Episode.clinic_id)
        .where(Episode.status == EpisodeStatus.OPEN, Episode.id > after)
        # Imported episodes are the legacy register's history: no rule checks them.
        .where(Episode.imported.is_(False))
        .order_by(Episode.id)
        .limit(BATCH)
    ).all()
    ids = [episode.id for episode, _ in rows]
    if not compare or not ids:
        return rows, rows_by_episode(ids), {}
    stored = {
        _key(flag._asdict()): flag.id
        for flag in db.session.execute(
            select(ComplianceFlag.id, *(ComplianceFlag.__table__.c[name] for name in _KEY)).where(
                ComplianceFlag.episode_id.in_(ids), ComplianceFlag.computed_on >= _since()
            )
        )
    }
    return rows, rows_by_episode(ids), stored


_ROWS_PER_INSERT = 1000  # 7,000 parameters: far below either engine's limit
_KEY = ("episode_id", "computed_on", "rule_id", "event_type", "status", "due", "grace_until")


def _key(flag: dict) -> tuple:
    return tuple(flag[name] for name in _KEY)


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


def _write_changes(stored: dict[tuple, int], wanted: list[dict], day_of: dict[int, date]) -> None:
    """Make each episode's flags of its day (`day_of`) what was computed; earlier days stay."""
    wanted_keys = {_key(flag) for flag in wanted}
    stale = [
        id_
        for key, id_ in stored.items()
        if key[1] == day_of[key[0]] and key not in wanted_keys  # key[0:2]: episode, day
    ]
    if stale:
        db.session.execute(
            delete(ComplianceFlag)
            .where(ComplianceFlag.id.in_(stale))
            .execution_options(synchronize_session=False)
        )
    new = [flag for flag in wanted if _key(flag) not in stored]
    # One multi-row INSERT per chunk: an executemany is a statement per row on PostgreSQL.
    for start in range(0, len(new), _ROWS_PER_INSERT):
        db.session.execute(insert(ComplianceFlag).values(new[start : start + _ROWS_PER_INSERT]))
