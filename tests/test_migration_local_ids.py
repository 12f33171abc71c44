"""Migration 0016 numbers existing events within their episodes and gives merges random ids."""

import re
from datetime import UTC, date, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, MetaData, Table, create_engine, insert, text

from registry.extensions import db
from tests.conftest import _new_database, make_test_app

BEFORE = "0015_protocol_governance"
_DUMMIES = {int: 1, str: "x", float: 0.5, bool: False, bytes: b"x", date: date(2026, 1, 5)}


def _dummy(column: Column):
    """Return a value a NOT NULL column accepts, by its type."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = object
    if kind in (dict, list, object):  # JSON, which SQLite reflects as an untyped column
        return {}
    if kind is datetime:
        return datetime(2026, 1, 5, tzinfo=UTC)
    return _DUMMIES[kind]


def _insert(connection, name: str, **values) -> None:
    """Insert a row, filling the required columns not given with dummies."""
    table = Table(name, MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        values[column.name] = _dummy(column)
    connection.execute(insert(table).values(**values))


def _rows(connection, sql: str) -> list[tuple]:
    return [tuple(row) for row in connection.execute(text(sql)).all()]


def test_existing_events_are_numbered_and_merges_get_random_ids(keyring, tmp_path):
    for url in _new_database(tmp_path):
        app = make_test_app(url, keyring, str(tmp_path / "instance"))
        directory = app.extensions["migrate"].directory
        with app.app_context():
            upgrade(directory=directory, revision=BEFORE)
        engine = create_engine(url)
        with engine.begin() as connection:
            # The parents every row below names (each id 1, each code "x").
            _insert(connection, "regions", code="x")
            _insert(connection, "users", id=1)
            _insert(connection, "clinics", id=1, region_code="x")
            _insert(connection, "persons", id=1)
            _insert(connection, "protocols", id=1)
            _insert(connection, "protocol_versions", id=1, status="active")
            for episode_id, newest in ((1, 4), (2, 5)):
                _insert(
                    connection,
                    "episodes",
                    id=episode_id,
                    ref=f"{episode_id:032x}",
                    protocol_key=f"protocol_{episode_id}",
                    status="open",
                    engine_state_event_id=newest,
                )
            # Two episodes' events interleaved, as clinics record them; event 4 corrects 3.
            for event_id, episode_id in ((1, 1), (2, 2), (3, 1)):
                _insert(connection, "episode_events", id=event_id, episode_id=episode_id)
            _insert(connection, "episode_events", id=4, episode_id=1, supersedes_id=3)
            _insert(connection, "episode_events", id=5, episode_id=2)
            for merge_id in (1, 2):
                _insert(connection, "person_merges", id=merge_id)
        with app.app_context():
            upgrade(directory=directory)
        with engine.connect() as connection:
            events = "SELECT id, n, supersedes_n FROM episode_events ORDER BY id"
            assert _rows(connection, events) == [
                (1, 1, None),
                (2, 1, None),
                (3, 2, None),
                (4, 3, 2),
                (5, 2, None),
            ]
            snapshots = "SELECT id, engine_state_event_n FROM episodes ORDER BY id"
            assert _rows(connection, snapshots) == [(1, 3), (2, 2)]
            refs = [ref for (ref,) in _rows(connection, "SELECT ref FROM person_merges")]
            assert len(set(refs)) == 2 and all(re.fullmatch("[0-9a-f]{32}", r) for r in refs)
        with app.app_context():
            downgrade(directory=directory, revision=BEFORE)
        with engine.connect() as connection:
            events = "SELECT id, supersedes_id FROM episode_events ORDER BY id"
            assert _rows(connection, events) == [(1, None), (2, None), (3, None), (4, 3), (5, None)]
            snapshots = "SELECT id, engine_state_event_id FROM episodes ORDER BY id"
            assert _rows(connection, snapshots) == [(1, 4), (2, 5)]
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
