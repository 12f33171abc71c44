"""Issue 21 in the engine: missed doses, the first day's total, take-homes by days attended."""

import copy

import pytest

from registry.protocols import EpisodeHistory, Event, evaluate, validate_document
from registry.protocols.shipped import shipped_documents
from tests.protocols.conftest import ADMISSION, compliant_events, day, dose


def history(events):
    return EpisodeHistory(ADMISSION, "F11.2", events)


def errors(found):
    return [v.rule_id for v in found if v.severity == "error" and not v.details.get("overdue")]


def review(offset):
    return Event("review", day(offset))


def take_home(offset, doses=1):
    return Event("take_home", day(offset), {"medication": "methadone", "doses": doses})


# compliant_events(40): daily doses to day 39 (60 mg from day 12), maintenance from day 21.
MAINTAINED = compliant_events(40)


def test_55_mg_after_an_eight_day_gap_restarts_at_induction_limits(methadone):
    found = evaluate(methadone, history([*MAINTAINED, review(48)]), dose(48, 55))
    assert errors(found) == ["methadone.missed_doses.reinduction"]
    [violation] = [v for v in found if v.rule_id == "methadone.missed_doses.reinduction"]
    assert violation.details["missed_days"] == 8 and violation.details["limit"] == 40
    assert "first dose at most 30 mg" in violation.message["en"]


def test_a_reinduction_day_holds_the_first_dose_and_the_days_total(methadone):
    events = [*MAINTAINED, review(48)]
    assert errors(evaluate(methadone, history(events), dose(48, 30))) == []
    assert errors(evaluate(methadone, history(events), dose(48, 35))) == [
        "methadone.missed_doses.reinduction"
    ]  # above the 30 mg first dose, under the 40 mg day
    top_up = [*events, dose(48, 30)]
    assert errors(evaluate(methadone, history(top_up), dose(48, 10))) == []
    assert errors(evaluate(methadone, history(top_up), dose(48, 15))) == [
        "methadone.missed_doses.reinduction"
    ]
    # The day after, the stage's own increase limits count from the restarted 30 mg.
    restarted = [*top_up, dose(49, 30)]
    assert errors(evaluate(methadone, history(restarted), dose(50, 40))) == []
    assert "methadone.maintenance.max_increase_per_day" in errors(
        evaluate(methadone, history(restarted), dose(50, 50))
    )


def test_a_reinduction_needs_a_review_since_the_last_dose(methadone):
    found = evaluate(methadone, history(MAINTAINED), dose(48, 30))
    assert errors(found) == ["methadone.missed_doses.reinduction"]
    assert found[-1].details["reviewed"] is False


def test_after_three_missed_days_the_dose_is_halved_after_a_review(methadone):
    # Last dose 60 mg on day 39; days 40-42 missed.
    assert errors(evaluate(methadone, history(MAINTAINED), dose(43, 30))) == [
        "methadone.missed_doses.3_days"
    ]  # no review yet
    reviewed = [*MAINTAINED, review(43)]
    assert errors(evaluate(methadone, history(reviewed), dose(43, 30))) == []
    found = evaluate(methadone, history(reviewed), dose(43, 35))
    assert errors(found) == ["methadone.missed_doses.3_days"]
    assert found[-1].details["limit"] == 30
    # Split doses are held to the same day's cap.
    assert errors(evaluate(methadone, history([*reviewed, dose(43, 20)]), dose(43, 15))) == [
        "methadone.missed_doses.3_days"
    ]


def test_after_four_missed_days_the_dose_is_at_most_40_mg_or_half(methadone):
    reviewed = [*MAINTAINED, review(44)]
    found = evaluate(methadone, history(reviewed), dose(44, 30))
    assert errors(found) == []
    doc = copy.deepcopy(methadone)
    doc["missed_doses"][1]["max_value"] = 25
    found = evaluate(doc, history(reviewed), dose(44, 30))
    assert errors(found) == ["methadone.missed_doses.4_days"]
    assert found[-1].details["limit"] == 25


def test_two_missed_days_need_nothing(methadone):
    assert errors(evaluate(methadone, history(MAINTAINED), dose(42, 60))) == []


def test_take_home_doses_cover_their_days(methadone):
    # Days 40-42 were taken at home: day 43 follows a dose without a gap.
    events = [*compliant_events(200), take_home(199, 3)]
    assert errors(evaluate(methadone, history(events), dose(203, 60))) == []
    assert errors(evaluate(methadone, history(events), dose(206, 60))) == [
        "methadone.missed_doses.3_days"
    ]


def test_the_first_days_total_is_capped_not_only_the_first_dose(methadone):
    found = evaluate(methadone, history([dose(0, 30)]), dose(0, 15))
    assert errors(found) == ["methadone.induction.first_day_max"]
    assert found[0].details == {"limit": 40, "value": 45}
    assert errors(evaluate(methadone, history([dose(0, 30)]), dose(0, 10))) == []
    # The next day only the daily and increase limits apply.
    assert errors(evaluate(methadone, history([dose(0, 30), dose(0, 10)]), dose(1, 50))) == []


def test_buprenorphine_first_day_and_missed_doses():
    doc = shipped_documents()["buprenorphine_oat"]

    def bup(offset, amount):
        return dose(offset, amount, "buprenorphine")

    assert errors(evaluate(doc, history([bup(0, 4), bup(0, 4)]), bup(0, 4))) == [
        "buprenorphine.induction.first_day_max"
    ]
    daily = [bup(d, 8) for d in range(10)]
    assert errors(evaluate(doc, history(daily), bup(15, 8))) == [
        "buprenorphine.missed_doses.5_days"
    ]
    assert errors(evaluate(doc, history([*daily, review(15)]), bup(15, 8))) == []
    assert errors(evaluate(doc, history([*daily, review(18)]), bup(18, 8))) == [
        "buprenorphine.missed_doses.reinduction"
    ]
    assert errors(evaluate(doc, history([*daily, review(18)]), bup(18, 4))) == []


def test_take_homes_count_days_attended_not_calendar_days(methadone):
    # 30 days of daily doses, then nothing for three months: day 101 is the 31st day attended.
    events = [e for e in compliant_events(30)]
    found = evaluate(methadone, history(events), take_home(100))
    assert errors(found) == ["methadone.take_home.days_1_90"]
    assert found[-1].details["day_in_treatment"] == 31
    # Attended every day, the same calendar day is in the second band.
    assert errors(evaluate(methadone, history(compliant_events(100)), take_home(100))) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda d: d["missed_doses"][0].update(medication="morphine"),
            "/missed_doses/0/medication",
        ),
        (lambda d: d["missed_doses"][2].update(reinduce="nowhere"), "/missed_doses/2/reinduce"),
        (lambda d: d["missed_doses"][2].update(reinduce="tapering"), "/missed_doses/2/reinduce"),
        (lambda d: d["missed_doses"][1].update(after_days=3), "/missed_doses/1/after_days"),
        (
            lambda d: [d["missed_doses"][0].pop(k) for k in ("max_percent", "review")],
            "/missed_doses/0",
        ),
        (
            lambda d: d["stages"][0]["medications"][0]["first_day_max"].update(value=20),
            "/stages/0/medications/0/first_dose_max/value",
        ),
        (
            lambda d: d["stages"][0]["medications"][0]["first_day_max"].update(value=70),
            "/stages/0/medications/0/first_day_max/value",
        ),
    ],
)
def test_missed_dose_rules_and_first_day_limits_are_checked(methadone, change, path):
    change(methadone)
    methadone["status"] = "draft"
    assert path in {p.path for p in validate_document(methadone)}
