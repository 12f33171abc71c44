"""The raw read used on every request: rows out, SQLAlchemy's errors out, pool left usable."""

import pytest
from sqlalchemy import bindparam, column, create_engine, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from registry.driver_sql import driver_query
from registry.extensions import db
from tests.conftest import PG_URL

_MISSING = select(column("x")).select_from(table("no_such_table"))
_ECHO = select(literal_column("1").label("one")).where(bindparam("flag") == bindparam("flag"))


def test_rows_come_back_on_a_pooled_connection_and_inside_a_transaction(app, session):
    with app.app_context():
        assert driver_query(db.engine, _ECHO, {"flag": 7}) == [(1,)]
        assert driver_query(db.session.connection(), _ECHO, {"flag": 7}) == [(1,)]


def test_driver_errors_come_out_as_sqlalchemy_errors_and_the_pool_still_works(app):
    with app.app_context():
        with pytest.raises(DBAPIError):  # not the driver's own class, which would be a 500
            driver_query(db.engine, _MISSING, {})
        assert driver_query(db.engine, _ECHO, {"flag": 1}) == [(1,)]


def test_engine_reads_open_no_transaction_and_leave_the_pool_transactional(app):
    with app.app_context():
        driver_query(db.engine, _ECHO, {"flag": 2})
        pooled = db.engine.raw_connection()  # the connection the read just returned
        try:
            driver = pooled.driver_connection
            if db.engine.dialect.name == "postgresql":
                assert driver.autocommit is False  # the ORM's sessions still get transactions
                assert driver.info.transaction_status == 0  # IDLE: the read left none open
            else:
                assert not driver.in_transaction
        finally:
            pooled.close()
        with db.engine.begin() as connection:  # and a normal transaction still works after
            assert connection.execute(_ECHO, {"flag": 3}).scalar() == 1


@pytest.mark.skipif(not PG_URL, reason="terminating server connections needs PostgreSQL")
def test_a_connection_lost_to_a_restart_renews_the_whole_pool(fresh_app):
    with fresh_app.app_context():
        engine = db.engine
        held = [engine.raw_connection() for _ in range(3)]  # three pooled connections
        pids = [pooled.driver_connection.info.backend_pid for pooled in held]
        for pooled in held:
            pooled.close()
        killer = create_engine(engine.url, poolclass=NullPool)
        with killer.connect() as connection:  # what a database restart does to each of them
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()

        with pytest.raises(DBAPIError) as lost:  # the first read finds its connection gone
            driver_query(engine, _ECHO, {"flag": 4})
        assert lost.value.connection_invalidated
        # The other two stale connections were renewed with it: no second request fails.
        assert [driver_query(engine, _ECHO, {"flag": 5}) for _ in range(3)] == [[(1,)]] * 3
        with engine.connect() as connection:
            assert connection.execute(_ECHO, {"flag": 6}).scalar() == 1


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite pool's own reset")
def test_a_connection_returned_inside_a_transaction_comes_back_clean(fresh_app):
    with fresh_app.app_context():
        engine = db.engine
        pooled = engine.raw_connection()
        driver = pooled.driver_connection
        driver.execute("BEGIN IMMEDIATE")
        driver.execute("CREATE TABLE forgotten (x INTEGER)")
        pooled.close()  # back to the pool mid-transaction, as a buggy caller might
        assert not driver.in_transaction
        with engine.connect() as connection:  # the uncommitted write was rolled back
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
        assert "forgotten" not in names
        with engine.begin() as connection:  # and the database is not left locked
            connection.exec_driver_sql("CREATE TABLE kept (x INTEGER)")
