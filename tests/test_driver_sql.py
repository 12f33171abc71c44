"""Writes on the driver cursor store what Core would store, and fail as Core would."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError

from registry import clock
from registry.audit.models import AuditHead
from registry.driver_sql import driver_execute, driver_savepoint
from registry.extensions import db
from registry.patients.models import CareCard, Person, Pseudonym

_PERSON = insert(Person.__table__).returning(Person.__table__.c.id)
_CARD = insert(CareCard.__table__)
_CARD_OF = select(CareCard.__table__.c.superseded, CareCard.__table__.c.created_at).where(
    CareCard.__table__.c.person_id == bindparam("person_id")
)
_PSEUDONYM = insert(Pseudonym.__table__)
_HEAD = AuditHead.__table__
_NEW_HEAD = insert(_HEAD)
_GROW_HEAD = update(_HEAD).where(_HEAD.c.id == 424242).values(size=bindparam("grown"))
_READ_HEAD = select(_HEAD.c.size, _HEAD.c.frontier).where(_HEAD.c.id == 424242)
_P_TEST = select(Pseudonym.__table__.c.id).where(Pseudonym.__table__.c.value == "P-TEST")
_PERSON_BY_ID = select(Person.__table__.c.id).where(Person.__table__.c.id == bindparam("id"))


def _person(connection, key: str = "k") -> int:
    values = {
        "person_key": key * 32, "record_key": 0.5, "created_at": clock.now(),
        "treated_before": False, "wrapped_key": None, "wrapped_key_version": None,
        "erased": False,
    }  # fmt: skip
    return driver_execute(connection, _PERSON, values)[0][0]


def test_an_insert_gets_python_defaults_converted_values_and_returning_rows(app, session):
    with app.app_context():
        connection = db.session.connection()
        person_id = _person(connection)
        assert isinstance(person_id, int)
        # superseded and created_at are left to their column defaults, as Core would fill them.
        driver_execute(
            connection, _CARD, {"person_id": person_id, "key_version": 1, "digest": b"d" * 32}
        )
        superseded, created_at = driver_execute(connection, _CARD_OF, {"person_id": person_id})[0]
        assert superseded is False
        # Read back through the column type: an aware UTC datetime, not the driver's string.
        assert isinstance(created_at, datetime) and created_at.tzinfo is not None
        assert created_at.astimezone(UTC) <= clock.now()


def test_values_a_statement_carries_itself_and_json_round_trip(app, session):
    with app.app_context():
        connection = db.session.connection()
        driver_execute(connection, _NEW_HEAD, {"id": 424242, "size": 1, "frontier": ["ab", "cd"]})
        driver_execute(connection, _GROW_HEAD, {"grown": 2})  # where(id == 424242) is built in
        assert driver_execute(connection, _READ_HEAD, {}) == [(2, ["ab", "cd"])]


def test_listeners_see_each_statement_and_a_clash_is_sqlalchemys_integrity_error(app, session):
    with app.app_context():
        connection = db.session.connection()
        person_id = _person(connection)
        row = {"domain": "clinic:1", "value": "P-TEST", "person_id": person_id}
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            driver_execute(connection, _PSEUDONYM, row)
            # The unique (domain, value) clashes, and the error is the one the ORM would raise.
            with pytest.raises(IntegrityError), db.session.begin_nested():
                # Asked for inside the block: the session opens the SAVEPOINT only then.
                driver_execute(db.session.connection(), _PSEUDONYM, row)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert sum(sql.startswith("INSERT INTO pseudonyms") for sql in seen) == 2
        # The savepoint took only the failed insert with it: the transaction goes on.
        assert len(driver_execute(connection, _P_TEST, {})) == 1


def test_a_driver_savepoint_undoes_its_block_on_error_and_keeps_it_otherwise(app, session):
    with app.app_context():
        connection = db.session.connection()
        person_id = _person(connection)
        row = {"domain": "clinic:1", "value": "P-TEST", "person_id": person_id}
        with driver_savepoint(connection):
            driver_execute(connection, _PSEUDONYM, row)
        with pytest.raises(IntegrityError), driver_savepoint(connection):
            second = _person(connection, "s")  # written, then undone with the block
            driver_execute(connection, _PSEUDONYM, {**row, "person_id": second})
        assert driver_execute(connection, _PERSON_BY_ID, {"id": second}) == []
        # The kept block and the transaction around it go on.
        assert len(driver_execute(connection, _P_TEST, {})) == 1
        assert driver_execute(connection, _PERSON_BY_ID, {"id": person_id}) == [(person_id,)]
