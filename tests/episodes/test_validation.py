"""Bad input: 4xx with field paths, never the value, never a 500 and never a partial write."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry.episodes.models import Episode, EpisodeEvent
from registry.patients.models import OstEnrolment
from tests.episodes.conftest import TODAY, admission, moment


def counts(session) -> tuple[int, int, int]:
    return tuple(
        session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Episode, EpisodeEvent, OstEnrolment)
    )


@pytest.fixture()
def headers_and_patient(clinician, patient, shipped):
    headers = clinician()
    return headers, patient(headers)


@pytest.mark.parametrize(
    "change, path",
    [
        ({"primary_drug": "krokodil-2000"}, "admission.primary_drug"),
        ({"sex": 1}, "admission.sex"),
        ({"sex": True}, "admission.sex"),
        ({"birth_year": "1985"}, "admission.birth_year"),
        ({"birth_year": 1850}, "admission.birth_year"),
        ({"birth_month": 13}, "admission.birth_month"),
        ({"route": ["inject"]}, "admission.route"),
        ({"sex": ...}, "admission.sex"),
        ({"injecting": ...}, "admission.injecting"),
        ({"secondary_drug_1": "heroin"}, "admission.secondary_drug_1"),
        ({"hcv_tested": "never", "hcv_result": "positive"}, "admission.hcv_result"),
        ({"ost_status": "never", "ost_first_year": 2010}, "admission.ost_first_year"),
        ({"favourite_colour": "red"}, "admission.favourite_colour"),
    ],
)
def test_bad_admission_records_name_the_field(
    client, session, open_episode, headers_and_patient, change, path
):
    headers, pseudonym = headers_and_patient
    before = counts(session)
    answer = open_episode(headers, pseudonym, admission=admission(**change))
    assert answer.status_code == 422, answer.json
    assert path in answer.json["errors"]
    assert "krokodil" not in answer.text
    assert counts(session) == before


@pytest.mark.parametrize(
    "change, path",
    [
        ({"diagnosis": "F20.0"}, "diagnosis"),
        ({"diagnosis": "F11"}, "diagnosis"),
        ({"diagnosis": 11.2}, "diagnosis"),
        ({"protocol": "no_such_protocol"}, "protocol"),
        ({"admitted_on": (TODAY + timedelta(days=1)).isoformat()}, "admitted_on"),
        ({"admitted_on": "yesterday"}, "admitted_on"),
        ({"admitted_on": "0001-01-01"}, "admitted_on"),
        ({"diagnosis_icd11": "6C99"}, "diagnosis_icd11"),
        ({"admission": None}, "admission"),
    ],
)
def test_bad_episode_fields(client, session, open_episode, headers_and_patient, change, path):
    headers, pseudonym = headers_and_patient
    before = counts(session)
    answer = open_episode(headers, pseudonym, **change)
    assert answer.status_code == 422, answer.json
    assert path in answer.json["errors"]
    assert counts(session) == before


def test_bad_pseudonym_is_refused_before_any_lookup(
    client, session, open_episode, shipped, clinician
):
    before = counts(session)
    answer = open_episode(clinician(), "P-0000")
    assert answer.status_code == 422 and "pseudonym" in answer.json["errors"]
    assert counts(session) == before


def test_not_known_is_accepted_for_every_item(client, open_episode, headers_and_patient):
    headers, pseudonym = headers_and_patient
    record = {name: "99" for name in admission()}
    record.update(birth_year=1980, birth_month=99, age_first_use=99, ost_first_year=99)
    record.update(primary_drug=99, secondary_drug_1=None)  # the number 99 is read as "99"
    answer = open_episode(headers, pseudonym, admission=record)
    assert answer.status_code == 201, answer.json
    assert answer.json["admission"]["primary_drug"] == "99"
    assert answer.json["age_at_admission"] == 46  # an unknown month counts from January


def test_unknown_age_needs_an_override(client, session, open_episode, headers_and_patient):
    headers, pseudonym = headers_and_patient
    before = counts(session)
    refused = open_episode(headers, pseudonym, admission=admission(birth_year=99))
    assert refused.status_code == 422
    assert refused.json["errors"] == {"admission.birth_year": ["methadone.eligibility.min_age"]}
    assert counts(session) == before
    opened = open_episode(
        headers,
        pseudonym,
        admission=admission(birth_year=99),
        override_reason="age_verified_clinically",
    )
    assert opened.status_code == 201, opened.json
    assert opened.json["override_count"] == 1
    assert opened.json["admission_override_reason"] == "age_verified_clinically"
    assert [v["rule_id"] for v in opened.json["admission_violations"]] == [
        "methadone.eligibility.min_age"
    ]


def test_ineligible_diagnosis_is_a_rule_violation(client, open_episode, headers_and_patient):
    headers, pseudonym = headers_and_patient
    answer = open_episode(headers, pseudonym, protocol="alcohol_withdrawal", diagnosis="F11.2")
    assert answer.status_code == 422
    assert answer.json["errors"]["diagnosis"] == ["alcohol.eligibility.diagnosis"]


def test_second_open_episode_of_a_protocol_here_is_a_conflict(
    client, open_episode, headers_and_patient
):
    headers, pseudonym = headers_and_patient
    assert open_episode(headers, pseudonym).status_code == 201
    assert open_episode(headers, pseudonym).status_code == 409


DOSE = {"medication": "methadone", "amount": 20, "unit": "mg"}


@pytest.mark.parametrize(
    "body, path",
    [
        ({"type": "injection"}, "type"),
        ({"type": "dose", "payload": {**DOSE, "amount": "20"}}, "payload.amount"),
        ({"type": "dose", "payload": {**DOSE, "amount": True}}, "payload.amount"),
        ({"type": "dose", "payload": {**DOSE, "amount": -5}}, "payload.amount"),
        ({"type": "dose", "payload": {"medication": "methadone", "unit": "mg"}}, "payload.amount"),
        ({"type": "dose", "payload": {**DOSE, "colour": "red"}}, "payload.colour"),
        ({"type": "dose", "payload": DOSE, "occurred_at": "soon"}, "occurred_at"),
        ({"type": "dose", "payload": DOSE, "occurred_at": "0001-01-01T00:00:00"}, "occurred_at"),
        ({"type": "dose", "payload": [1, 2]}, "payload"),
        ({"type": "visit", "payload": {"note": "free text"}}, "payload.note"),
        ({"type": "screen", "payload": {"results": {"opioids": "maybe"}}}, "payload.results"),
        ({"type": "screen", "payload": {}}, "payload.results"),
        ({"type": "assessment", "payload": {"quality_of_life": 21}}, "payload.quality_of_life"),
        (
            {"type": "take_home", "payload": {"medication": "methadone", "doses": 1.5}},
            "payload.doses",
        ),
        ({"type": "stage_change", "payload": {"to": 7}}, "payload.to"),
        ({"type": "dose", "payload": DOSE, "supersedes": 999999}, "supersedes"),
        (
            {"type": "dose", "payload": DOSE, "occurred_at": moment(TODAY + timedelta(days=1))},
            "occurred_at",
        ),
        (
            {"type": "dose", "payload": DOSE, "occurred_at": moment(TODAY - timedelta(days=1))},
            "occurred_at",
        ),
    ],
)
def test_bad_events_name_the_field(client, session, methadone_episode, body, path):
    headers, ref = methadone_episode
    before = counts(session)
    answer = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)
    assert answer.status_code == 422, answer.json
    assert any(key.startswith(path) for key in answer.json["errors"]), answer.json
    assert counts(session) == before


@pytest.mark.parametrize(
    "payload, rules",
    [
        (
            {**DOSE, "amount": 5000},
            [
                "methadone.induction.first_dose_max",
                "methadone.induction.first_day_max",
                "methadone.induction.daily_max",
            ],
        ),
        ({**DOSE, "unit": "ml"}, ["methadone.induction.methadone"]),
        ({**DOSE, "medication": "morphine"}, ["methadone.unlisted_medication"]),
    ],
)
def test_absurd_doses_are_refused_by_the_protocol(
    client, session, methadone_episode, payload, rules
):
    headers, ref = methadone_episode
    before = counts(session)
    answer = client.post(
        f"/api/v1/episodes/{ref}/events", headers=headers, json={"type": "dose", "payload": payload}
    )
    assert answer.status_code == 422
    assert sorted(v["rule_id"] for v in answer.json["violations"]) == sorted(rules)
    assert counts(session) == before


def test_events_on_another_clinics_episode_are_not_found(client, clinician, methadone_episode):
    _, ref = methadone_episode
    other = clinician()
    body = {"type": "dose", "payload": DOSE}
    assert (
        client.post(f"/api/v1/episodes/{ref}/events", headers=other, json=body).status_code == 404
    )
    assert client.get(f"/api/v1/episodes/{ref}", headers=other).status_code == 404
    assert client.get("/api/v1/episodes/nonexistent", headers=other).status_code == 404


def test_discharged_episodes_accept_nothing(client, session, methadone_episode):
    headers, ref = methadone_episode
    url = f"/api/v1/episodes/{ref}"
    assert (
        client.post(url + "/discharge", headers=headers, json={"reason": "died"}).status_code == 200
    )
    before = counts(session)
    answer = client.post(url + "/events", headers=headers, json={"type": "dose", "payload": DOSE})
    assert answer.status_code == 409
    assert (
        client.post(url + "/discharge", headers=headers, json={"reason": "died"}).status_code == 409
    )
    assert counts(session) == before


@pytest.mark.parametrize(
    "body, path",
    [
        ({"reason": "bored"}, "reason"),
        (
            {"reason": "died", "discharged_on": (TODAY + timedelta(days=1)).isoformat()},
            "discharged_on",
        ),
        (
            {"reason": "died", "discharged_on": (TODAY - timedelta(days=1)).isoformat()},
            "discharged_on",
        ),
        (
            {"reason": "completed", "assessment": {"days_used": {"heroin": 3}}},
            "assessment.days_used",
        ),
        ({}, "reason"),
    ],
)
def test_bad_discharges(client, session, methadone_episode, body, path):
    headers, ref = methadone_episode
    before = counts(session)
    answer = client.post(f"/api/v1/episodes/{ref}/discharge", headers=headers, json=body)
    assert answer.status_code == 422, answer.json
    assert any(key.startswith(path) for key in answer.json["errors"]), answer.json
    assert counts(session) == before


def test_discharge_before_the_last_event_is_refused(
    client, session, clinician, patient, open_episode
):
    headers = clinician()
    admitted = TODAY - timedelta(days=5)
    ref = open_episode(headers, patient(headers), admitted_on=admitted.isoformat()).json["id"]
    body = {"type": "review", "occurred_at": moment(TODAY - timedelta(days=1))}
    assert (
        client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body).status_code == 201
    )
    answer = client.post(
        f"/api/v1/episodes/{ref}/discharge",
        headers=headers,
        json={"reason": "died", "discharged_on": (TODAY - timedelta(days=2)).isoformat()},
    )
    assert answer.status_code == 422
    assert answer.json["errors"] == {"discharged_on": ["events were recorded after this date"]}


def test_list_filters_and_pages(client, clinician, patient, open_episode):
    headers = clinician()
    refs = []
    for n in range(3):
        admitted = (TODAY - timedelta(days=n)).isoformat()
        answer = open_episode(headers, patient(headers), admitted_on=admitted)
        refs.append(answer.json["id"])
    page = client.get("/api/v1/episodes?per_page=2", headers=headers).json
    assert page["total"] == 3 and [e["id"] for e in page["items"]] == refs[:2]
    page = client.get("/api/v1/episodes?per_page=2&page=2", headers=headers).json
    assert [e["id"] for e in page["items"]] == refs[2:]
    since = (TODAY - timedelta(days=1)).isoformat()
    page = client.get(f"/api/v1/episodes?admitted_from={since}", headers=headers).json
    assert page["total"] == 2
    page = client.get("/api/v1/episodes?protocol=buprenorphine_oat", headers=headers).json
    assert page["total"] == 0
    page = client.get("/api/v1/episodes?status=discharged", headers=headers).json
    assert page["total"] == 0
    bad = client.get("/api/v1/episodes?status=sleeping&admitted_from=x", headers=headers)
    assert bad.status_code == 422 and {"status", "admitted_from"} <= set(bad.json["errors"])


def test_corrections_supersede_and_keep_both(client, methadone_episode):
    headers, ref = methadone_episode
    url = f"/api/v1/episodes/{ref}/events"
    first = client.post(url, headers=headers, json={"type": "dose", "payload": DOSE}).json
    fixed = client.post(
        url,
        headers=headers,
        json={"type": "dose", "payload": {**DOSE, "amount": 25}, "supersedes": first["id"]},
    )
    assert fixed.status_code == 201, fixed.json
    # The corrected 20 mg no longer counts: 25 + 15 = 40 is within the first day's maximum.
    more = client.post(
        url, headers=headers, json={"type": "dose", "payload": {**DOSE, "amount": 15}}
    )
    assert more.status_code == 201, more.json
    again = client.post(
        url,
        headers=headers,
        json={"type": "dose", "payload": DOSE, "supersedes": first["id"]},
    )
    assert again.status_code == 409
    kind = client.post(url, headers=headers, json={"type": "visit", "supersedes": fixed.json["id"]})
    assert kind.status_code == 422 and "supersedes" in kind.json["errors"]
    timeline = client.get(f"/api/v1/episodes/{ref}", headers=headers).json["timeline"]
    assert [e["superseded_by"] for e in timeline] == [fixed.json["id"], None, None]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_doses_are_refused(client, session, methadone_episode, number):
    headers, ref = methadone_episode
    before = counts(session)
    dose = '"medication": "methadone", "unit": "mg", "amount": ' + number
    raw = '{"type": "dose", "payload": {' + dose + "}}"
    answer = client.post(
        f"/api/v1/episodes/{ref}/events",
        headers={**headers, "Content-Type": "application/json"},
        data=raw,
    )
    assert answer.status_code in (400, 422), answer.get_data(as_text=True)
    assert counts(session) == before


def test_take_home_doses_follow_the_protocol_schedule(client, methadone_episode):
    headers, ref = methadone_episode
    body = {"type": "take_home", "payload": {"medication": "methadone", "doses": 1}}
    answer = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)
    assert answer.status_code == 422
    assert [v["rule_id"] for v in answer.json["violations"]] == ["methadone.take_home"]
