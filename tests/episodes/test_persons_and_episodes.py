"""Issue 21, persons and episodes: erasure during OAT, age at first use, diagnoses together."""

import pytest
from sqlalchemy import func, select

from registry.episodes.models import Episode
from registry.patients.models import OstEnrolment
from tests.conftest import bearer
from tests.episodes.conftest import admission
from tests.patients.conftest import new_iin

DOSE = {"type": "dose", "payload": {"medication": "methadone", "amount": 20, "unit": "mg"}}


@pytest.fixture()
def erase(client, session, make_user):
    """Return a helper: an operator erases a person named by a clinic's pseudonym."""
    _, token = make_user("admin")

    def call(headers: dict, pseudonym: str):
        clinic_id = client.get("/api/v1/me", headers=headers).json["clinic_id"]
        return client.delete(
            f"/api/v1/patients/{pseudonym}?clinic_id={clinic_id}", headers=bearer(token)
        )

    return call


def _open_enrolments(session) -> int:
    query = select(func.count()).select_from(OstEnrolment).where(OstEnrolment.closed_at.is_(None))
    return session.execute(query).scalar_one()


# -- erasure while opioid agonist treatment is open ----------------------------------------------


def test_erasure_during_oat_is_refused_and_the_episode_keeps_its_person(
    client, session, clinician, patient, open_episode, erase
):
    headers = clinician()
    pseudonym = patient(headers, {"iin": new_iin()})
    ref = open_episode(headers, pseudonym).json["id"]

    refused = erase(headers, pseudonym)
    assert refused.status_code == 409, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert "discharge" in refused.json["detail"]
    read = client.get(f"/api/v1/episodes/{ref}", headers=headers).json
    assert read["pseudonym"] == pseudonym and read["status"] == "open"
    assert client.get(f"/api/v1/patients/{pseudonym}", headers=headers).status_code == 200


def test_erasure_during_oat_leaves_the_enrolment_open_until_discharge(
    client, session, clinician, patient, open_episode, erase
):
    headers = clinician()
    pseudonym = patient(headers, {"iin": new_iin()})
    ref = open_episode(headers, pseudonym).json["id"]
    assert erase(headers, pseudonym).status_code == 409
    assert _open_enrolments(session) == 1

    discharged = client.post(
        f"/api/v1/episodes/{ref}/discharge", headers=headers, json={"reason": "dropped_out"}
    )
    assert discharged.status_code == 200, discharged.json
    assert erase(headers, pseudonym).status_code == 204
    assert _open_enrolments(session) == 0
    # The discharged, erased episode is a statistical row that accepts nothing more.
    dosed = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=DOSE)
    assert dosed.status_code == 409
    assert client.get(f"/api/v1/episodes/{ref}", headers=headers).json["pseudonym"] is None


def test_after_a_refused_erasure_another_clinic_still_sees_oat_and_cannot_open_a_second(
    client, session, clinician, patient, open_episode, erase
):
    home, other, iin = clinician(), clinician(), new_iin()
    pseudonym = patient(home, {"iin": iin})
    assert open_episode(home, pseudonym).status_code == 201
    assert erase(home, pseudonym).status_code == 409

    there = client.post(
        "/api/v1/patients", headers=other, json={"mode": "linked", "identity": {"iin": iin}}
    ).json
    assert there["ost_active_elsewhere"] is True
    second = open_episode(other, there["pseudonym"])
    assert second.status_code == 409, second.json
    assert session.execute(select(func.count()).select_from(Episode)).scalar_one() == 1


@pytest.mark.parametrize("erased_by", ["survivor", "merged"])
def test_erasure_of_a_merged_group_is_refused_while_any_member_is_in_oat(
    client, session, clinician, patient, open_episode, erase, erased_by
):
    headers = clinician()
    in_oat, survivor = patient(headers), patient(headers)
    assert open_episode(headers, in_oat).status_code == 201
    merged = client.post(
        "/api/v1/patients/merges", headers=headers, json={"survivor": survivor, "merged": in_oat}
    )
    assert merged.status_code == 201, merged.json

    refused = erase(headers, survivor if erased_by == "survivor" else in_oat)
    assert refused.status_code == 409, refused.text
    assert _open_enrolments(session) == 1


def test_oat_opened_for_an_erased_person_is_not_found(
    client, session, clinician, patient, open_episode, erase
):
    headers = clinician()
    pseudonym = patient(headers)
    assert erase(headers, pseudonym).status_code == 204
    assert open_episode(headers, pseudonym).status_code == 404
    assert _open_enrolments(session) == 0


# -- age at first use ----------------------------------------------------------------------------


def test_age_at_first_use_above_the_age_at_admission_is_refused(
    client, session, clinician, patient, open_episode
):
    headers = clinician()
    pseudonym = patient(headers)
    # Born March 1985, admitted on TODAY (March 2026): 41 years old.
    refused = open_episode(headers, pseudonym, admission=admission(age_first_use=60))
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["admission.age_first_use"]
    said = str([refused.json["detail"], refused.json["errors"]])  # request_id is random hex
    assert "60" not in said and "41" not in said
    assert session.execute(select(func.count()).select_from(Episode)).scalar_one() == 0

    same_year = open_episode(headers, pseudonym, admission=admission(age_first_use=41))
    assert same_year.status_code == 201, same_year.json


def test_age_at_first_use_is_not_compared_when_either_age_is_not_known(
    client, clinician, patient, open_episode
):
    headers = clinician()
    unknown = open_episode(headers, patient(headers), admission=admission(age_first_use=99))
    assert unknown.status_code == 201, unknown.json
    unknown_birth = open_episode(
        headers,
        patient(headers),
        protocol="psychosocial_outpatient",
        admission=admission(birth_year=99, age_first_use=60),
        override_reason="age_verified_clinically",
    )
    assert unknown_birth.status_code == 201, unknown_birth.json


# -- ICD-10 and ICD-11 diagnoses together ----------------------------------------------------------


@pytest.mark.parametrize(
    ("icd10", "icd11", "status"),
    [
        ("F11.2", "6C40.2", 422),  # alcohol beside opioids
        ("F11.2", "6C41.2", 422),  # cannabis beside opioids
        ("F11.2", "6C4H.2", 422),  # non-psychoactive substances: ICD-10 F55, no F1x
        ("F11.2", "6C43.2", 201),
        ("F11.2", "6C43", 201),
        ("F19.2", "6C43.20", 201),  # multiple drug use may name its main substance in ICD-11
    ],
)
def test_an_icd11_diagnosis_must_name_the_substance_of_the_icd10_one(
    client, session, clinician, patient, open_episode, icd10, icd11, status
):
    headers = clinician()
    protocol = "psychosocial_outpatient" if icd10 == "F19.2" else "methadone_oat"
    answer = open_episode(
        headers, patient(headers), protocol=protocol, diagnosis=icd10, diagnosis_icd11=icd11
    )
    assert answer.status_code == status, answer.json
    if status == 422:
        assert list(answer.json["errors"]) == ["diagnosis_icd11"]
        assert icd11 not in answer.text
    else:
        assert answer.json["diagnosis_icd11"] == icd11


def test_the_code_lists_map_icd11_substance_categories_to_icd10(client):
    icd11 = {entry["code"]: entry for entry in client.get("/api/v1/codes").json["icd11"]}
    assert icd11["6C40"]["icd10"] == ["F10", "F19"] and icd11["6C43"]["icd10"] == ["F11", "F19"]
    assert icd11["6C4H"]["icd10"] == []
    assert set(icd11) == {f"6C4{c}" for c in "0123456789ABCDEFGH"}
    assert all(set(entry["substance"]) == {"ru", "kk", "en"} for entry in icd11.values())


# -- secondary diagnoses against the protocol's exclusions ----------------------------------------


@pytest.mark.parametrize("protocol", ["methadone_oat", "buprenorphine_oat"])
def test_hepatic_failure_as_a_secondary_diagnosis_needs_an_override_for_oat(
    client, session, clinician, patient, open_episode, protocol
):
    headers = clinician()
    pseudonym = patient(headers)
    rule = f"{protocol.split('_')[0]}.eligibility.hepatic_failure"
    refused = open_episode(headers, pseudonym, protocol=protocol, secondary_diagnoses=["K72.0"])
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == {"secondary_diagnoses": [rule]}
    assert session.execute(select(func.count()).select_from(Episode)).scalar_one() == 0

    overridden = open_episode(
        headers,
        pseudonym,
        protocol=protocol,
        secondary_diagnoses=["k72.0", "B18.2"],
        override_reason="medical_commission",
    )
    assert overridden.status_code == 201, overridden.json
    body = overridden.json
    assert body["secondary_diagnoses"] == ["K72.0", "B18.2"]
    assert [v["rule_id"] for v in body["admission_violations"]] == [rule]
    assert body["admission_override_reason"] == "medical_commission"
    assert body["override_count"] == 1


def test_secondary_diagnoses_outside_the_exclusions_open_without_findings(
    client, clinician, patient, open_episode
):
    headers = clinician()
    answer = open_episode(headers, patient(headers), secondary_diagnoses=["B20", "F10.2", "J45.9"])
    assert answer.status_code == 201, answer.json
    assert answer.json["secondary_diagnoses"] == ["B20", "F10.2", "J45.9"]
    assert answer.json["admission_violations"] == []
    psychosocial = open_episode(
        headers, patient(headers), protocol="psychosocial_outpatient", secondary_diagnoses=["K72.0"]
    )
    assert psychosocial.status_code == 201, psychosocial.json


@pytest.mark.parametrize(
    ("codes", "path"),
    [
        (["K99.9"], "secondary_diagnoses.0"),  # the pattern of a code, but no such code
        (["K72.5"], "secondary_diagnoses.0"),
        (["B20", "Hepatitis"], "secondary_diagnoses.1"),
        (["K72.0", "K72.0"], "secondary_diagnoses"),
        (["F11.2"], "secondary_diagnoses"),  # repeats the diagnosis
        (["K72.012"], "secondary_diagnoses.0"),
        ([7], "secondary_diagnoses.0"),
        ("K72.0", "secondary_diagnoses"),
        ([f"B{n}" for n in range(15, 28)], "secondary_diagnoses"),  # 13 codes, 12 at most
    ],
)
def test_bad_secondary_diagnoses_name_the_field(
    client, session, clinician, patient, open_episode, codes, path
):
    headers = clinician()
    answer = open_episode(headers, patient(headers), secondary_diagnoses=codes)
    assert answer.status_code == 422, answer.json
    assert path in answer.json["errors"]
    assert "Hepatitis" not in answer.text and "K99" not in answer.text
    assert session.execute(select(func.count()).select_from(Episode)).scalar_one() == 0


def test_secondary_diagnoses_are_kept_and_read_back(client, clinician, patient, open_episode):
    headers = clinician()
    ref = open_episode(headers, patient(headers), secondary_diagnoses=["B18.2"]).json["id"]
    read = client.get(f"/api/v1/episodes/{ref}", headers=headers).json
    assert read["secondary_diagnoses"] == ["B18.2"]
