"""Clinicians' console pages: register, resolve a care card, this clinic's patients, one patient."""

import re

from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from registry.patients.models import CareCard, Pseudonym
from registry.patients.services import clinic_domain, register_anonymous
from tests.console.conftest import signed_in
from tests.patients.conftest import new_iin

_PSEUDONYM = re.compile(r'id="pseudonym"[^>]*>(P-[0-9A-Z-]+)<')


def _register(client, token, **form):
    return client.post("/console/patients/new?lang=en", data={"csrf_token": token, **form})


def _pseudonym(answer) -> str:
    return _PSEUDONYM.search(answer.get_data(as_text=True)).group(1)


def test_an_anonymous_registration_shows_the_care_card_once_with_its_qr(client, staff, session):
    who = staff("clinician")
    token = signed_in(client, who)
    cards = session.execute(select(func.count(CareCard.id))).scalar()
    answer = _register(client, token, mode="anonymous")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    code = re.search(r'id="care-card-code">([0-9A-Z-]+)<', text).group(1)
    assert 'alt="QR code of the care card" width="180"' in text
    assert "data:image/svg+xml;base64," in text
    assert "shown only this once" in text
    assert session.execute(select(func.count(CareCard.id))).scalar() == cards + 1
    assert code.encode() not in b"".join(
        row for row in session.execute(select(CareCard.digest)).scalars()
    )
    pseudonym = _pseudonym(answer)
    page = client.get(f"/console/patients/{pseudonym}?lang=en")
    assert page.status_code == 200 and code not in page.get_data(as_text=True)  # never again


def test_registration_by_iin_finds_the_same_person_again(client, staff):
    token = signed_in(client, staff("clinician"))
    iin = new_iin()
    first = _register(client, token, mode="iin", iin=iin)
    again = _register(client, token, mode="iin", iin=iin)
    assert "Patient registered" in first.get_data(as_text=True)
    assert "Already a patient of this clinic" in again.get_data(as_text=True)
    assert _pseudonym(first) == _pseudonym(again)
    assert iin not in first.get_data(as_text=True)


def test_registration_by_name_with_a_patronymic(client, staff):
    token = signed_in(client, staff("clinician"))
    form = {
        "mode": "name",
        "family_name": "Abaeva",
        "given_name": "Aigerim",
        "patronymic": "Serikovna",
        "birth_date": "1990-04-02",
        "sex": "F",
    }
    answer = _register(client, token, **form)
    assert answer.status_code == 200 and _pseudonym(answer).startswith("P-")
    assert "Abaeva" not in answer.get_data(as_text=True)


def test_a_refused_registration_names_the_field_and_never_echoes_the_identity(client, staff):
    token = signed_in(client, staff("clinician"))
    bad_iin = _register(client, token, mode="iin", iin="123456789012")
    assert bad_iin.status_code == 422
    text = bad_iin.get_data(as_text=True)
    assert "Check the IIN" in text and 'href="#iin"' in text and "123456789012" not in text
    missing = _register(client, token, mode="name", family_name="Zhaksybekov")
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Zhaksybekov" not in text
    for message in ("Enter the given name.", "Enter a real date of birth", "Choose the sex."):
        assert message in text
    assert _register(client, token, mode="wizard").status_code == 422


def test_a_care_card_resolves_to_this_clinics_pseudonym(client, staff, session):
    who = staff("clinician")
    token = signed_in(client, who)
    card = _register(client, token, mode="anonymous")
    code = re.search(r'id="care-card-code">([0-9A-Z-]+)<', card.get_data(as_text=True)).group(1)
    sloppy = code.lower().replace("-", " ")
    found = client.post(
        "/console/patients/resolve", data={"csrf_token": token, "care_card": sloppy}
    )
    assert found.status_code == 200 and "Care card found" in found.get_data(as_text=True)
    assert _pseudonym(found) == _pseudonym(card)
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    refused = client.post(
        "/console/patients/resolve", data={"csrf_token": token, "care_card": typo}
    )
    assert refused.status_code == 422 and "has a typo" in refused.get_data(as_text=True)


def test_an_unknown_care_card_is_not_found_and_audited(client, staff, session):
    from registry.crypto.codes import CARE_CARD, new_code

    token = signed_in(client, staff("clinician"))
    answer = client.post(
        "/console/patients/resolve", data={"csrf_token": token, "care_card": new_code(CARE_CARD)}
    )
    assert answer.status_code == 404
    outcome = (
        session.execute(
            select(AuditEntry.outcome)
            .where(AuditEntry.action == "patient.resolve")
            .order_by(AuditEntry.idx.desc())
        )
        .scalars()
        .first()
    )
    assert outcome == "refused:404"


def test_the_list_shows_this_clinics_patients_newest_first_a_page_at_a_time(
    app, client, staff, make_clinic, session, monkeypatch
):
    monkeypatch.setitem(app.config, "CONSOLE_PAGE_SIZE", 2)
    who = staff("clinician")
    mine = [register_anonymous(who.clinic_id).pseudonym for _ in range(3)]
    theirs = register_anonymous(make_clinic().id).pseudonym
    signed_in(client, who)
    first = client.get("/console/patients?lang=en").get_data(as_text=True)
    assert mine[2] in first and mine[1] in first and mine[0] not in first
    assert theirs not in first
    next_url = (
        re.search(r'href="([^"]*after=[^"]+)">Next page', first).group(1).replace("&amp;", "&")
    )
    second = client.get(next_url).get_data(as_text=True)
    assert mine[0] in second and mine[2] not in second and "Next page" not in second
    assert "First page" in second


def test_the_list_searches_by_the_start_of_a_pseudonym(client, staff, make_clinic):
    who = staff("clinician")
    mine = [register_anonymous(who.clinic_id).pseudonym for _ in range(3)]
    theirs = register_anonymous(make_clinic().id).pseudonym
    signed_in(client, who)
    for typed in (mine[1][:9], mine[1][2:9].lower(), mine[1]):
        found = client.get("/console/patients", query_string={"q": typed}).get_data(as_text=True)
        assert mine[1] in found, typed
    none = client.get("/console/patients", query_string={"q": theirs}).get_data(as_text=True)
    assert theirs not in none.split("<main", 1)[1].split("</h2>", 1)[1]
    short = client.get("/console/patients", query_string={"q": "P-7", "lang": "en"})
    assert short.status_code == 422
    assert "Type at least 4 characters" in short.get_data(as_text=True)


def test_the_list_walks_an_index_not_the_table(session):
    """The newest-first page can be read from (domain, id) on SQLite and PostgreSQL."""
    from sqlalchemy import text

    bind = session.get_bind()
    newest = (
        select(Pseudonym.value)
        .where(Pseudonym.domain == clinic_domain(1))
        .order_by(Pseudonym.id.desc())
        .limit(26)
    )
    sql = str(newest.compile(bind, compile_kwargs={"literal_binds": True}))
    if bind.dialect.name == "postgresql":
        # A tiny test table is cheaper to scan: forbid that, to see that the index can serve.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = session.execute(text("EXPLAIN " + sql)).scalars().all()
    else:
        plan = [row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert any("ix_pseudonyms_domain_id" in line for line in plan), plan


def test_another_clinics_pseudonym_is_not_found(client, staff, make_clinic):
    theirs = register_anonymous(make_clinic().id).pseudonym
    signed_in(client, staff("clinician"))
    assert client.get(f"/console/patients/{theirs}").status_code == 404
    assert client.get("/console/patients/not-a-pseudonym").status_code == 422
