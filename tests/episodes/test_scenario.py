"""The methadone scenario of issue 5, and the OAT double-enrolment check across clinics."""

from datetime import UTC, datetime, timedelta

from registry import clock
from registry.audit.models import AuditEntry
from tests.crypto.iin_helpers import make_iin
from tests.episodes.conftest import TODAY, moment

ADMITTED = TODAY - timedelta(days=20)


def day(n: int):
    return ADMITTED + timedelta(days=n)


def freeze_on(n: int) -> None:
    """Freeze the clock at 10:00 Almaty on day n of the episode."""
    on = day(n)
    clock.freeze(datetime(on.year, on.month, on.day, 5, tzinfo=UTC))


def event(client, headers, ref, kind, n, payload=None, **extra):
    body = {"type": kind, "occurred_at": moment(day(n)), "payload": payload or {}, **extra}
    return client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)


def dose(client, headers, ref, n, amount, **extra):
    payload = {"medication": "methadone", "amount": amount, "unit": "mg"}
    return event(client, headers, ref, "dose", n, payload, **extra)


def test_methadone_episode_from_admission_to_discharge(
    client, session, clinician, patient, open_episode
):
    headers = clinician()
    opened = open_episode(headers, patient(headers), admitted_on=ADMITTED.isoformat())
    assert opened.status_code == 201, opened.json
    ref = opened.json["id"]
    assert opened.json["oat"] is True and opened.json["stage"] == "induction"
    assert opened.json["protocol_version"] == 1

    for kind in ("screen", "review", "assessment"):
        payload = {"results": {"opioids": "positive"}} if kind == "screen" else None
        assert event(client, headers, ref, kind, 0, payload).status_code == 201
    # Dosed up within the rules: 30, 30, 40, 50 (≤ 30 first, ≤ 10/day, ≤ 20/week).
    for n, amount in ((0, 30), (1, 30), (4, 40), (5, 50)):
        answer = dose(client, headers, ref, n, amount)
        assert answer.status_code == 201, answer.json

    refused = dose(client, headers, ref, 6, 60)  # 30 above the week's lowest total of 30
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "payload.amount": ["methadone.induction.max_increase_per_week"]
    }
    assert [v["rule_id"] for v in refused.json["violations"]] == [
        "methadone.induction.max_increase_per_week"
    ]
    assert refused.json["violations"][0]["message"]["en"]

    overridden = dose(client, headers, ref, 6, 60, override_reason="persistent_withdrawal")
    assert overridden.status_code == 201, overridden.json
    assert overridden.json["override_reason"] == "persistent_withdrawal"
    assert (
        overridden.json["violations"][0]["rule_id"] == "methadone.induction.max_increase_per_week"
    )

    assert event(client, headers, ref, "review", 7).status_code == 201
    moved = event(client, headers, ref, "stage_change", 7, {"to": "stabilisation"})
    assert moved.status_code == 201, moved.json

    freeze_on(8)
    early = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json
    assert "methadone.screen.early" in [i["rule_id"] for i in early["upcoming"]]
    assert early["overdue"] == []

    freeze_on(10)  # the weekly screen was due on day 7, grace until day 9
    late = client.get(f"/api/v1/episodes/{ref}/compliance", headers=headers).json
    overdue = [i for i in late["overdue"] if i["rule_id"] == "methadone.screen.early"]
    assert overdue and overdue[0]["due"] == day(7).isoformat()
    # The episode keeps its first deadline, so the overdue filter needs no job run.
    listed = client.get("/api/v1/episodes?overdue=true", headers=headers).json
    assert [e["id"] for e in listed["items"]] == [ref]

    # After 3 days without a dose (days 7-9) the day's total is at most half of the last
    # dosing day's 60 mg (issue 21), whatever the overdue screen.
    halved = dose(client, headers, ref, 10, 50)
    assert halved.status_code == 422
    assert halved.json["errors"] == {"payload.amount": ["methadone.missed_doses.3_days"]}
    # An overdue screen is a notice: the dose is still recorded.
    dosed = dose(client, headers, ref, 10, 30)
    assert dosed.status_code == 201, dosed.json
    assert any(v["overdue"] for v in dosed.json["violations"])

    freeze_on(20)  # the baseline assessment of day 0 is too old to serve as the exit one
    refused = client.post(
        f"/api/v1/episodes/{ref}/discharge", headers=headers, json={"reason": "completed"}
    )
    assert refused.status_code == 422
    assert refused.json["errors"] == {"assessment": ["methadone.assessment.exit"]}
    discharged = client.post(
        f"/api/v1/episodes/{ref}/discharge",
        headers=headers,
        json={"reason": "completed", "assessment": {"timepoint": "exit", "quality_of_life": 14}},
    )
    assert discharged.status_code == 200, discharged.json
    body = discharged.json
    assert body["status"] == "discharged" and body["discharge_reason"] == "completed"
    assert body["length_of_stay"] == 20 and body["override_count"] == 1
    assert [e["type"] for e in body["timeline"]][-2:] == ["assessment", "discharge"]
    after = dose(client, headers, ref, 10, 50)
    assert after.status_code == 409

    actions = [a for (a,) in session.query(AuditEntry.action).filter(AuditEntry.object_id == ref)]
    assert actions.count("episode.override") == 1
    assert "episode.discharge" in actions and "episode.open" in actions


def test_second_oat_episode_elsewhere_refused_until_discharge(
    clinician, patient, open_episode, client
):
    iin = make_iin(TODAY.replace(year=1980), True, 4242) or make_iin(
        TODAY.replace(year=1980), True, 4243
    )
    first, second = clinician(), clinician()
    at_first = patient(first, {"iin": iin})
    at_second = patient(second, {"iin": iin})
    opened = open_episode(first, at_first)
    assert opened.status_code == 201, opened.json

    refused = open_episode(second, at_second, protocol="buprenorphine_oat")
    assert refused.status_code == 409
    assert [v["rule_id"] for v in refused.json["violations"]] == [
        "buprenorphine.eligibility.ost_elsewhere"
    ]
    assert "clinic" not in str(refused.json["violations"][0]["details"]).lower()
    # Care that is not OAT may start elsewhere meanwhile.
    psychosocial = open_episode(second, at_second, protocol="psychosocial_outpatient")
    assert psychosocial.status_code == 201, psychosocial.json
    facts = client.get(f"/api/v1/patients/{at_second}", headers=second).json
    assert facts["ost_active_elsewhere"] is True
    assert [e["protocol"] for e in facts["episodes"]] == ["psychosocial_outpatient"]

    gone = client.post(
        f"/api/v1/episodes/{opened.json['id']}/discharge",
        headers=first,
        json={"reason": "dropped_out"},
    )
    assert gone.status_code == 200, gone.json
    allowed = open_episode(second, at_second, protocol="buprenorphine_oat")
    assert allowed.status_code == 201, allowed.json
    # Now the first clinic is the one that is refused.
    again = open_episode(first, at_first)
    assert again.status_code == 409


def test_merged_persons_show_each_others_episodes(client, clinician, patient, open_episode):
    headers = clinician()
    survivor, merged = patient(headers), patient(headers)
    ref = open_episode(headers, merged).json["id"]
    answer = client.post(
        "/api/v1/patients/merges", headers=headers, json={"survivor": survivor, "merged": merged}
    )
    assert answer.status_code == 201, answer.json
    facts = client.get(f"/api/v1/patients/{survivor}", headers=headers).json
    assert [e["id"] for e in facts["episodes"]] == [ref]
    # The merged person's open methadone episode counts for the survivor too.
    assert open_episode(headers, survivor).status_code == 409
