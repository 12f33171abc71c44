"""Anonymous and linked registration, care cards and this clinic's view."""

import datetime as dt
import re

import pytest

from registry.crypto.codes import CARE_CARD, PSEUDONYM, is_valid
from tests.patients.conftest import new_iin


def test_anonymous_registration_returns_pseudonym_and_care_card(clinician, register):
    answer = register(clinician())
    assert answer.status_code == 201
    body = answer.json
    assert is_valid(body["pseudonym"], PSEUDONYM)
    assert is_valid(body["care_card"], CARE_CARD)
    assert body["existing"] is False
    assert body["ost_active_elsewhere"] is False
    assert body["treated_before"] is False
    assert "care_card_qr_svg" not in body  # drawn on request only, see below
    assert answer.headers["Cache-Control"] == "no-store"


def test_same_iin_at_two_clinics_is_one_person_with_two_pseudonyms(session, clinician, register):
    iin = new_iin()
    first = register(clinician(), {"iin": iin})
    second = register(clinician(), {"iin": iin})
    # `existing` is about this clinic: the second one is not told that the first knew the person.
    assert first.status_code == 201 and first.json["existing"] is False
    assert second.status_code == 201 and second.json["existing"] is False
    assert first.json["pseudonym"] != second.json["pseudonym"]
    assert person_of(session, first.json) == person_of(session, second.json)
    assert "care_card" not in second.json


def person_of(session, answer: dict) -> int:
    """Return the id of the person behind an answer's pseudonym (tests only)."""
    from sqlalchemy import select

    from registry.patients.models import Pseudonym

    query = select(Pseudonym.person_id).where(Pseudonym.value == answer["pseudonym"])
    return session.execute(query).scalar_one()


def test_same_iin_twice_at_one_clinic_keeps_the_pseudonym(clinician, register):
    headers, iin = clinician(), new_iin()
    assert (
        register(headers, {"iin": iin}).json["pseudonym"]
        == (register(headers, {"iin": iin}).json["pseudonym"])
    )


def test_care_card_resolves_at_another_clinic_to_the_same_person(
    client, session, clinician, register
):
    first_clinic, other = clinician(), clinician()
    registered = register(first_clinic).json
    card = registered["care_card"]
    typed = card.replace("-", "").lower().replace("1", "l").replace("0", "o")
    answer = client.post("/api/v1/patients/resolve", headers=other, json={"care_card": typed})
    assert answer.status_code == 200
    assert answer.json["existing"] is False  # new to this clinic
    assert person_of(session, answer.json) == person_of(session, registered)
    again = client.post("/api/v1/patients/resolve", headers=other, json={"care_card": card})
    assert again.json["pseudonym"] == answer.json["pseudonym"]
    assert again.json["existing"] is True
    at_home = client.post(
        "/api/v1/patients/resolve", headers=first_clinic, json={"care_card": card}
    )
    assert at_home.json["pseudonym"] == register_pseudonym_of(at_home)


def register_pseudonym_of(answer):
    return answer.json["pseudonym"]


def test_care_card_with_bad_check_is_422_before_lookup(client, clinician, register):
    headers = clinician()
    card = register(headers).json["care_card"]
    broken = ("Z" if card[0] != "Z" else "Y") + card[1:]
    answer = client.post("/api/v1/patients/resolve", headers=headers, json={"care_card": broken})
    assert answer.status_code == 422
    assert answer.json["errors"] == {"care_card": ["check"]}
    assert broken not in answer.text


def test_unknown_care_card_is_404(client, clinician):
    from registry.crypto.codes import new_code

    answer = client.post(
        "/api/v1/patients/resolve", headers=clinician(), json={"care_card": new_code(CARE_CARD)}
    )
    assert answer.status_code == 404


def test_name_identity_links_kazakh_and_russian_spellings(clinician, register):
    born, headers = dt.date(1990, 5, 17), clinician()
    first = register(
        headers,
        {"family_name": "Сәрсенбаева", "given_name": "Әсел", "birth_date": str(born), "sex": "F"},
    )
    second = register(
        headers,
        {"family_name": "САРСЕНБАЕВА", "given_name": "Асель", "birth_date": str(born), "sex": "F"},
    )
    assert first.json["existing"] is False
    assert second.json["existing"] is True
    assert second.json["pseudonym"] == first.json["pseudonym"]


def test_different_patronymics_are_different_persons(clinician, register):
    base = {"family_name": "Иванов", "given_name": "Пётр", "birth_date": "1980-01-02", "sex": "M"}
    headers = clinician()
    one = register(headers, {**base, "patronymic": "Сергеевич"})
    two = register(headers, {**base, "patronymic": "Николаевич"})
    same = register(headers, {**base, "patronymic": "Сергеевич"})
    bare = register(headers, base)
    assert one.json["existing"] is False
    assert two.json["existing"] is False
    assert same.json["existing"] is True
    assert bare.json["existing"] is True  # the bare name token belongs to the first person
    assert same.json["pseudonym"] == bare.json["pseudonym"] == one.json["pseudonym"]


def test_patronymic_learnt_later_is_added(clinician, register):
    base = {
        "family_name": "Ахметов",
        "given_name": "Нұрлан",
        "birth_date": "1979-06-14",
        "sex": "M",
    }
    headers = clinician()
    first = register(headers, base).json["pseudonym"]
    with_patronymic = register(headers, {**base, "patronymic": "Серикұлы"})
    assert with_patronymic.json["existing"] is True
    again = register(headers, {**base, "given_name": "Нурлан", "patronymic": "Серикулы"})
    assert again.json["existing"] is True
    assert with_patronymic.json["pseudonym"] == again.json["pseudonym"] == first


def test_iin_with_agreeing_birth_date_and_sex_is_accepted(clinician, register):
    answer = register(clinician(), {"iin": "850315301235", "birth_date": "1985-03-15", "sex": "M"})
    assert answer.status_code in (200, 201)


def test_read_own_patient(client, clinician, register):
    headers = clinician()
    pseudonym = register(headers, {"iin": new_iin()}).json["pseudonym"]
    answer = client.get(f"/api/v1/patients/{pseudonym}", headers=headers)
    assert answer.status_code == 200
    assert answer.json["pseudonym"] == pseudonym
    assert answer.json["episodes"] == []
    assert answer.json["treated_before"] is False
    lenient = client.get(f"/api/v1/patients/{pseudonym.lower().replace('-', '')}", headers=headers)
    assert lenient.json["pseudonym"] == pseudonym


def test_other_clinics_pseudonym_and_unknown_one_get_identical_404(client, clinician, register):
    from registry.crypto.codes import new_code

    owner, other = clinician(), clinician()
    theirs = register(owner).json["pseudonym"]
    to_theirs = client.get(f"/api/v1/patients/{theirs}", headers=other)
    to_nothing = client.get(f"/api/v1/patients/{new_code(PSEUDONYM)}", headers=other)
    assert to_theirs.status_code == to_nothing.status_code == 404
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(to_theirs.json) == strip(to_nothing.json)


def test_care_card_qr_png_and_svg(client, clinician, register):
    headers = clinician()
    card = register(headers).json["care_card"]
    svg = client.post("/api/v1/patients/care-card/qr", headers=headers, json={"care_card": card})
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert card not in svg.text  # the QR carries it; the document does not spell it out
    png = client.post(
        "/api/v1/patients/care-card/qr", headers=headers, json={"care_card": card, "format": "png"}
    )
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")


def test_qr_encodes_the_canonical_code_compactly(client, clinician, register):
    import segno

    from registry.patients.qr import care_card_svg

    headers = clinician()
    card = register(headers).json["care_card"]
    typed = card.lower().replace("-", "")
    svg = client.post("/api/v1/patients/care-card/qr", headers=headers, json={"care_card": typed})
    assert svg.text == care_card_svg(card)
    assert segno.make_qr(card, error="m").mode == "alphanumeric"


@pytest.mark.parametrize("mode", ["anonymous", "linked"])
def test_registration_is_audited_with_the_pseudonym_only(app, session, clinician, register, mode):
    from sqlalchemy import select

    from registry.audit.models import AuditEntry

    identity = {"iin": new_iin()} if mode == "linked" else None
    pseudonym = register(clinician(), identity).json["pseudonym"]
    entry = (
        session.execute(
            select(AuditEntry)
            .where(AuditEntry.action == "patient.register")
            .order_by(AuditEntry.idx.desc())
        )
        .scalars()
        .first()
    )
    assert entry.object_id == pseudonym


def test_404s_for_other_clinic_and_unknown_do_the_same_work(app, client, clinician, register):
    from sqlalchemy import event

    from registry.crypto.codes import new_code
    from registry.extensions import db

    owner, other = clinician(), clinician()
    theirs = register(owner).json["pseudonym"]
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(re.sub(r"sa_savepoint_\d+", "sp", statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(f"/api/v1/patients/{theirs}", headers=other)
        to_theirs = list(statements)
        statements.clear()
        client.get(f"/api/v1/patients/{new_code(PSEUDONYM)}", headers=other)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert to_theirs == statements


def test_linked_registration_audits_whether_it_found_a_person_new_to_the_clinic(
    session, clinician, register
):
    """The oversight check counts answers that revealed a person the clinic did not know."""
    from sqlalchemy import select

    from registry.audit.models import AuditEntry

    here, there = clinician(), clinician()
    iin = new_iin()
    answers = [register(here, {"iin": iin}), register(there, {"iin": iin})]
    answers.append(register(there, {"iin": iin}))
    answers.append(register(here, None))
    outcomes = session.execute(
        select(AuditEntry.object_id, AuditEntry.outcome)
        .where(AuditEntry.action == "patient.register")
        .order_by(AuditEntry.idx.desc())
        .limit(4)
    ).all()[::-1]
    assert [pseudonym for pseudonym, _ in outcomes] == [a.json["pseudonym"] for a in answers]
    assert [outcome for _, outcome in outcomes] == ["new", "found", "existing", "ok"]


def test_reading_a_patient_looks_its_pseudonym_up_once(app, client, clinician, register):
    """The read finds the person, the pseudonym's day and the clinic's zone in one statement."""
    from sqlalchemy import event

    from registry.extensions import db

    mine = clinician()
    pseudonym = register(mine).json["pseudonym"]
    lookups = []

    def count(_conn, _cursor, statement, *_args):
        if re.search(r"\bFROM\b[^;]*\bpseudonyms\b", statement, re.S):
            lookups.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/api/v1/patients/{pseudonym}", headers=mine).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(lookups) == 1, lookups
