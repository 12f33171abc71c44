"""The raw driver of the ceiling apps: one sqlite3 or psycopg connection per thread, no pool.

Statements are written with %s placeholders; on SQLite they become ?. A write transaction on
SQLite begins IMMEDIATE behind a file lock, as the registry's writer queue does.
bench/stack_booking_app.py switches it to a SQLAlchemy pool instead (use_sqlalchemy).
"""

import contextlib
import fcntl
import os
import secrets
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
from flask import g

from registry.audit.log import entry_bytes
from registry.audit.merkle import CompactRange, leaf_hash

URL = os.environ["RAW_DATABASE_URL"]
POSTGRES = URL.startswith("postgresql")
# The server runs requests on several threads: each keeps its own connection and lock file.
_mine = threading.local()
_engine = None


def use_sqlalchemy(app) -> None:
    """From now on reach the database through a SQLAlchemy pool: one connection per request.

    Statements still go to the driver directly, as registry.driver_sql sends them; a write
    transaction begins and commits through SQLAlchemy, so the registry's engine hooks run (on
    SQLite, BEGIN IMMEDIATE behind the registry's writer queue instead of the file lock).
    """
    global _engine
    from sqlalchemy import create_engine

    import registry.database  # noqa: F401 - its engine hooks, for every engine

    _engine = create_engine(URL)

    @app.teardown_request
    def _release(_exc) -> None:
        pooled = g.pop("raw_pooled", None)
        if pooled is not None:
            pooled.close()


def _pooled():
    """Return the request's pooled SQLAlchemy connection, checked out on first use."""
    if "raw_pooled" not in g:
        g.raw_pooled = _engine.connect()
    return g.raw_pooled


def database():
    """Return this thread's connection (or the request's pooled one), opening it on first use."""
    if _engine is not None:
        return _pooled().connection.driver_connection
    if getattr(_mine, "connection", None) is None:
        _mine.lock = None
        if POSTGRES:
            import psycopg

            _mine.connection = psycopg.connect(URL.replace("+psycopg", ""))
        else:
            import sqlite3

            path = URL.removeprefix("sqlite:///")
            _mine.connection = sqlite3.connect(path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                _mine.connection.execute(f"PRAGMA {pragma}")
            # flock(2) locks belong to an open file: each thread's own open excludes the others.
            _mine.lock = open(path + ".raw-lock", "a")  # noqa: SIM115 - held for the thread
    return _mine.connection


def run(sql: str, values: tuple = ()) -> list:
    """Run one statement and return its rows (none for a statement without a result)."""
    if not POSTGRES:
        sql = sql.replace("%s", "?")
    cursor = database().execute(sql, values)
    return cursor.fetchall() if cursor.description else []


def stored(value):
    """Return a date or time as the registry stores it on SQLite (PostgreSQL takes the object)."""
    if POSTGRES or value is None:
        return value
    if isinstance(value, datetime):  # naive UTC, as SQLAlchemy's SQLite DATETIME writes it
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def for_update(sql: str) -> str:
    """Return a SELECT that locks its rows on PostgreSQL (SQLite's lock is the whole file)."""
    return sql + " FOR UPDATE" if POSTGRES else sql


@contextlib.contextmanager
def write_transaction():
    """Run a block in one write transaction; commit it, or roll it back if the block raises."""
    if _engine is not None:
        with _pooled().begin():
            yield
        return
    connection = database()
    lock = _mine.lock
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        if not POSTGRES:
            connection.execute("BEGIN IMMEDIATE")
        yield
        connection.commit() if POSTGRES else connection.execute("COMMIT")
    finally:
        if POSTGRES:
            connection.rollback()  # no round trip after the commit
        elif connection.in_transaction:
            connection.execute("ROLLBACK")
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)


def audit(action: str, object_type: str, object_id: str, actor: tuple, at) -> None:
    """Append an audit entry to the hash chain with the registry's own hashing."""
    size, frontier = run(for_update("SELECT size, frontier FROM audit_head WHERE id = 1"))[0]
    frontier = frontier if POSTGRES else orjson.loads(frontier)
    values = {
        "idx": size, "at": at, "actor_id": actor[0], "actor_role": actor[1], "action": action,
        "object_type": object_type, "object_id": object_id, "outcome": "ok",
        "request_id": secrets.token_hex(16),
    }  # fmt: skip
    leaf = leaf_hash(entry_bytes(SimpleNamespace(**values)))
    compact = CompactRange.from_hashes(size, [bytes.fromhex(h) for h in frontier])
    compact.append(leaf)
    head = (size + 1, orjson.dumps([h.hex() for h in compact.to_hashes()]).decode())
    entry = (size, stored(at), *actor, action, object_type, object_id, values["request_id"], leaf)
    insert = (
        "INSERT INTO audit_entries (idx, at, actor_id, actor_role, action, object_type,"
        " object_id, outcome, request_id, leaf_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, 'ok',"
        " %s, %s)"
    )
    update = "UPDATE audit_head SET size = %s, frontier = %s WHERE id = 1"
    if POSTGRES:  # as the registry does: the head's update rides in the entry's INSERT
        run(f"WITH head_update AS ({update}) {insert}", head + entry)
    else:
        run(update, head)
        run(insert, entry)
