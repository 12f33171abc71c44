"""Migrations keep rows and references (SQLite rebuilds), and convert rows where they must."""

import json
import secrets
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, func, select, text

from registry import clock
from registry.episodes.models import Episode, EpisodeEvent
from registry.extensions import db
from registry.patients.models import Person, Pseudonym, ReidentificationRequest
from tests.conftest import PG_URL, _new_database, make_test_app


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


# Texts that the free-text fields accepted before 0014 (issue 20), stored by the old schema.
NAME = "Иванов Иван Иванович 15.03.1985"
SPLIT_IIN = "85O315301235"
E_MAIL = "ivan.ivanov(at)mail.kz"
ADDRESS = "ул. Абая 15, кв. 3, Алматы"
SLUG_IIN = "iin_850315_301235"
SLUG_NAME = "ivanov_ivan_19850315"
LEAKS = (NAME, SPLIT_IIN, E_MAIL, ADDRESS, SLUG_IIN, SLUG_NAME, "Абая", "Иванов", "850315")


def _row_id(event) -> int:
    """Return the row id of an event recorded by the service (clients see only its number)."""
    found = select(EpisodeEvent.id).filter_by(episode_id=event.episode_id, n=event.n)
    return db.session.execute(found).scalar_one()


def _old_rows(app, directory) -> dict:
    """Store an episode, events and re-identification requests with free text, as 0013 took them.

    The rows are made through today's services, then the database goes back to 0013 and the
    texts the old schema took are written in, so later migrations never break the set-up.
    """
    from registry.access.regions import load_regions
    from registry.auth.users import create_user
    from registry.episodes.examples import ADMISSION_EXAMPLE
    from registry.episodes.services import open_episode, record_event
    from registry.patients.services import register_anonymous
    from registry.protocols.lifecycle import install_shipped_protocols

    upgrade(directory=directory)
    load_regions(app.config["REGIONS_FILE"])
    connection = db.session.connection()
    clinic_id = connection.execute(
        text(
            "INSERT INTO clinics (name, region_code, centre_type, timezone, created_at)"
            " VALUES ('Almaty Centre', '750000000', 'outpatient', 'Asia/Almaty',"
            " '2026-01-01 00:00:00') RETURNING id"
        )
    ).scalar_one()
    user = create_user("clinician.old", ["clinician"], clinic_id)
    install_shipped_protocols()
    pseudonym = register_anonymous(clinic_id).pseudonym
    admitted = clock.now().date() - timedelta(days=10)
    admission = {**ADMISSION_EXAMPLE, "birth_year": 99}
    body = {"pseudonym": pseudonym, "protocol": "methadone_oat", "diagnosis": "F11.2"}
    body |= {"admitted_on": admitted, "admission": admission}
    episode = open_episode(clinic_id, user.id, body | {"override_reason": "clinical_judgement"})

    def event(kind: str, payload: dict | None = None) -> int:
        data = {"type": kind, "payload": payload, "override_reason": "clinical_judgement"}
        return _row_id(record_event(clinic_id, user.id, episode.ref, data))

    methadone = {"medication": "methadone", "amount": 20.0, "unit": "mg", "supervised": True}
    ids = {
        name: event("dose", methadone)
        for name in ("label_unit", "slug_medication", "label_reason", "text_unit")
    }
    ids["plain"] = _row_id(record_event(clinic_id, user.id, episode.ref, {"type": "visit"}))
    ids["slug_stage"] = event("stage_change", {"to": "maintenance"})
    episode_id, user_id = episode.id, user.id
    db.session.commit()
    db.session.close()
    downgrade(directory=directory, revision="0013_newest_event_index")

    connection = db.session.connection()

    def store(event: str, payload: dict | None, reason: str | None, violations=None) -> None:
        """Write what the 0013 schema took into an event."""
        sql = "UPDATE episode_events SET override_reason = :reason"
        values = {"id": ids[event], "reason": reason}
        if payload is not None:
            sql += ", payload = :payload"
            values["payload"] = json.dumps(payload)
        if violations is not None:
            sql += ", violations = :violations"
            values["violations"] = json.dumps(violations)
        connection.execute(text(sql + " WHERE id = :id"), values)

    def dose_payload(medication="methadone", unit="mg") -> dict:
        return {"medication": medication, "amount": 20.0, "unit": unit, "supervised": True}

    def violation(rule_id: str, text_: str, details: dict) -> dict:
        message = {lang: text_ for lang in ("ru", "kk", "en")}
        return {
            "rule_id": rule_id,
            "severity": "error",
            "overdue": False,
            "message": message,
            "details": details,
        }

    unlisted = violation(
        "methadone.unlisted_medication",
        f"{SLUG_IIN} is not a medication of this protocol",
        {"medication": SLUG_IIN},
    )
    stage = violation(
        "methadone.induction.transition",
        f"induction → {SLUG_NAME} (not allowed)",
        {"stage": "induction", "to": SLUG_NAME},
    )
    store("label_unit", dose_payload(unit="мг"), "split_dose")
    store("slug_medication", dose_payload(medication=SLUG_IIN), E_MAIL, [unlisted])
    store("label_reason", None, "  Laboratory error or UNUSABLE sample ")
    store("text_unit", dose_payload(unit=SPLIT_IIN), NAME)
    store("slug_stage", {"to": SLUG_NAME}, ADDRESS, [stage])
    connection.execute(
        text("UPDATE episodes SET admission_override_reason = :reason WHERE id = :id"),
        {"reason": NAME, "id": episode_id},
    )
    request_sql = (
        "INSERT INTO reidentification_requests (person_id, requester_id, purpose, legal_basis,"
        " created_at, expires_at) SELECT person_id, :user, :purpose, :basis, :at, :at"
        " FROM episodes WHERE id = :episode RETURNING id"
    )
    requests = [
        connection.execute(
            text(request_sql),
            {
                "user": user_id,
                "purpose": purpose,
                "basis": basis,
                "at": clock.now(),
                "episode": episode_id,
            },
        ).scalar_one()
        for purpose, basis in (("Court proceedings", ADDRESS), (E_MAIL, "court_decision"))
    ]
    db.session.commit()
    return {"episode": episode_id, "events": ids, "requests": requests}


def _every_row_as_text() -> str:
    chunks = []
    schema = MetaData()
    schema.reflect(bind=db.session.connection())  # the tables as they are, not as the models are
    for table in schema.sorted_tables:
        chunks.extend(str(tuple(row)) for row in db.session.execute(table.select()))
    return "\n".join(chunks)


def test_coded_reasons_migration_replaces_every_free_text(keyring, tmp_path):
    for url in _new_database(tmp_path):
        app = make_test_app(url, keyring, str(tmp_path / "instance"))
        directory = app.extensions["migrate"].directory
        with app.app_context():
            old = _old_rows(app, directory)
            stored = _every_row_as_text()
            assert all(leak in stored for leak in (NAME, SPLIT_IIN, E_MAIL, ADDRESS, SLUG_IIN))
            db.session.close()  # the migration's connection must be the writer
            upgrade(directory=directory)

            events = {
                name: db.session.get(EpisodeEvent, event_id)
                for name, event_id in old["events"].items()
            }
            assert events["label_unit"].payload["unit"] == "mg"
            assert events["label_unit"].override_reason == "split_dose"
            assert events["slug_medication"].payload["medication"] == "unspecified"
            assert events["slug_medication"].override_reason == "unspecified"
            assert events["label_reason"].override_reason == "lab_error"
            assert events["text_unit"].payload["unit"] == "unspecified"
            assert events["text_unit"].override_reason == "unspecified"
            assert events["slug_stage"].payload == {"to": "unspecified"}
            assert events["slug_stage"].violations[0]["details"]["to"] == "unspecified"
            assert events["plain"].override_reason is None
            found = {v["rule_id"]: v for v in events["slug_medication"].violations}
            unlisted = found["methadone.unlisted_medication"]
            assert unlisted["details"]["medication"] == "unspecified"
            assert "unspecified" in unlisted["message"]["en"]
            episode = db.session.get(Episode, old["episode"])
            assert episode.admission_override_reason == "unspecified"
            assert episode.engine_state is None  # its dose totals were keyed by the old text
            requests = [db.session.get(ReidentificationRequest, i) for i in old["requests"]]
            assert [(r.purpose, r.legal_basis) for r in requests] == [
                ("court_proceedings", "unspecified"),
                ("unspecified", "court_decision"),
            ]
            stored = _every_row_as_text()
            assert [leak for leak in LEAKS if leak in stored] == []
            db.session.close()
            downgrade(directory=directory, revision="0013_newest_event_index")
            upgrade(directory=directory)
            assert (
                db.session.get(Episode, old["episode"]).admission_override_reason == "unspecified"
            )
            if db.engine.dialect.name == "sqlite":
                path = db.engine.url.database
                db.session.close()
                db.engine.dispose()
                with closing(sqlite3.connect(path)) as connection:
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                files = Path(path).read_bytes()
                assert [leak for leak in LEAKS if leak.encode() in files] == []
            db.engine.dispose()
