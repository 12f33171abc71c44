"""Prebuilt Core statements run straight on the driver cursor, for the hottest paths.

Through SQLAlchemy, each statement costs its bookkeeping (cache key, execution context, result
object) several times over what the database spends on a one-row INSERT or a lookup by key.
Here a module-level statement is compiled once per dialect and column set; each run converts
the values with the column types' own processors, fills the columns' Python defaults as Core
would, and hands the SQL to the driver. `before_cursor_execute` listeners still see every
statement. Only plain statements qualify: no expanding IN, no literal-execute parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool
from sqlalchemy.sql.dml import Insert, Update


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect and one set of value names."""

    sql: str
    positions: tuple[str, ...] | None  # parameter order for positional drivers (SQLite)
    binds: dict[str, Callable[[Any], Any]]  # value converters by parameter name
    fixed: dict[str, Any]  # values the statement carries itself, e.g. where(id == 1)
    defaults: tuple[tuple[str, Any], ...]  # Python-side column defaults of left-out columns
    results: tuple[Callable[[Any], Any] | None, ...]  # row value converters by column


# Keyed by (id(statement), dialect, names); the statement is kept so its id stays its own.
_PREPARED: dict[tuple, tuple[Any, _Prepared]] = {}


def driver_query(bind: Engine | Connection, statement, values: dict) -> list[tuple]:
    """Run a prebuilt SELECT and return its rows, converted as SQLAlchemy would.

    Given an engine, it reads on a pooled connection of its own in autocommit (on SQLite no
    write lock, on PostgreSQL one round trip); given a connection, inside its transaction.
    Driver errors come out as SQLAlchemy's (a lost database answers 503 like any other query),
    and a lost connection renews the pool, so the next checkout reconnects.
    """
    if isinstance(bind, Connection):
        return driver_execute(bind, statement, values)
    dialect = bind.dialect
    prepared = _prepare(statement, dialect, values)
    try:
        pooled = bind.raw_connection()
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            None, None, error, dialect.loaded_dbapi.Error, connection_invalidated=True
        ) from None
    # One round trip: a driver transaction here would add a BEGIN and a ROLLBACK to each read.
    driver = pooled.driver_connection
    toggle = dialect.name == "postgresql" and not driver.autocommit
    try:
        if toggle:
            driver.autocommit = True
        return _run(bind.pool, dialect, pooled, prepared, _parameters(prepared, values), None)
    finally:
        if toggle and pooled.is_valid:
            driver.autocommit = False  # the pool's other users expect a transaction
        pooled.close()


def driver_execute(connection: Connection, statement, values: dict) -> list[tuple]:
    """Run a prebuilt statement inside the connection's transaction; return RETURNING rows.

    The connection must be in a transaction (a session's connection always is): the begin
    hooks of `registry.database` (SQLite's write lock) have then run already. Inside
    `session.begin_nested()`, ask the session for the connection within the block: the
    session emits the SAVEPOINT only then, and a failed statement must roll back to it.
    """
    if not connection.in_transaction():
        connection.begin()
    dialect = connection.dialect
    prepared = _prepare(statement, dialect, values)
    if prepared.defaults:
        values = {**values, **_default_values(prepared.defaults)}
    parameters = _parameters(prepared, values)
    return _run(
        connection.engine.pool, dialect, connection.connection, prepared, parameters, connection
    )


_SAVEPOINT = text("SAVEPOINT driver_block")
_RELEASE = text("RELEASE SAVEPOINT driver_block")
_ROLL_BACK_TO = text("ROLLBACK TO SAVEPOINT driver_block")


@contextmanager
def driver_savepoint(connection: Connection) -> Iterator[None]:
    """Run a block inside a SAVEPOINT on the driver; if it raises, undo its writes and re-raise.

    Only for blocks that write through `driver_execute` alone, with nothing pending in the
    ORM session: the session never learns of this savepoint. That is the point: SQLAlchemy's
    own savepoint compiles its SAVEPOINT and RELEASE anew every time.
    """
    driver_execute(connection, _SAVEPOINT, {})
    try:
        yield
    except BaseException:
        driver_execute(connection, _ROLL_BACK_TO, {})
        driver_execute(connection, _RELEASE, {})
        raise
    driver_execute(connection, _RELEASE, {})


def _left_out_defaults(statement, names: list[str]) -> tuple[tuple[str, Any], ...]:
    """Return the Python-side defaults of the columns an INSERT or UPDATE leaves out."""
    if isinstance(statement, Insert):
        kind = "default"
    elif isinstance(statement, Update):
        kind = "onupdate"
    else:
        return ()
    found = []
    for column in statement.table.columns:
        default = getattr(column, kind)
        left_out = default is not None and column.key not in names
        if left_out and (default.is_scalar or default.is_callable):  # not a sequence
            found.append((column.key, default))
    return tuple(found)


def _default_values(defaults: tuple[tuple[str, Any], ...]) -> dict:
    """Compute left-out column defaults, as Core would (callables get no execution context)."""
    return {
        key: default.arg if default.is_scalar else default.arg(None) for key, default in defaults
    }


def _prepare(statement, dialect, values: dict) -> _Prepared:
    key = (id(statement), dialect.name, tuple(values))
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = (statement, _compile(statement, dialect, list(values)))
    return found[1]


def _compile(statement, dialect, names: list[str]) -> _Prepared:
    defaults = _left_out_defaults(statement, names)
    names = [*names, *(key for key, _ in defaults)]
    dml = isinstance(statement, Insert | Update)
    compiled = statement.compile(dialect=dialect, column_keys=names if dml else None)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("driver_sql runs plain statements only (no expanding parameters)")
    if compiled.escaped_bind_names:
        raise ValueError("driver_sql needs bind names the driver can take as they are")
    results = tuple(
        entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
    )
    fixed = {
        name: value
        for name, value in compiled.construct_params(_check=False).items()
        if name not in names
    }
    return _Prepared(
        sql=compiled.string,
        fixed=fixed,
        defaults=defaults,
        positions=tuple(compiled.positiontup) if compiled.positional else None,
        binds=dict(compiled._bind_processors),
        results=results,
    )


def _parameters(prepared: _Prepared, values: dict) -> tuple | dict:
    binds = prepared.binds
    if prepared.fixed:
        values = {**prepared.fixed, **values}
    if prepared.positions is not None:
        return tuple(
            binds[name](values[name]) if name in binds else values[name]
            for name in prepared.positions
        )
    return {name: binds[name](value) if name in binds else value for name, value in values.items()}


def _run(
    pool: Pool, dialect, pooled, prepared: _Prepared, parameters, connection: Connection | None
) -> list[tuple]:
    sql = prepared.sql
    cursor = pooled.cursor()
    try:
        if connection is not None:
            for listener in connection.dispatch.before_cursor_execute:
                sql, parameters = listener(connection, cursor, sql, parameters, None, False)
        cursor.execute(sql, parameters)
        if cursor.description is None:
            return []
        rows = cursor.fetchall()
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if lost:
            # As SQLAlchemy's own statements do: a restarted database left every connection
            # of this generation stale, so all of them are renewed, not just this one.
            pool._invalidate(pooled, error)
        raise DBAPIError.instance(
            sql, parameters, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from None
    finally:
        cursor.close()
    converters = prepared.results
    if not any(converters):
        return rows
    return [tuple(_convert(converters, row)) for row in rows]


def _convert(converters: tuple, row: tuple):
    for convert, value in zip(converters, row, strict=True):
        yield value if convert is None else convert(value)
