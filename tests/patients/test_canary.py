"""Canary: known identities never appear in the database, the logs or the audit log."""

import base64
import datetime as dt
import logging
import unicodedata
from pathlib import Path

from sqlalchemy import select, text

from registry.crypto.escrow import generate_custodian_keypair
from registry.crypto.keyring import Keyring
from registry.crypto.linkage import iin_token
from registry.crypto.names import normalise_family_name, normalise_given_name, normalise_patronymic
from registry.extensions import db
from registry.patients.models import Escrow, LinkageToken
from tests.patients.conftest import new_iin, seed_clinicians

NAMES = [
    ("Сәрсенбаева", "Әсел", "Нұрланқызы", dt.date(1990, 5, 17), "F"),
    ("Абдурахманов", "Жаңабек", "Серікұлы", dt.date(1968, 11, 2), "M"),
    ("Pemberton", "Ottoline", None, dt.date(1977, 8, 29), "F"),
]


def _forms(value: str) -> set[str]:
    """Return a value in every spelling that could leak: as given, folded, NFC/NFD."""
    forms = {value, value.upper(), value.lower(), value.casefold()}
    forms |= {unicodedata.normalize(f, v) for v in list(forms) for f in ("NFC", "NFD")}
    return {f for f in forms if len(f) >= 4}


def _canaries(iins: list[str]) -> set[str]:
    found = set()
    for iin in iins:
        found |= {iin, iin[:6] + "-" + iin[6:], " ".join(iin)}
    for family, given, patronymic, born, _ in NAMES:
        found |= _forms(family) | _forms(given) | {born.isoformat(), born.strftime("%d.%m.%Y")}
        found |= _forms(normalise_family_name(family)) | _forms(normalise_given_name(given))
        if patronymic:
            found |= _forms(patronymic) | _forms(normalise_patronymic(patronymic))
    return found


def _database_text(app) -> bytes:
    """Return every stored byte: the SQLite files, or every PostgreSQL row cast to text."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            path = Path(db.engine.url.database)
            return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        chunks = []
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars()
            chunks.extend(row.encode() for row in rows)
        return b"\n".join(chunks)


def test_no_identifier_is_stored_logged_or_audited(own_app, caplog):
    _private, public = generate_custodian_keypair()
    own_app.config["ESCROW_PUBLIC_KEY"] = base64.b64encode(public).decode()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)  # statements and parameters
    try:
        clinicians = seed_clinicians(own_app, 2)
        client = own_app.test_client()
        iins = [new_iin(dt.date(1985, 3, 15)), new_iin(dt.date(1992, 7, 4), male=False)]
        iins.append("850315301235")
        for headers in clinicians:
            for iin in iins:
                body = {"mode": "linked", "identity": {"iin": iin}}
                assert client.post("/api/v1/patients", headers=headers, json=body).status_code in (
                    200,
                    201,
                )
            for family, given, patronymic, born, sex in NAMES:
                identity = {
                    "family_name": family,
                    "given_name": given,
                    "birth_date": born.isoformat(),
                    "sex": sex,
                }
                if patronymic:
                    identity["patronymic"] = patronymic
                body = {"mode": "linked", "identity": identity}
                assert client.post("/api/v1/patients", headers=headers, json=body).status_code in (
                    200,
                    201,
                )
            # Refused input must not leak either.
            bad = {"mode": "linked", "identity": {"iin": iins[0], "sex": "F"}}
            assert client.post("/api/v1/patients", headers=headers, json=bad).status_code == 422
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    with own_app.app_context():
        assert db.session.execute(select(Escrow)).scalars().first() is not None
    stored = _database_text(own_app)
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert logged  # the logs were captured
    for canary in _canaries(iins):
        assert canary.encode() not in stored, "an identifier reached the database"
        assert canary not in logged, "an identifier reached the logs"


def test_tokens_cannot_be_recomputed_without_the_keyring(own_app):
    (headers,) = seed_clinicians(own_app, 1)
    iin = new_iin()
    own_app.test_client().post(
        "/api/v1/patients", headers=headers, json={"mode": "linked", "identity": {"iin": iin}}
    )
    with own_app.app_context():
        stored = db.session.execute(select(LinkageToken.digest)).scalar_one()
        guessed = Keyring.generate().primary("linkage").material
        assert iin_token({1: guessed}, iin).digest != stored
        real = own_app.extensions["keyring"].primary("linkage").material
        assert iin_token({1: real}, iin).digest == stored
