"""The dry run of an event (POST /events/check): the rule engine's answer, nothing recorded."""

from sqlalchemy import func, select

from registry.audit.models import AuditEntry
from registry.episodes.models import Episode, EpisodeEvent
from tests.episodes.test_clinical_safety import dose, moment, opened

DOSE_15 = {"medication": "methadone", "amount": 15, "unit": "mg"}


def check(client, headers, ref, payload, n=0, **extra):
    from tests.episodes.test_clinical_safety import day

    body = {"type": "dose", "occurred_at": moment(day(n)), "payload": payload, **extra}
    return client.post(f"/api/v1/episodes/{ref}/events/check", headers=headers, json=body)


def _counts(session, ref):
    episode = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()
    events = session.execute(
        select(func.count()).select_from(EpisodeEvent).where(EpisodeEvent.episode_id == episode.id)
    ).scalar_one()
    actions = session.execute(select(AuditEntry.action).order_by(AuditEntry.idx)).scalars().all()
    return events, episode.engine_state_event_n, episode.override_count, actions


def test_a_check_answers_as_recording_would_and_records_nothing(
    client, session, clinician, patient, open_episode
):
    headers, ref = opened(client, clinician, patient, open_episode)
    assert dose(client, headers, ref, 0, 30).status_code == 201
    before = _counts(session, ref)
    answer = check(client, headers, ref, DOSE_15)
    assert answer.status_code == 200, answer.json
    assert answer.json["blocking"] == ["methadone.induction.first_day_max"]
    assert answer.json["override_required"] is True and answer.json["would_record"] is False
    assert answer.json["violations"][0]["details"] == {"limit": 40, "value": 45}
    events, state_n, overrides, actions = _counts(session, ref)
    assert (events, state_n, overrides) == before[:3]
    # The only write is the audit of the read: the answer comes from the clinical history.
    assert actions == [*before[3], "episode.check"]
    # Recording the same body is refused for the same rule: one check, two routes.
    refused = dose(client, headers, ref, 0, 15)
    assert refused.status_code == 422
    assert refused.json["errors"] == {"payload.amount": answer.json["blocking"]}


def test_a_check_with_an_override_reason_says_it_would_record(
    client, clinician, patient, open_episode
):
    headers, ref = opened(client, clinician, patient, open_episode)
    assert dose(client, headers, ref, 0, 30).status_code == 201
    answer = check(client, headers, ref, DOSE_15, override_reason="split_dose")
    assert answer.json["would_record"] is True and answer.json["override_required"] is True
    allowed = check(client, headers, ref, {**DOSE_15, "amount": 5})
    assert allowed.status_code == 200
    assert allowed.json["blocking"] == [] and allowed.json["would_record"] is True


def test_a_check_refuses_bad_input_and_other_clinics(client, clinician, patient, open_episode):
    headers, ref = opened(client, clinician, patient, open_episode)
    bad = check(client, headers, ref, {**DOSE_15, "amount": "lots"})
    assert bad.status_code == 422 and "payload.amount" in bad.json["errors"]
    unknown = check(client, headers, ref, DOSE_15, override_reason="because")
    assert unknown.status_code == 422 and "override_reason" in unknown.json["errors"]
    assert check(client, clinician(), ref, DOSE_15).status_code == 404
    assert check(client, {}, ref, DOSE_15).status_code == 401


def test_a_discharged_episode_takes_no_check(client, clinician, patient, open_episode):
    headers, ref = opened(client, clinician, patient, open_episode)
    body = {"reason": "transferred", "override_reason": "exit_assessment_not_possible"}
    assert (
        client.post(f"/api/v1/episodes/{ref}/discharge", headers=headers, json=body).status_code
        == 200
    )
    assert check(client, headers, ref, DOSE_15, n=30).status_code == 409
