"""Issue 21, through the API: missed doses, day-one totals, backdated events, compliance wording."""

from datetime import timedelta

from tests.episodes.conftest import TODAY, moment

ADMITTED = TODAY - timedelta(days=20)


def day(n: int):
    return ADMITTED + timedelta(days=n)


def event(client, headers, ref, kind, n, payload=None):
    body = {"type": kind, "occurred_at": moment(day(n)), "payload": payload or {}}
    return client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)


def dose(client, headers, ref, n, amount):
    payload = {"medication": "methadone", "amount": amount, "unit": "mg"}
    return event(client, headers, ref, "dose", n, payload)


def opened(client, clinician, patient, open_episode, admitted=ADMITTED) -> tuple[dict, str]:
    headers = clinician()
    answer = open_episode(headers, patient(headers), admitted_on=admitted.isoformat())
    assert answer.status_code == 201, answer.json
    return headers, answer.json["id"]


def test_upcoming_compliance_items_do_not_say_overdue(client, clinician, patient, open_episode):
    headers, ref = opened(client, clinician, patient, open_episode, admitted=TODAY)
    found = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json
    assert found["overdue"] == [] and found["upcoming"]
    for item in found["upcoming"]:
        assert "overdue" not in item["message"]["en"]
        assert "просроч" not in item["message"]["ru"]
        assert "мерзімі өтті" not in item["message"]["kk"]
        assert item["due"] in item["message"]["en"]
