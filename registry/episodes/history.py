"""Rebuild an episode's engine state from its stored events, and the clinic's calendar."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, select

from registry import clock
from registry.episodes.models import Episode, EpisodeEvent
from registry.extensions import db
from registry.protocols import (
    CompiledProtocol,
    EpisodeState,
    Event,
    Violation,
    compile_protocol,
    first_deadline,
)
from registry.protocols.models import ProtocolVersion

if TYPE_CHECKING:
    from registry.episodes.services import EpisodeToCheck

DEFAULT_ZONE = "Asia/Almaty"


def zone(name: str | None) -> ZoneInfo:
    """Return a clinic's time zone (the default for an unknown name, never an error)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """Return the calendar day of a moment at the clinic."""
    return moment.astimezone(tz).date()


def today(tz: ZoneInfo) -> date:
    """Return today's date at the clinic."""
    return local_day(clock.now(), tz)


def as_aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """Read a datetime without an offset as the clinic's local time."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def noon(day: date, tz: ZoneInfo) -> datetime:
    """Return midday of a clinic day: the moment stored for events given only as a date."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=tz)


def active(rows: Sequence[EpisodeEvent]) -> list[EpisodeEvent]:
    """Drop the events that a correction superseded; rows keep their (day, n) order."""
    replaced = {row.supersedes_n for row in rows if row.supersedes_n is not None}
    return [row for row in rows if row.n not in replaced]


def engine_event(row: EpisodeEvent) -> Event:
    """Return the engine's view of a stored event."""
    return Event(row.type, row.day, row.payload or {})


# Compiled versions by (id, document hash): episodes pin published versions, which never
# change, so each is validated and compiled once per process instead of once per request.
_COMPILED: dict[tuple[int, str], CompiledProtocol] = {}
_COMPILED_MAX = 64


def compiled_version(version: ProtocolVersion) -> CompiledProtocol:
    """Return the engine's form of a loaded version, compiling it once per process."""
    key = (version.id, version.document_hash)
    found = _COMPILED.get(key)
    if found is None:
        found = compile_protocol(version.document)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def protocol_of(version_id: int, digest: str | None = None) -> CompiledProtocol:
    """Return the engine's form of a version by id, loading its document only when needed.

    A caller that read the version's document hash already passes it, saving a round trip.
    """
    if digest is None:
        digest = db.session.execute(
            select(ProtocolVersion.document_hash).where(ProtocolVersion.id == version_id)
        ).scalar_one()
    found = _COMPILED.get((version_id, digest))
    return (
        found
        if found is not None
        else compiled_version(db.session.get(ProtocolVersion, version_id))
    )


_EVENT_FACTS = (
    select(
        EpisodeEvent.n,
        EpisodeEvent.type,
        EpisodeEvent.day,
        EpisodeEvent.payload,
        EpisodeEvent.supersedes_n,
    )
    .where(EpisodeEvent.episode_id == bindparam("episode_id"))
    .order_by(EpisodeEvent.day, EpisodeEvent.n)
)


def event_facts(episode_id: int) -> list:
    """Return what the engine needs of an episode's events, as light rows in (day, n) order."""
    return list(db.session.execute(_EVENT_FACTS, {"episode_id": episode_id}).all())


_JUDGED_FACTS = _EVENT_FACTS.add_columns(EpisodeEvent.violations)


def judged_facts(episode_id: int) -> list:
    """Return event_facts() with what each event was found to break when it was recorded."""
    return list(db.session.execute(_JUDGED_FACTS, {"episode_id": episode_id}).all())


def event_rows(episode_id: int) -> list[EpisodeEvent]:
    """Return every stored event of an episode in the engine's (day, recorded) order."""
    return list(
        db.session.execute(
            select(EpisodeEvent)
            .where(EpisodeEvent.episode_id == episode_id)
            .order_by(EpisodeEvent.day, EpisodeEvent.n)
        ).scalars()
    )


def rows_by_episode(episode_ids: Iterable[int]) -> dict[int, list[EpisodeEvent]]:
    """Return the stored events of many episodes in one query, grouped and ordered."""
    ids = list(episode_ids)
    grouped: dict[int, list[EpisodeEvent]] = defaultdict(list)
    if not ids:
        return grouped
    rows = db.session.execute(
        select(EpisodeEvent)
        .where(EpisodeEvent.episode_id.in_(ids))
        .order_by(EpisodeEvent.episode_id, EpisodeEvent.day, EpisodeEvent.n)
    ).scalars()
    for row in rows:
        grouped[row.episode_id].append(row)
    return grouped


def fold(
    protocol: CompiledProtocol,
    episode: "Episode | EpisodeToCheck",
    events: Iterable[Event],
    until: date | None = None,
) -> EpisodeState:
    """Fold events (in day order) into a fresh state, up to and including day `until`."""
    state = EpisodeState(protocol, episode.admitted_on)
    limit = None if until is None else until.toordinal()
    return state.fold(e for e in events if limit is None or e.day <= limit)


def _recorded_before_an_earlier_day(rows: Sequence) -> list[int]:
    """Return the positions of rows (in day, number order) that a row dated earlier but recorded
    later (a backdated event, or a correction of an earlier day) may judge differently now.
    """
    found, earlier_max, day_max, day = [], 0, 0, None
    for i, row in enumerate(rows):
        if row.day != day:
            earlier_max, day_max, day = max(earlier_max, day_max), 0, row.day
        if row.n < earlier_max:
            found.append(i)
        day_max = max(day_max, row.n)
    return found


def rechecked(
    protocol: CompiledProtocol, episode: "Episode | EpisodeToCheck", rows: Sequence, until: date
) -> tuple[EpisodeState, list[dict]]:
    """Fold an episode's events up to `until`, re-checking those recorded before an earlier-dated
    event; return the state and what each of those now breaks that it did not when recorded.

    A backdated event is recorded when it passes its own check against the events up to its
    day (or is overridden); the events after it are not refused after the fact, but the rules
    they break since are flagged here, so that compliance shows them (issue 21).
    """
    rows = [row for row in active(rows) if row.day <= until]
    positions = _recorded_before_an_earlier_day(rows)
    state = EpisodeState(protocol, episode.admitted_on)
    events = [engine_event(row) for row in rows]
    if not positions:
        return state.fold(events), []
    flags = []
    for i, found in sorted(state.fold_checking(events, set(positions)).items()):
        row = rows[i]
        known = {v["rule_id"] for v in row.violations or ()}
        flags += [
            {
                "event": row.n,
                "event_type": row.type,
                "day": row.day,
                "rule_id": v.rule_id,
                "severity": v.severity,
                "message": dict(v.message),
                "details": dict(v.details),
            }
            for v in found
            if v.rule_id not in known and not v.details.get("overdue")
        ]
    return state, flags


def replay(
    protocol: CompiledProtocol, episode: Episode, events: Iterable[Event]
) -> list[Violation]:
    """Fold events under a protocol, returning the error-level rules the history breaks."""
    state = EpisodeState(protocol, episode.admitted_on)
    found = []
    for event in events:
        found += [v for v in state.apply(event, force=True) if blocking(v)]
    return found


def blocking(violation: Violation) -> bool:
    """Tell whether a violation refuses an event: error-level and not an overdue notice."""
    return violation.severity == "error" and not violation.details.get("overdue")


def stage_columns(state: EpisodeState) -> dict:
    """Return the folded state's stage and first deadline, as the episode row keeps them."""
    return {"stage": state.stage.id, "overdue_after": first_deadline(state)}


def refresh(episode: Episode, state: EpisodeState) -> None:
    """Copy the folded state's stage and first deadline onto the episode row."""
    for name, value in stage_columns(state).items():
        setattr(episode, name, value)


def violation_dict(violation: Violation) -> dict:
    """Return a violation as stored and served."""
    return {
        "rule_id": violation.rule_id,
        "severity": violation.severity,
        "overdue": bool(violation.details.get("overdue")),
        "message": dict(violation.message),
        "details": dict(violation.details),
    }


def after(day: date, days: int = 1) -> date:
    """Return the day `days` after day."""
    return day + timedelta(days=days)
