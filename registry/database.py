"""SQLAlchemy base, naming conventions and engine settings for SQLite and PostgreSQL."""

import contextlib
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from flask import g, has_app_context
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session

from registry.sqlite_writers import writer_queue

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# JSON columns (engine state, event payloads, the audit frontier) go through orjson: several
# times faster than the json module, with its answers. Keys that are not strings become
# strings, as json makes them; dates and dataclasses are refused, as json refuses them.
_JSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_text(value) -> str:
    """Return a value as JSON columns store it."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


def engine_options(uri: str) -> dict:
    """Return engine options suited to the database behind the URI."""
    shared = {"json_serializer": json_text, "json_deserializer": orjson.loads}
    if uri.startswith("sqlite"):
        return {
            **shared,
            "connect_args": {"timeout": 30, "check_same_thread": False},
            # The pool's reset (a driver rollback on every return) is done by the checkin hook
            # below, and only when a transaction is really open: most returns have none.
            "pool_reset_on_return": None,
        }
    return {
        **shared,
        # No ping per checkout (a round trip on every request): a connection lost in a database
        # restart fails its request with 503 once, and SQLAlchemy then renews the whole pool.
        "pool_pre_ping": False,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": 5,
        "connect_args": {"connect_timeout": 3},
    }


def protect_sqlite_files(uri: str) -> None:
    """Create a SQLite database file 0600 and tighten existing ones, with their -wal and -shm.

    SQLite gives the -wal and -shm files the database file's mode, so a file created 0600
    before SQLite opens it keeps the whole database unreadable to other local users.
    """
    url = make_url(uri)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or "mode=" in uri:
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, 0o600)


def _configure_sqlite(dbapi_connection, _record) -> None:
    """Turn on WAL and foreign keys, and let us issue BEGIN ourselves."""
    # Autocommit at the driver level so that the "begin" hook below decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def read_only(view):
    """Mark a view that never writes, so that SQLite need not take its write lock."""
    view.read_only = True
    return view


def only_reads_from_here() -> None:
    """Mark the rest of a request (after its commit) as reading only.

    Dumping the answer reloads objects that the commit expired; on SQLite that would take the
    write lock again and hold it until the request ends.
    """
    g.read_only = True


def commit_for_answer() -> None:
    """Commit without expiring what the request loaded, then only read.

    The answer is built from what this transaction wrote; expiring every object at the commit
    would cost one SELECT per object only to read it back.
    """
    _commit_keeping_loaded()
    only_reads_from_here()


def _session() -> Session:
    from registry.extensions import db  # the extension module imports this one

    return db.session()


def _commit_keeping_loaded() -> None:
    """Commit the request's session without expiring the objects it loaded."""
    session = _session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def read_before_writing(read):
    """Run `read` in a short read-only transaction of its own and return what it returned.

    For a write that first looks something up: on SQLite the lookup then runs before the
    write lock is taken, so other writers do not wait for it. What it loaded stays usable.
    Inside an open transaction (a batch of writes, say) it simply reads in that transaction.
    """
    session = _session()
    if session.in_transaction():
        return read()  # a transaction is open already (it may have written): read in it
    promised = g.get("read_only", False)
    g.read_only = True
    try:
        value = read()
        if session.in_transaction():  # reads on the driver alone leave none to end
            _commit_keeping_loaded()
    finally:
        g.read_only = promised
    return value


def reading_bind():
    """Return where a lone lookup should read: the open transaction, or else the engine.

    Outside a transaction, `driver_query` on the engine reads in autocommit on a pooled
    connection: no session bookkeeping, and on SQLite no write lock. Inside one (a batch, or a
    retry under the lock) the lookup must see what the transaction wrote, so it reads there.
    """
    from registry.extensions import db  # the extension module imports this one

    scoped = db.session
    if scoped.registry.has() and scoped().in_transaction():
        return scoped().connection()
    return scoped.session_factory.kw.get("bind") or db.engine


def _in_read_only_request() -> bool:
    return has_app_context() and bool(g.get("read_only"))


def refuse_writes_if_read_only() -> None:
    """Fail loudly on a write the ORM flush guard cannot see (Core statements)."""
    if _in_read_only_request():
        raise RuntimeError("a read-only view tried to write")


def lift_read_only() -> None:
    """Let the request write again (after a rollback, to audit a refusal)."""
    if has_app_context():
        g.read_only = False


_WRITER = "sqlite_writer"  # key in the connection record's info while it holds the queue
WRITER_TIMEOUT_SECONDS = 30


def _begin_sqlite(connection) -> None:
    """Begin SQLite transactions that may write with the write lock already held."""
    driver = connection.connection.driver_connection  # skips SQLAlchemy's overhead
    reading = connection.get_execution_options().get("registry_read")  # see driver_sql.READ
    in_memory = connection.engine.url.database in (None, "", ":memory:")
    if reading or _in_read_only_request() or in_memory:
        # Read-only requests skip the lock, so readers never queue behind writers.
        driver.execute("BEGIN")
        return
    # A deferred transaction that reads, then writes after another writer committed, fails
    # at once with SQLITE_BUSY (busy_timeout cannot help): take the write lock at BEGIN,
    # queued behind other writers on kernel locks (see registry.sqlite_writers).
    queue = writer_queue(connection.engine.url.database)
    queue.acquire(WRITER_TIMEOUT_SECONDS)
    connection.info[_WRITER] = queue
    try:
        driver.execute("BEGIN IMMEDIATE")
    except BaseException:
        connection.info.pop(_WRITER).release()
        raise


def _end_sqlite(connection, statement: str) -> None:
    """End the transaction ourselves, then let the next writer in (the driver's end is a no-op)."""
    try:
        # An invalidated connection (a lost database file) has no driver connection to end.
        if not connection.invalidated and connection.connection.driver_connection.in_transaction:
            connection.connection.driver_connection.execute(statement)
    finally:
        queue = connection.info.pop(_WRITER, None)
        if queue is not None:
            queue.release()


def _commit_sqlite(connection) -> None:
    """Commit, then release the writer queue at once."""
    _end_sqlite(connection, "COMMIT")


def _rollback_sqlite(connection) -> None:
    """Roll back, then release the writer queue at once."""
    _end_sqlite(connection, "ROLLBACK")


def _end_forgotten_sqlite_transaction(dbapi_connection, record) -> None:
    """Never return a connection to the pool inside a transaction or holding the writer queue."""
    if dbapi_connection is not None and dbapi_connection.in_transaction:
        dbapi_connection.execute("ROLLBACK")
    queue = record.info.pop(_WRITER, None) if record is not None else None
    if queue is not None:
        queue.release()


def refuse_flushes_if_read_only(session, _context, _instances) -> None:
    """Fail loudly if a view marked read-only writes (its transaction holds no write lock)."""
    if session.new or session.dirty or session.deleted:
        refuse_writes_if_read_only()


# -- read-only requests on PostgreSQL ------------------------------------------------------------

_AUTOCOMMIT = "read_only_autocommit"  # key in the connection record's info while it reads so


def _begin_postgres_read_only(connection) -> None:
    """Read a read-only request in autocommit: no BEGIN and no ROLLBACK round trip.

    Under READ COMMITTED (the default, which we keep) each statement takes its own snapshot
    whether or not a transaction wraps it, so the transaction only cost two round trips.
    """
    if not (_in_read_only_request() or connection.get_execution_options().get("registry_read")):
        return
    driver = connection.connection.driver_connection
    if not driver.autocommit:
        driver.autocommit = True
        connection.connection.info[_AUTOCOMMIT] = True


def _end_postgres_read_only(connection) -> None:
    """Give the connection its transactions back when the read-only one ends."""
    # An invalidated connection (a lost database) has no driver connection left to restore.
    if not connection.invalidated:
        _restore_transactions(connection.connection.driver_connection, connection.connection.info)


def _restore_forgotten_autocommit(dbapi_connection, record) -> None:
    """Never return a connection to the pool still in a read-only request's autocommit."""
    if record is not None and dbapi_connection is not None:
        _restore_transactions(dbapi_connection, record.info)


def _restore_transactions(driver, info: dict) -> None:
    if info.pop(_AUTOCOMMIT, False) and not driver.closed:
        driver.autocommit = False


def attach_engine_hooks(engine: Engine) -> None:
    """Attach the transaction hooks above to one engine: the app's own, never every engine.

    SQLite: WAL and the writer queue; PostgreSQL: autocommit for reading. Pool events go to
    the engine's pool (and to any pool it is recreated with).
    """
    hooks = {
        "sqlite": [
            ("connect", _configure_sqlite),
            ("begin", _begin_sqlite),
            ("commit", _commit_sqlite),
            ("rollback", _rollback_sqlite),
            ("checkin", _end_forgotten_sqlite_transaction),
        ],
        "postgresql": [
            ("begin", _begin_postgres_read_only),
            ("commit", _end_postgres_read_only),
            ("rollback", _end_postgres_read_only),
            ("checkin", _restore_forgotten_autocommit),
        ],
    }
    for name, hook in hooks.get(engine.dialect.name, []):
        if not event.contains(engine, name, hook):
            event.listen(engine, name, hook)


class StatementTimeout(Exception):
    """A statement ran past its time limit and the database cancelled it."""


@contextmanager
def time_limited(session: Session, seconds: float) -> Iterator[None]:
    """Cancel any statement of the session inside that is still running `seconds` from now.

    PostgreSQL: a transaction-local statement_timeout. SQLite: a progress handler that
    interrupts the statement. Either way the cancelled statement raises StatementTimeout.
    """
    if math.isinf(seconds):
        yield
        return
    connection = session.connection()
    ends = time.monotonic() + max(seconds, 0.0)
    if connection.dialect.name == "postgresql":
        limit = max(1, math.ceil(seconds * 1000))
        connection.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(limit)}
        )
        with _cancelled_is_timeout(ends):
            yield
        connection.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
        return
    driver = connection.connection.dbapi_connection
    driver.set_progress_handler(lambda: time.monotonic() > ends, 10_000)
    try:
        with _cancelled_is_timeout(ends):
            yield
    finally:
        driver.set_progress_handler(None, 0)


@contextmanager
def _cancelled_is_timeout(ends: float) -> Iterator[None]:
    """Turn the error of a statement cancelled at the time limit into StatementTimeout."""
    try:
        yield
    except OperationalError:
        if time.monotonic() < ends:
            raise  # failed for another reason: the database is down, say
        raise StatementTimeout() from None
