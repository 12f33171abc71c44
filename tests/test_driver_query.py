"""The raw read used on every request: rows out, SQLAlchemy's errors out, pool left usable."""

import pytest
from sqlalchemy import bindparam, column, literal_column, select, table
from sqlalchemy.exc import DBAPIError

from registry.database import driver_query
from registry.extensions import db

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
