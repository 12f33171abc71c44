"""Erasure, cross-clinic OST facts, and reversible merge and split."""

from sqlalchemy import func, select

from registry.patients import services
from registry.patients.models import (
    CareCard,
    LinkageToken,
    OstEnrolment,
    Person,
    Pseudonym,
)
from tests.conftest import bearer
from tests.patients.conftest import new_iin


def _person(session, pseudonym: str) -> Person:
    return session.execute(
        select(Person).join(Pseudonym).where(Pseudonym.value == pseudonym)
    ).scalar_one()


def _clinic_of(headers, session):
    from registry.auth.models import User

    return session.get(User, int(headers["X-User-Id"])).clinic_id


def test_erasure_removes_links_and_reregistration_makes_a_new_person(
    client, session, clinician, register, make_user
):
    headers, elsewhere, iin = clinician(), clinician(), new_iin()
    first = register(headers, {"iin": iin}).json["pseudonym"]
    register(elsewhere, {"iin": iin})
    person = _person(session, first)
    person_id = person.id
    _, admin = make_user("admin")
    clinic_id = _clinic_of(headers, session)

    answer = client.delete(f"/api/v1/patients/{first}?clinic_id={clinic_id}", headers=bearer(admin))
    assert answer.status_code == 204
    session.expire_all()
    for model in (LinkageToken, Pseudonym, CareCard):
        count = session.execute(
            select(func.count()).select_from(model).where(model.person_id == person_id)
        ).scalar()
        assert count == 0
    erased = session.get(Person, person_id)
    assert erased.erased and erased.wrapped_key is None
    assert client.get(f"/api/v1/patients/{first}", headers=headers).status_code == 404

    again = register(headers, {"iin": iin})
    assert again.status_code == 201 and again.json["existing"] is False
    assert _person(session, again.json["pseudonym"]).id != person_id


def test_erasure_of_an_anonymous_person_removes_the_care_card(
    client, session, clinician, register, make_user
):
    headers = clinician()
    body = register(headers).json
    _, admin = make_user("admin")
    clinic_id = _clinic_of(headers, session)
    client.delete(
        f"/api/v1/patients/{body['pseudonym']}?clinic_id={clinic_id}", headers=bearer(admin)
    )
    resolved = client.post(
        "/api/v1/patients/resolve", headers=clinician(), json={"care_card": body["care_card"]}
    )
    assert resolved.status_code == 404


def test_erasure_needs_the_right_clinic(client, session, clinician, register, make_user):
    headers = clinician()
    pseudonym = register(headers).json["pseudonym"]
    _, admin = make_user("admin")
    wrong = _clinic_of(headers, session) + 1000
    answer = client.delete(f"/api/v1/patients/{pseudonym}?clinic_id={wrong}", headers=bearer(admin))
    assert answer.status_code == 404
    missing = client.delete(f"/api/v1/patients/{pseudonym}", headers=bearer(admin))
    assert missing.status_code == 422 and "clinic_id" in missing.json["errors"]


def test_ost_elsewhere_is_shown_to_other_clinics_only(client, session, clinician, register):
    home, other, iin = clinician(), clinician(), new_iin()
    pseudonym = register(home, {"iin": iin}).json["pseudonym"]
    person_id = _person(session, pseudonym).id
    home_clinic = _clinic_of(home, session)

    services.open_ost_enrolment(person_id, home_clinic, "episode-1")
    assert services.ost_active_elsewhere(person_id, home_clinic) is False
    assert services.ost_active_elsewhere(person_id, home_clinic + 999) is True
    at_other = register(other, {"iin": iin}).json
    assert at_other["ost_active_elsewhere"] is True
    own_view = client.get(f"/api/v1/patients/{pseudonym}", headers=home).json
    assert own_view["ost_active_elsewhere"] is False
    other_view = client.get(f"/api/v1/patients/{at_other['pseudonym']}", headers=other).json
    assert other_view["ost_active_elsewhere"] is True

    assert services.close_ost_enrolment(person_id, home_clinic, "episode-1") == 1
    assert services.ost_active_elsewhere(person_id, home_clinic + 999) is False
    assert session.execute(select(OstEnrolment.closed_at)).scalars().first() is not None


def test_treated_before_comes_from_the_person(client, session, clinician, register):
    home, iin = clinician(), new_iin()
    pseudonym = register(home, {"iin": iin}).json["pseudonym"]
    services.mark_treated(_person(session, pseudonym).id)
    assert register(clinician(), {"iin": iin}).json["treated_before"] is True


def test_merge_then_split(client, session, clinician, register):
    headers, iin = clinician(), new_iin()
    anonymous = register(headers).json
    linked = register(headers, {"iin": iin}).json["pseudonym"]
    answer = client.post(
        "/api/v1/patients/merges",
        headers=headers,
        json={"survivor": linked, "merged": anonymous["pseudonym"]},
    )
    assert answer.status_code == 201
    merge_id = answer.json["id"]
    other = clinician()
    by_card = client.post(
        "/api/v1/patients/resolve", headers=other, json={"care_card": anonymous["care_card"]}
    ).json["pseudonym"]
    by_iin = register(other, {"iin": iin}).json["pseudonym"]
    assert by_card == by_iin  # the care card now leads to the surviving person
    again = client.post(
        "/api/v1/patients/merges",
        headers=headers,
        json={"survivor": linked, "merged": anonymous["pseudonym"]},
    )
    assert again.status_code == 409

    assert (
        client.post(f"/api/v1/patients/merges/{merge_id}/split", headers=other).status_code == 404
    )
    split = client.post(f"/api/v1/patients/merges/{merge_id}/split", headers=headers)
    assert split.status_code == 200 and split.json["split_at"]
    third = clinician()
    by_card = client.post(
        "/api/v1/patients/resolve", headers=third, json={"care_card": anonymous["care_card"]}
    ).json["pseudonym"]
    assert by_card != register(third, {"iin": iin}).json["pseudonym"]
    twice = client.post(f"/api/v1/patients/merges/{merge_id}/split", headers=headers)
    assert twice.status_code == 409


def test_merge_needs_this_clinics_pseudonyms(client, clinician, register):
    headers, other = clinician(), clinician()
    mine = register(headers).json["pseudonym"]
    theirs = register(other).json["pseudonym"]
    answer = client.post(
        "/api/v1/patients/merges", headers=headers, json={"survivor": mine, "merged": theirs}
    )
    assert answer.status_code == 404


def test_research_domain_has_its_own_stable_pseudonyms(session, clinician, register):
    import pytest

    from registry.errors import ValidationFailed

    pseudonym = register(clinician(), {"iin": new_iin()}).json["pseudonym"]
    person_id = _person(session, pseudonym).id
    research = services.research_pseudonym(person_id, "tdi-2026")
    assert research != pseudonym
    assert services.research_pseudonym(person_id, "tdi-2026") == research
    assert services.research_pseudonym(person_id, "other-study") != research
    with pytest.raises(ValidationFailed):
        services.research_domain("Bad Name")
