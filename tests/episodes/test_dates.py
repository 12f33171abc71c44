"""Clinic time zones decide the calendar day of an event; reads are audited."""

from datetime import timedelta

from sqlalchemy import select

from registry.audit.models import AuditEntry
from tests.episodes.conftest import TODAY


def test_the_clinic_day_decides_which_day_an_event_counts_on(
    client, make_clinic, clinician, patient, open_episode
):
    clinic = make_clinic()
    clinic.timezone = "Pacific/Auckland"  # UTC+13 in March
    headers = clinician(clinic)
    yesterday = TODAY - timedelta(days=1)
    ref = open_episode(headers, patient(headers), admitted_on=yesterday.isoformat()).json["id"]
    # 12:00 UTC on the day before TODAY is already 01:00 of TODAY in Auckland.
    body = {"type": "review", "occurred_at": f"{yesterday.isoformat()}T12:00:00Z"}
    answer = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)
    assert answer.status_code == 201, answer.json
    assert answer.json["day"] == TODAY.isoformat()
    assert answer.json["occurred_at"] == f"{yesterday.isoformat()}T12:00:00+00:00"
    # Without an offset, a time is read as clinic local time and stored in UTC.
    body = {"type": "visit", "occurred_at": f"{yesterday.isoformat()}T09:00:00"}
    answer = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)
    assert answer.json["day"] == yesterday.isoformat()
    assert (
        answer.json["occurred_at"]
        == f"{(yesterday - timedelta(days=1)).isoformat()}T20:00:00+00:00"
    )


def test_reads_of_episodes_are_audited(client, session, methadone_episode):
    headers, ref = methadone_episode
    for url in (f"/api/v1/episodes/{ref}", f"/api/v1/episodes/{ref}/compliance"):
        assert client.get(url, headers=headers).status_code == 200
    assert client.get("/api/v1/episodes", headers=headers).status_code == 200
    actions = (
        session.execute(select(AuditEntry.action).where(AuditEntry.action.like("episode.%")))
        .scalars()
        .all()
    )
    assert {"episode.read", "episode.compliance", "episode.list"} <= set(actions)
    assert not session.execute(
        select(AuditEntry).where(AuditEntry.object_id.like("%F11%"))
    ).first()  # object ids are refs, never clinical values
