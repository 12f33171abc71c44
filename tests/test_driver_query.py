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
