"""The bare Flask app plus the irreducible work of one episode event, on the raw driver.

No authentication, no schemas, no SQLAlchemy and no service layer: the statements that
POST /api/v1/episodes/{ref}/events makes (the check before the write; then, under the lock,
the episode's lock, its newest event, the event's insert, the episode's new state and the
audit append), the registry's protocol engine for the check (the work, not framework) and its
hash chain, on sqlite3 or psycopg directly. bench/ceiling.py adds its cost to the floor's.
"""

import os
from datetime import UTC, datetime

import orjson
from flask import Flask

from bench.raw_driver import POSTGRES, audit, for_update, run, stored, write_transaction
from registry import create_app
from registry.episodes.history import blocking, local_day, protocol_of, stage_columns, zone
from registry.protocols import EpisodeState, Event

app = Flask(__name__)
CLINIC_ID = int(os.environ["RAW_CLINIC_ID"])
_registry = create_app()  # only to compile a protocol version, once; made before serving

_CHECK = """
SELECT e.id, e.status, e.protocol_version_id, e.engine_state, e.override_count, c.timezone,
       v.document_hash, (SELECT max(n) FROM episode_events WHERE episode_id = e.id)
FROM episodes e JOIN clinics c ON c.id = e.clinic_id
JOIN protocol_versions v ON v.id = e.protocol_version_id
WHERE e.ref = %s AND e.clinic_id = %s
"""
_LOCK_EPISODE = for_update("SELECT status, protocol_version_id FROM episodes WHERE id = %s")
_NEWEST = "SELECT max(n) FROM episode_events WHERE episode_id = %s"
_INSERT_EVENT = """
INSERT INTO episode_events (episode_id, n, type, occurred_at, day, recorded_at, payload,
    supersedes_n, override_reason, violations, recorded_by)
VALUES (%s, %s, 'visit', %s, %s, %s, '{}', NULL, NULL, '[]', 1)
"""
_SAVE_STATE = """
UPDATE episodes SET stage = %s, overdue_after = %s, override_count = %s, engine_state = %s,
    engine_state_event_n = %s WHERE id = %s
"""


def _protocol(version_id: int, digest: str):
    with _registry.app_context():
        return protocol_of(version_id, digest)


def _plan(ref: str):
    """Check the event as the registry does, before the write; return what the write needs."""
    episode_id, status, version, state, overrides, tz, digest, _ = run(_CHECK, (ref, CLINIC_ID))[0]
    if status != "open":
        raise RuntimeError("the bench's episodes stay open")
    now = datetime.now(UTC)
    event = Event("visit", local_day(now, zone(tz)), {})
    state = EpisodeState.restore(_protocol(version, digest), _loaded(state)["state"])
    if [v for v in state.check(event) if blocking(v)]:
        raise RuntimeError("the bench's visits never break the protocol")
    state.apply(event, force=True)
    engine = orjson.dumps({"version": version, "last_day": event.day, "state": state.snapshot()})
    return episode_id, now, overrides, engine.decode(), stage_columns(state)


def _loaded(value):
    return value if POSTGRES else orjson.loads(value)


@app.post("/api/v1/episodes/<ref>/events")
def record(ref: str):
    """Record a visit with nothing but the driver, the engine and the hash chain."""
    episode_id, now, overrides, engine, stage = _plan(ref)
    with write_transaction():
        run(_LOCK_EPISODE, (episode_id,))
        number = (run(_NEWEST, (episode_id,))[0][0] or 0) + 1
        recorded = datetime.now(UTC)
        values = (episode_id, number, stored(now), stored(local_day(now, UTC)), stored(recorded))
        run(_INSERT_EVENT, values)
        state = (stage["stage"], stored(stage["overdue_after"]), overrides, engine, number)
        run(_SAVE_STATE, (*state, episode_id))
        audit("episode.event", "episode", ref, (1, "clinician"), recorded)
    return {"id": number, "type": "visit", "occurred_at": now.isoformat()}, 201
