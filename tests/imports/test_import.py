"""Import of the legacy register: linkage, imported episodes, bad rows, resume, idempotence."""

import io
import logging

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from registry.episodes.models import ComplianceFlag, Episode, EpisodeStatus
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.imports import runner
from registry.imports.models import ImportRun
from registry.patients.models import Escrow, LinkageToken, OstEnrolment, Person, Pseudonym
from tests.conftest import bearer
from tests.imports.conftest import episode, legacy_csv, new_iin


def _count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_rows_make_persons_by_registration_linkage_and_imported_episodes(
    client, importer, make_clinic, make_user
):
    clinic = make_clinic()
    iin = new_iin()
    rows = [
        episode(iin, clinic.id, "2020-01-05"),
        episode(iin, clinic.id, "2021-03-01", discharged_on="", discharge_reason=""),
        {
            "family_name": "Иванов",
            "given_name": "Иван",
            "birth_date": "1980-02-03",
            "sex": "M",
            "clinic": clinic.id,
            "admitted_on": "2019-03-04",
            "discharged_on": "2019-04-01",
            "diagnosis": "F10.2",
            "primary_drug": "alcohol",
            "discharge_reason": "dropped_out",
        },
        {"iin": new_iin(), "clinic": clinic.id},  # registered, never admitted
    ]
    found = importer(rows)
    assert found["status"] == "done"
    assert (found["rows"], found["persons_created"], found["episodes_created"]) == (4, 3, 3)
    assert found["rejected"] == [] and found["rejected_count"] == 0
    assert _count(Person) == 3 and _count(Pseudonym, Pseudonym.domain == f"clinic:{clinic.id}") == 3
    episodes = db.session.scalars(select(Episode).order_by(Episode.admitted_on)).all()
    assert all(e.imported and e.clinic_id == clinic.id for e in episodes)
    assert [e.status for e in episodes] == ["discharged", "discharged", "open"]
    assert episodes[0].sex == "male" and episodes[0].birth_year == 1980
    assert episodes[0].referral_source == "99" and episodes[0].age_first_use == 99
    # A clinician registering the same IIN finds the person the import made: one linkage.
    _, token = make_user("clinician", clinic=clinic)
    answer = client.post(
        "/api/v1/patients", json={"mode": "linked", "identity": {"iin": iin}}, headers=bearer(token)
    )
    assert answer.status_code in (200, 201), answer.json
    assert answer.json["existing"] is True and answer.json["treated_before"] is True
    assert _count(Person) == 3


def test_a_name_row_without_patronymic_finds_the_person_with_one(importer, make_clinic):
    clinic = make_clinic()
    person = {"family_name": "Петрова", "given_name": "Анна", "birth_date": "1990-05-06"}
    rows = [
        {**person, "sex": "F", "patronymic": "Сергеевна", "clinic": clinic.id},
        {**person, "sex": "F", "clinic": clinic.id},
        {**person, "sex": "F", "patronymic": "Ивановна", "clinic": clinic.id},
    ]
    found = importer(rows)
    # As registration decides: the bare name is the first Anna; another patronymic is another.
    assert found["persons_created"] == 2
    assert _count(Person) == 2 and _count(LinkageToken) == 3


def test_the_same_person_in_two_rows_and_two_clinics_is_one_person(importer, make_clinic):
    one, two = make_clinic(), make_clinic()
    iin = new_iin()
    found = importer([episode(iin, one.id, "2020-01-05"), episode(iin, two.id, "2021-01-05")])
    assert found["persons_created"] == 1 and found["episodes_created"] == 2
    assert _count(Person) == 1 and _count(LinkageToken) == 1
    domains = set(db.session.scalars(select(Pseudonym.domain)))
    assert domains == {f"clinic:{one.id}", f"clinic:{two.id}"}


BAD_ROWS = [
    ({"iin": "123"}, "identity.iin: length"),
    ({"clinic": 999_999}, "clinic: no such clinic"),
    ({"clinic": "x"}, "clinic: not a clinic id"),
    ({"admitted_on": "05.01.2020"}, "admitted_on: not a date (YYYY-MM-DD)"),
    ({"discharged_on": "2019-01-01"}, "discharged_on: before admitted_on"),
    ({"diagnosis": "J45.0"}, "diagnosis: not an ICD-10 F10-F19 code"),
    ({"primary_drug": "tea"}, "primary_drug: not a drug code"),
    ({"discharge_reason": "bored"}, "discharge_reason: not a discharge reason code"),
    ({"discharge_reason": ""}, "discharge_reason: required with discharged_on"),
    ({"protocol": "nope"}, "protocol: no active protocol with this key"),
    ({"iin": "", "family_name": "Серикова"}, "identity.given_name: required without iin"),
]


def test_bad_rows_are_reported_by_line_and_rule_without_their_values(importer, make_clinic, caplog):
    clinic = make_clinic()
    good = episode(new_iin(), clinic.id, "2020-01-05")
    rows = [good] + [{**episode(new_iin(), clinic.id, "2020-01-05"), **bad} for bad, _ in BAD_ROWS]
    with caplog.at_level(logging.DEBUG):
        found = importer(rows)
    expected = [{"line": n, "rule": rule} for n, (_, rule) in enumerate(BAD_ROWS, start=3)]
    assert found["rejected"] == expected
    assert found["rejected_count"] == len(BAD_ROWS) and found["episodes_created"] == 1
    shown = repr(found) + caplog.text
    for row in rows:
        for name in ("iin", "family_name", "admitted_on", "primary_drug", "discharge_reason"):
            if len(str(row.get(name, ""))) > 4:
                assert str(row[name]) not in shown
    assert "Серикова" not in shown
    audit = " ".join(f"{e.action} {e.object_id}" for e in db.session.scalars(select(AuditEntry)))
    assert not any(row["iin"] and row["iin"] in audit for row in rows)


def test_a_row_with_the_wrong_number_of_cells_is_refused_by_line(importer, make_clinic):
    clinic = make_clinic()
    data = legacy_csv([episode(new_iin(), clinic.id, "2020-01-05")]) + b"1,2,3\n"
    found = importer(data)
    assert found["rejected"] == [{"line": 3, "rule": "columns: not as many cells as the header"}]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "file"),
        (b"iin,clinic,colour\n", "columns.colour"),
        (b"family_name,clinic\n", "columns.iin"),
        (b"iin,admitted_on\n", "columns.clinic"),
        ("iin,clinic\n".encode("utf-16"), "file"),
    ],
)
def test_a_bad_file_is_refused_whole_before_any_write(importer, data, field):
    with pytest.raises(ValidationFailed) as caught:
        importer(data)
    assert field in caught.value.errors
    assert _count(ImportRun) == 0 and _count(Person) == 0


def test_a_second_run_of_the_same_file_changes_nothing(importer, make_clinic):
    clinic = make_clinic()
    rows = [episode(new_iin(), clinic.id, f"2020-0{m}-05") for m in range(1, 6)]
    first = importer(rows, batch_size=2)
    counts = [_count(m) for m in (Person, Episode, LinkageToken, Pseudonym, AuditEntry)]
    again = importer(rows, batch_size=2)
    assert again == first
    assert [_count(m) for m in (Person, Episode, LinkageToken, Pseudonym, AuditEntry)] == counts


def test_another_file_with_the_same_rows_finds_persons_and_skips_their_episodes(
    importer, make_clinic
):
    clinic = make_clinic()
    rows = [episode(new_iin(), clinic.id, "2020-01-05") for _ in range(3)]
    importer(rows)
    extra = episode(rows[0]["iin"], clinic.id, "2022-02-02")
    found = importer([*reversed(rows), extra])
    assert (found["persons_created"], found["persons_found"]) == (0, 3)
    assert (found["episodes_created"], found["episodes_skipped"]) == (1, 3)
    assert _count(Person) == 3 and _count(Episode) == 4


def test_a_crash_after_a_batch_resumes_without_a_second_person(importer, make_clinic):
    clinic = make_clinic()
    iins = [new_iin() for _ in range(5)]
    # The same person in batch 1 and 3: found again, never made twice.
    rows = [episode(iin, clinic.id, "2020-01-05") for iin in iins]
    rows.append(episode(iins[0], clinic.id, "2021-01-05"))

    def crash(number: int) -> None:
        if number == 1:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        importer(rows, batch_size=2, after_batch=crash)
    run = db.session.scalars(select(ImportRun)).one()
    assert (run.status, run.last_line, _count(Person)) == ("running", 3, 2)
    found = importer(rows, batch_size=2)
    assert found["status"] == "done" and found["rows"] == 6
    assert found["persons_created"] == 5 and found["episodes_created"] == 6
    assert _count(Person) == 5 and _count(LinkageToken) == 5 and _count(Episode) == 6
    batches = db.session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.action == "import.batch")
    )
    assert sorted(batches) == [f"{run.id}:{line}" for line in (3, 5, 7)]


def test_a_crash_inside_a_batch_leaves_nothing_of_it(importer, make_clinic, monkeypatch):
    clinic = make_clinic()
    rows = [episode(new_iin(), clinic.id, "2020-01-05") for _ in range(4)]
    real = runner.write_batch
    calls = []

    def failing(batch):
        calls.append(1)
        result = real(batch)  # the rows are written, then the process dies before the commit
        if len(calls) == 2:
            raise RuntimeError("killed")
        return result

    monkeypatch.setattr(runner, "write_batch", failing)
    with pytest.raises(RuntimeError):
        importer(rows, batch_size=2)
    assert _count(Person) == 2 and _count(Episode) == 2
    monkeypatch.setattr(runner, "write_batch", real)
    found = importer(rows, batch_size=2)
    assert found["persons_created"] == 4 and _count(Person) == 4 and _count(Episode) == 4


def test_each_batch_has_one_audit_entry_without_identity(importer, make_clinic):
    clinic = make_clinic()
    rows = [episode(new_iin(), clinic.id, "2020-01-05") for _ in range(5)]
    importer(rows, batch_size=2)
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.idx))]
    assert actions[-5:] == [
        "import.start",
        "import.batch",
        "import.batch",
        "import.batch",
        "import.done",
    ]


def test_imported_open_oat_episodes_block_oat_elsewhere_and_get_no_flags(
    client, importer, make_clinic, make_user
):
    from registry.episodes.jobs import compute_compliance_flags

    clinic, other = make_clinic(), make_clinic()
    iin = new_iin()
    row = episode(iin, clinic.id, "2024-01-05", discharged_on="", discharge_reason="")
    importer([{**row, "protocol": "methadone_oat"}])
    imported = db.session.scalars(select(Episode)).one()
    assert imported.oat and imported.status == EpisodeStatus.OPEN
    assert _count(OstEnrolment, OstEnrolment.closed_at.is_(None)) == 1
    compute_compliance_flags()
    assert _count(ComplianceFlag) == 0
    _, token = make_user("clinician", clinic=other)
    answer = client.post(
        "/api/v1/patients", json={"mode": "linked", "identity": {"iin": iin}}, headers=bearer(token)
    )
    assert answer.json["ost_active_elsewhere"] is True


def test_a_second_open_episode_of_one_treatment_is_refused(importer, make_clinic):
    clinic = make_clinic()
    iin = new_iin()
    open_row = {"discharged_on": "", "discharge_reason": ""}
    rows = [
        episode(iin, clinic.id, "2024-01-05", **open_row),
        episode(iin, clinic.id, "2024-03-05", **open_row),
    ]
    found = importer(rows)
    assert found["rejected"] == [
        {"line": 3, "rule": "discharged_on: another open episode of this treatment"}
    ]


def test_escrow_seals_imported_identities_as_registration_does(importer, make_clinic, monkeypatch):
    import base64

    from flask import current_app

    from registry.crypto.escrow import generate_custodian_keypair, open_
    from registry.patients.escrow import escrow_aad

    private, public = generate_custodian_keypair()
    monkeypatch.setitem(current_app.config, "ESCROW_PUBLIC_KEY", base64.b64encode(public).decode())
    clinic = make_clinic()
    iin = new_iin()
    importer([episode(iin, clinic.id, "2020-01-05")])
    person = db.session.scalars(select(Person)).one()
    blob = db.session.scalars(select(Escrow)).one()
    assert open_(private, blob.blob, escrow_aad(person)) == f'{{"iin": "{iin}"}}'.encode()


def test_statistics_count_imported_episodes(importer, make_clinic):
    from registry.stats.population import count_groups

    clinic = make_clinic()
    rows = [episode(new_iin(), clinic.id, f"2024-0{m}-05") for m in range(1, 5)]
    rows.append({**episode(new_iin(), clinic.id, "2024-06-05"), "primary_drug": "alcohol"})
    importer(rows)
    (groups,) = count_groups("admissions", 2024, [["primary_drug"]])
    counted = dict(zip(groups.values["primary_drug"].tolist(), groups.counts.tolist(), strict=True))
    assert counted == {"heroin": 4, "alcohol": 1}


def test_a_file_is_read_from_any_binary_stream(importer, make_clinic):
    clinic = make_clinic()
    data = b"\xef\xbb\xbf" + legacy_csv([episode(new_iin(), clinic.id, "2020-01-05")])
    assert runner.file_digest(io.BytesIO(data)) == runner.file_digest(io.BytesIO(data))
    assert importer(data)["episodes_created"] == 1


def test_a_person_found_without_escrow_is_sealed_then(importer, make_clinic, monkeypatch):
    import base64

    from flask import current_app

    from registry.crypto.escrow import generate_custodian_keypair

    clinic = make_clinic()
    iin = new_iin()
    importer([episode(iin, clinic.id, "2020-01-05")])
    assert _count(Escrow) == 0
    public = base64.b64encode(generate_custodian_keypair()[1]).decode()
    monkeypatch.setitem(current_app.config, "ESCROW_PUBLIC_KEY", public)
    found = importer([episode(iin, clinic.id, "2021-01-05"), episode(iin, clinic.id, "2022-01-05")])
    assert found["persons_found"] == 1 and _count(Person) == 1 and _count(Escrow) == 1
