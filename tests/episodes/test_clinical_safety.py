"""Issue 21, through the API: missed doses, day-one totals, backdated events, compliance wording."""

from datetime import timedelta

from tests.episodes.conftest import TODAY, moment

ADMITTED = TODAY - timedelta(days=30)
# Within every induction limit to 55 mg: 30 mg for a week, then 40, 50 (days 8-12), 55.
RAMP = [30] * 7 + [40] + [50] * 5 + [55, 55]


def day(n: int, admitted=ADMITTED):
    return admitted + timedelta(days=n)


def event(client, headers, ref, kind, n, payload=None, admitted=ADMITTED):
    body = {"type": kind, "occurred_at": moment(day(n, admitted)), "payload": payload or {}}
    return client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)


def dose(client, headers, ref, n, amount, admitted=ADMITTED):
    payload = {"medication": "methadone", "amount": amount, "unit": "mg"}
    return event(client, headers, ref, "dose", n, payload, admitted)


def opened(client, clinician, patient, open_episode, admitted=ADMITTED) -> tuple[dict, str]:
    """Open a methadone episode admitted on `admitted`; return (headers, episode id)."""
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


def ramped(client, clinician, patient, open_episode) -> tuple[dict, str]:
    """Open an episode admitted on day 0 and dose it up to 55 mg on days 13 and 14."""
    headers, ref = opened(client, clinician, patient, open_episode)
    for n, amount in enumerate(RAMP):
        answer = dose(client, headers, ref, n, amount)
        assert answer.status_code == 201, (n, answer.json)
    return headers, ref


def test_55_mg_after_an_eight_day_gap_is_refused(client, clinician, patient, open_episode):
    headers, ref = ramped(client, clinician, patient, open_episode)
    assert event(client, headers, ref, "review", 23).status_code == 201
    refused = dose(client, headers, ref, 23, 55)  # days 15-22 without a dose
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == {"payload.amount": ["methadone.missed_doses.reinduction"]}
    assert refused.json["violations"][-1]["details"]["missed_days"] == 8
    assert dose(client, headers, ref, 23, 30).status_code == 201  # induction starts again


def test_take_homes_after_three_months_without_a_dose_are_refused(
    client, clinician, patient, open_episode
):
    admitted = TODAY - timedelta(days=110)
    headers, ref = opened(client, clinician, patient, open_episode, admitted)
    for n in range(30):
        if n in (7, 21):
            to = "stabilisation" if n == 7 else "maintenance"
            answer = event(client, headers, ref, "stage_change", n, {"to": to}, admitted)
            assert answer.status_code == 201, answer.json
        assert dose(client, headers, ref, n, 30, admitted).status_code == 201
    payload = {"medication": "methadone", "doses": 1}
    # Day 101 of the calendar, the 31st day attended.
    refused = event(client, headers, ref, "take_home", 100, payload, admitted)
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == {"payload.doses": ["methadone.take_home.days_1_90"]}
    assert refused.json["violations"][-1]["details"]["day_in_treatment"] == 31


def test_30_then_15_mg_on_the_first_day_is_refused(client, clinician, patient, open_episode):
    headers, ref = opened(client, clinician, patient, open_episode)
    assert dose(client, headers, ref, 0, 30).status_code == 201
    refused = dose(client, headers, ref, 0, 15)
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"] == {"payload.amount": ["methadone.induction.first_day_max"]}
    assert refused.json["violations"][0]["details"] == {"limit": 40, "value": 45}
    assert dose(client, headers, ref, 0, 10).status_code == 201


def test_a_backdated_dose_flags_the_jump_it_makes_later(client, clinician, patient, open_episode):
    # 55 mg on days 13, 14 and 16; then 20 mg dated day 15 is recorded: it passes its own check
    # (a decrease), and the 55 mg of day 16 becomes a 35 mg jump that compliance must show.
    headers, ref = ramped(client, clinician, patient, open_episode)
    later = dose(client, headers, ref, 16, 55)
    assert later.status_code == 201
    before = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json
    assert before["rechecked"] == []
    backdated = dose(client, headers, ref, 15, 20)
    assert backdated.status_code == 201, backdated.json
    found = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json["rechecked"]
    by_rule = {item["rule_id"]: item for item in found}
    assert set(by_rule) == {
        "methadone.induction.max_increase_per_day",
        "methadone.induction.max_increase_per_week",
    }
    jump = by_rule["methadone.induction.max_increase_per_day"]
    assert jump["day"] == day(16).isoformat() and jump["event_type"] == "dose"
    assert jump["event"] == later.json["id"]
    assert jump["details"]["value"] == 35 and jump["severity"] == "error"
    # The episode read shows the same, and correcting the backdated dose clears it.
    read = client.get(f"/api/v1/episodes/{ref}", headers=headers).json
    assert read["compliance"]["rechecked"] == found
    body = {
        "type": "dose",
        "occurred_at": moment(day(15)),
        "payload": {"medication": "methadone", "amount": 50, "unit": "mg"},
        "supersedes": backdated.json["id"],
    }
    fixed = client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)
    assert fixed.status_code == 201, fixed.json
    again = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json
    assert again["rechecked"] == []
