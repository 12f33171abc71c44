"""Migrations that rebuild tables keep the rows and the references to them (SQLite)."""

import secrets

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from registry.extensions import db
from registry.patients.models import Person, Pseudonym
from tests.conftest import PG_URL, make_test_app


@pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL alters tables in place; SQLite rebuilds them")
def test_rebuilding_a_referenced_table_keeps_its_rows_and_references(keyring, tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path}/old.sqlite3", keyring, str(tmp_path / "instance"))
    directory = app.extensions["migrate"].directory
    with app.app_context():
        # 0012 rebuilds persons, which pseudonyms reference, with foreign keys on.
        upgrade(directory=directory, revision="0011_booking_client_index")
        connection = db.session.connection()
        for n in range(3):
            person_id = connection.execute(
                text(
                    "INSERT INTO persons (person_key, record_key, created_at, treated_before,"
                    " erased) VALUES (:key, 0.5, '2026-01-01 00:00:00', 0, 0) RETURNING id"
                ),
                {"key": secrets.token_hex(16)},
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO pseudonyms (domain, value, person_id, created_at)"
                    " VALUES ('clinic:1', :value, :person, '2026-01-01 00:00:00')"
                ),
                {"value": f"P-{n}", "person": person_id},
            )
        db.session.commit()
        upgrade(directory=directory)
        downgrade(directory=directory, revision="0011_booking_client_index")
        upgrade(directory=directory)
        assert db.session.scalar(select(func.count()).select_from(Person)) == 3
        joined = select(func.count()).select_from(Pseudonym).join(Person)
        assert db.session.scalar(joined) == 3
        assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
        # The app's connections still enforce foreign keys after the migration.
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()
