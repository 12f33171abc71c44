"""Prebuilt Core statements for the hottest paths, run through SQLAlchemy's public Core API.

The statements are module-level Core constructs, so SQLAlchemy compiles each once and serves it
from its statement cache afterwards; column defaults, type processing and error translation
(a lost database answers 503 and renews the pool) are SQLAlchemy's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

# An execution option the SQLite begin hook honours (registry.database): a read on a connection
# of its own takes no write lock.
READ = "registry_read"


def driver_query(bind: Engine | Connection, statement, values: dict) -> list[tuple]:
    """Run a prebuilt SELECT and return its rows.

    Given an engine, it reads on a pooled connection of its own (on SQLite without the write
    lock, on PostgreSQL in autocommit: one round trip); given a connection, inside its
    transaction.
    """
    if isinstance(bind, Connection):
        return driver_execute(bind, statement, values)
    # The block's transaction rolls back on an error, so a connection lost meanwhile closes.
    with bind.connect().execution_options(**{READ: True}) as connection, connection.begin():
        return _rows(connection.execute(statement, values))


def driver_execute(connection: Connection, statement, values: dict) -> list[tuple]:
    """Run a prebuilt statement inside the connection's transaction; return RETURNING rows.

    Inside `session.begin_nested()`, ask the session for the connection within the block: the
    session emits the SAVEPOINT only then, and a failed statement must roll back to it.
    """
    return _rows(connection.execute(statement, values))


_SAVEPOINT = text("SAVEPOINT driver_block")
_RELEASE = text("RELEASE SAVEPOINT driver_block")
_ROLL_BACK_TO = text("ROLLBACK TO SAVEPOINT driver_block")


@contextmanager
def driver_savepoint(connection: Connection) -> Iterator[None]:
    """Run a block inside a SAVEPOINT; if it raises, undo its writes and re-raise.

    Only for blocks that write through `driver_execute` alone, with nothing pending in the
    ORM session: the session never learns of this savepoint.
    """
    driver_execute(connection, _SAVEPOINT, {})
    try:
        yield
    except BaseException:
        driver_execute(connection, _ROLL_BACK_TO, {})
        driver_execute(connection, _RELEASE, {})
        raise
    driver_execute(connection, _RELEASE, {})


def _rows(result) -> list[tuple]:
    """Return a result's rows as tuples, or none for a statement that returns no rows."""
    return [tuple(row) for row in result] if result.returns_rows else []
