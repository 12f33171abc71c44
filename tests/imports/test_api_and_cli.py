"""POST /api/v1/admin/imports and `registry import`: roles, problems, no identity kept."""

import io
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.patients.models import Person
from tests.conftest import bearer
from tests.imports.conftest import episode, legacy_csv, new_iin

URL = "/api/v1/admin/imports"


def _upload(client, data: bytes, headers: dict):
    files = {"file": (io.BytesIO(data), "legacy.csv", "text/csv")}
    return client.post(URL, data=files, headers=headers, content_type="multipart/form-data")


def test_an_operator_imports_a_file_and_gets_its_report(client, shipped, make_clinic, make_user):
    clinic = make_clinic()
    iin = new_iin()
    data = legacy_csv([episode(iin, clinic.id, "2020-01-05"), {"iin": "1", "clinic": clinic.id}])
    headers = bearer(make_user("admin")[1])
    answer = _upload(client, data, headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["persons_created"] == 1 and answer.json["episodes_created"] == 1
    assert answer.json["rejected"] == [{"line": 3, "rule": "identity.iin: length"}]
    assert iin not in answer.get_data(as_text=True)
    again = _upload(client, data, headers)
    assert again.json == answer.json


@pytest.mark.parametrize("role", ["clinician", "clinic_admin", "analyst", "key_custodian"])
def test_other_roles_are_refused(client, shipped, make_user, role):
    answer = _upload(client, legacy_csv([]), bearer(make_user(role)[1]))
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_no_token_is_refused(client, shipped):
    assert _upload(client, legacy_csv([]), {}).status_code == 401


@pytest.mark.parametrize(
    ("data", "field"),
    [(b"iin,clinic,colour\n", "columns.colour"), (b"\xff\xfe\x00", "file"), (b"", "file")],
)
def test_a_bad_file_is_a_problem_naming_the_rule(client, shipped, make_user, data, field):
    answer = _upload(client, data, bearer(make_user("admin")[1]))
    assert answer.status_code == 422
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert field in answer.json["errors"]


def test_a_missing_file_or_a_json_body_is_refused(client, shipped, make_user):
    headers = bearer(make_user("admin")[1])
    empty = client.post(URL, data={}, headers=headers, content_type="multipart/form-data")
    assert empty.status_code == 422 and "file" in empty.json["errors"]
    as_json = client.post(URL, json={"file": "x"}, headers=headers)
    assert as_json.status_code == 422 and "file" in as_json.json["errors"]


def test_a_file_over_the_limit_is_refused(app, client, shipped, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_REQUEST_BYTES", 1000)
    answer = _upload(client, b"iin,clinic\n" + b"1,1\n" * 400, bearer(make_user("admin")[1]))
    assert answer.status_code == 413
    assert _count_persons() == 0


def _count_persons() -> int:
    return db.session.execute(select(func.count()).select_from(Person)).scalar()


def test_the_command_imports_and_keeps_no_identity(fresh_app, tmp_path, caplog):
    from registry.access.models import Clinic
    from registry.protocols.lifecycle import install_shipped_protocols

    with fresh_app.app_context():
        install_shipped_protocols()
        clinic = Clinic(name="Imports", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.commit()
        clinic_id = clinic.id
    iins = [new_iin() for _ in range(3)]
    names = {"family_name": "Жумабаева", "given_name": "Айгерим", "patronymic": "Маратовна"}
    rows = [episode(iin, clinic_id, "2020-01-05") for iin in iins]
    rows.append({**names, "birth_date": "1979-11-12", "sex": "F", "clinic": clinic_id})
    rows.append({**episode(new_iin(), clinic_id, "2020-01-05"), "clinic": 424242})
    path = tmp_path / "legacy.csv"
    path.write_bytes(legacy_csv(rows))
    runner = fresh_app.test_cli_runner()
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(args=["import", str(path), "--batch", "100"])
        again = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 persons new" in result.output and "line 6: clinic: no such clinic" in result.output
    assert again.exit_code == 0 and "4 persons new" in again.output
    with fresh_app.app_context():
        assert _count_persons() == 4
        stored = _database_bytes(fresh_app)
    shown = result.output + again.output + caplog.text
    for value in [*iins, rows[-1]["iin"], *names.values()]:
        assert value not in shown
        if stored is not None:
            assert value.encode() not in stored
    path.unlink()  # the identified source is destroyed after the import


def _database_bytes(app) -> bytes | None:
    """Return the SQLite database's files as bytes (None on PostgreSQL)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        return None
    db.session.remove()
    db.engine.dispose()
    base = Path(url.removeprefix("sqlite:///"))
    files = [base, Path(f"{base}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_the_command_refuses_a_bad_file_without_a_trace(fresh_app, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"iin,clinic,colour\n")
    result = fresh_app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "columns.colour: unknown column" in result.output
