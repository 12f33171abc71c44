from datetime import date

import pytest

from registry.protocols import (
    EpisodeHistory,
    EpisodeState,
    Event,
    check_eligibility,
    compliance,
    compliance_of,
    episode_state,
    evaluate,
    first_deadline,
    shipped_documents,
)
from registry.protocols.icd10 import who_code
from tests.protocols.conftest import ADMISSION, compliant_events, day, dose, ramp


def history(events, **kwargs):
    return EpisodeHistory(ADMISSION, "F11.2", events, **kwargs)


def stage_change(offset, to):
    return Event("stage_change", day(offset), {"to": to})


def take_home(offset, doses=1):
    return Event("take_home", day(offset), {"medication": "methadone", "doses": doses})


def discharge(offset, reason):
    return Event("discharge", day(offset), {"reason": reason})


def weekly_induction(days):
    """Return screens, a review and an assessment that keep induction compliant for days."""
    base = [Event("review", day(0)), Event("assessment", day(0))]
    return base + [Event("screen", day(d)) for d in range(0, days, 7)]


def constant(days, amount=30):
    return [dose(d, amount) for d in range(days)]


def staircase():
    """Reach 60 mg within the limits: 30 x7, 40, 50 x7, 60 (days 0..15)."""
    amounts = [30] * 7 + [40] + [50] * 7 + [60]
    return [dose(d, a) for d, a in enumerate(amounts)]


CASES = [
    # (rule id, history events, new event)
    ("methadone.induction.first_dose_max", weekly_induction(1), dose(0, 40)),
    ("methadone.induction.daily_max", weekly_induction(17) + staircase(), dose(16, 61)),
    ("methadone.induction.max_increase_per_day", [*weekly_induction(2), dose(0, 30)], dose(1, 45)),
    (
        "methadone.induction.max_increase_per_week",
        [*weekly_induction(4), dose(0, 30), dose(1, 40), dose(2, 50)],
        dose(3, 55),
    ),
    ("methadone.maintenance.dose_range", compliant_events(40), dose(40, 55)),
    ("methadone.induction.methadone", weekly_induction(1), dose(0, 30, unit="ml")),
    ("methadone.unlisted_medication", weekly_induction(1), dose(0, 4, "buprenorphine")),
    (
        "methadone.induction.transitions",
        weekly_induction(8) + constant(7),
        stage_change(7, "maintenance"),
    ),
    (
        "methadone.induction.duration",
        weekly_induction(4) + constant(3),
        stage_change(3, "stabilisation"),
    ),
    ("methadone.induction.duration", weekly_induction(23) + constant(22), dose(22, 30)),
    ("methadone.screen.early", weekly_induction(1) + constant(10), dose(10, 30)),
    (
        "methadone.screen.maintenance",
        [e for e in compliant_events(60) if e.type != "screen" or e.at <= day(21)],
        dose(60, 60),
    ),
    ("methadone.review", compliant_events(38, frozenset({"review"})), dose(38, 60)),
    (
        "methadone.assessment.start",
        [e for e in compliant_events(15) if e.type != "assessment"],
        dose(15, 50),
    ),
    (
        "methadone.assessment.periodic",
        compliant_events(105, frozenset({"assessment"})),
        dose(105, 60),
    ),
    ("methadone.assessment.exit", compliant_events(40), discharge(40, "completed")),
    (
        "methadone.discharge.reason",
        [*compliant_events(40), Event("assessment", day(39))],
        discharge(40, "eloped"),
    ),
    ("methadone.take_home", weekly_induction(11) + constant(10), take_home(10)),
    ("methadone.take_home.days_1_90", compliant_events(60), take_home(60)),
    ("methadone.take_home.days_91_180", [*compliant_events(100), take_home(97, 2)], take_home(100)),
    (
        "methadone.take_home.days_181_270",
        [*compliant_events(200), take_home(197, 3)],
        take_home(200),
    ),
]


@pytest.mark.parametrize(("rule_id", "events", "new_event"), CASES, ids=[c[0] for c in CASES])
def test_breaking_one_rule_yields_exactly_its_id(methadone, rule_id, events, new_event):
    violations = evaluate(methadone, history(events), new_event)
    assert [v.rule_id for v in violations] == [rule_id]
    assert set(violations[0].message) == {"ru", "kk", "en"}
    assert "{" not in "".join(violations[0].message.values())


@pytest.mark.parametrize("offset", [0, 1, 20, 21, 60, 200, 364])
def test_a_compliant_history_breaks_nothing(methadone, offset):
    assert evaluate(methadone, history(compliant_events(offset)), dose(offset, ramp(offset))) == []


def test_compliant_take_home_is_accepted(methadone):
    events = [*compliant_events(100), take_home(98)]
    assert evaluate(methadone, history(events), take_home(100)) == []


def test_compliant_discharge_is_accepted(methadone):
    events = [*compliant_events(40), Event("assessment", day(35))]
    assert evaluate(methadone, history(events), discharge(40, "completed")) == []
    assert evaluate(methadone, history(compliant_events(40)), discharge(40, "died")) == []


def test_messages_are_filled_in_three_languages(methadone):
    [violation] = evaluate(methadone, history(weekly_induction(1)), dose(0, 40))
    assert "40" in violation.message["ru"] and "30" in violation.message["kk"]
    assert violation.details == {"limit": 30, "value": 40}
    assert violation.severity == "error"


def test_apply_rejects_an_error_but_keeps_a_warning(methadone_compiled):
    state = EpisodeState(methadone_compiled, ADMISSION)
    state.apply(Event("screen", day(0)))
    assert state.apply(dose(0, 40))[0].rule_id == "methadone.induction.first_dose_max"
    assert "methadone" not in state.tracks  # rejected: not folded
    assert state.apply(dose(0, 40), force=True)  # an audited override folds it
    assert state.tracks["methadone"].total == 40


def test_backdated_event_is_checked_against_the_history_up_to_its_day(methadone):
    events = [*weekly_induction(3), dose(0, 30), dose(2, 40)]
    assert evaluate(methadone, history(events), dose(1, 40)) == []


ELIGIBILITY = [
    ({"diagnosis": "F11.2", "age": 30}, []),
    ({"diagnosis": "F11.20", "age": 30}, []),
    ({"diagnosis": "F11.1", "age": 30}, ["methadone.eligibility.diagnosis"]),
    ({"diagnosis": "F11.2", "age": 17}, ["methadone.eligibility.min_age"]),
    ({"diagnosis": "F11.2", "age": None}, ["methadone.eligibility.min_age"]),
    (
        {"diagnosis": "F11.2", "age": 30, "conditions": {"ost_active_elsewhere"}},
        ["methadone.eligibility.ost_elsewhere"],
    ),
    (
        {"diagnosis": "F11.2", "age": 30, "other_diagnoses": ["K72.1"]},
        ["methadone.eligibility.hepatic_failure"],
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), ELIGIBILITY)
def test_eligibility(methadone, kwargs, expected):
    diagnosis, age = kwargs.pop("diagnosis"), kwargs.pop("age")
    assert [v.rule_id for v in check_eligibility(methadone, diagnosis, age, **kwargs)] == expected


def test_an_exclusion_names_the_code_it_matched_and_its_severity_is_an_error(methadone):
    found = check_eligibility(methadone, "F11.2", 30, other_diagnoses=["B20", "K72.10"])
    [hepatic] = found
    assert hepatic.details["code"] == "K72.1" and hepatic.severity == "error"
    assert "K72.1" in hepatic.message["en"]


def test_the_diagnosis_is_matched_before_secondary_diagnoses():
    psychosocial = shipped_documents()["psychosocial_outpatient"]
    found = check_eligibility(psychosocial, "F13.3", 30, other_diagnoses=["F10.4"])
    [withdrawal] = [v for v in found if v.rule_id == "psychosocial.eligibility.acute_withdrawal"]
    assert withdrawal.details["code"] == "F13.3"
    found = check_eligibility(psychosocial, "F13.2", 30, other_diagnoses=["K72.0", "F10.40"])
    assert [(v.rule_id, v.details["code"]) for v in found] == [
        ("psychosocial.eligibility.acute_withdrawal", "F10.4")
    ]


def test_who_codes_of_any_chapter_are_recognised_in_canonical_form():
    assert [who_code(c) for c in ("K72.0", "k720", " B20 ", "F11.22", "U07.1")] == [
        "K72.0",
        "K72.0",
        "B20",
        "F11.22",
        "U07.1",
    ]
    # The shape of a code is not enough: K72 has no .5, and there is no K99 nor I10.0.
    for text in ("K72.5", "K99.9", "I10.0", "K72.0A", "K72.012", "A00-A09", "XX", "", "K7"):
        assert who_code(text) is None, text


def test_age_from_birth_year_and_month():
    assert EpisodeHistory(date(2025, 3, 1), birth_year=2007, birth_month=3).age_at_admission() == 18
    assert (
        EpisodeHistory(date(2025, 2, 28), birth_year=2007, birth_month=3).age_at_admission() == 17
    )


def test_compliance_lists_overdue_and_upcoming(methadone):
    events = compliant_events(40, frozenset({"review"}))
    result = compliance(methadone, history(events), day(40))
    assert [(i.rule_id, i.due) for i in result.overdue] == [("methadone.review", day(30))]
    upcoming = {i.rule_id: i for i in result.upcoming}
    assert upcoming["methadone.screen.maintenance"].due == day(35 + 30)
    assert upcoming["methadone.assessment.periodic"].due == day(90)
    assert upcoming["methadone.assessment.periodic"].grace_until == day(104)
    assert "{" not in upcoming["methadone.screen.maintenance"].message["en"]


def test_compliance_shows_a_stage_running_late(methadone):
    result = compliance(methadone, history(weekly_induction(30)), day(25))
    assert "methadone.induction.duration" in {i.rule_id for i in result.overdue}


def test_compliance_is_empty_after_discharge(methadone):
    events = [*compliant_events(40), Event("assessment", day(39)), discharge(40, "completed")]
    result = compliance(methadone, history(events), day(200))
    assert result.overdue == [] and result.upcoming == []


@pytest.mark.parametrize(
    "name", ["buprenorphine_oat", "alcohol_withdrawal", "psychosocial_outpatient"]
)
def test_other_protocols_evaluate(name):
    from registry.protocols.shipped import shipped_documents

    doc = shipped_documents()[name]
    start = [Event("screen", day(0)), Event("review", day(0)), Event("visit", day(0))]
    start.append(Event("assessment", day(0)))
    first = {
        "buprenorphine_oat": dose(0, 4, "buprenorphine"),
        "alcohol_withdrawal": dose(0, 30, "chlordiazepoxide"),
        "psychosocial_outpatient": Event("visit", day(1)),
    }[name]
    assert evaluate(doc, EpisodeHistory(ADMISSION, "F10.2", start), first) == []


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("injection", {}),
        ("dose", {"medication": "methadone"}),
        ("dose", {"medication": "methadone", "amount": "30"}),
        ("dose", {"medication": "methadone", "amount": 0}),
        ("dose", {"medication": "methadone", "amount": True}),
        ("stage_change", {}),
        ("take_home", {"doses": 1.5}),
        ("discharge", {"reason": None}),
    ],
)
def test_malformed_events_are_refused(kind, payload):
    with pytest.raises(ValueError):
        Event(kind, day(0), payload)


def test_unknown_start_stage_is_refused(methadone_compiled):
    with pytest.raises(ValueError, match="no stage"):
        EpisodeState(methadone_compiled, ADMISSION, "detox")


def test_stage_specific_duties_start_when_the_stage_starts():
    from registry.protocols.shipped import shipped_documents

    doc = shipped_documents()["psychosocial_outpatient"]
    events = [Event("assessment", day(0)), Event("review", day(0))]
    events += [Event("visit", day(d)) for d in (0, 7, 14)]
    events.append(Event("stage_change", day(14), {"to": "active_treatment"}))
    events += [Event("visit", day(d)) for d in (21, 28, 35, 42)]
    events.append(Event("stage_change", day(45), {"to": "continuing_care"}))
    result = compliance(doc, EpisodeHistory(ADMISSION, "F12.2", events), day(50))
    due = {i.rule_id: i.due for i in result.overdue + result.upcoming}
    assert due["psychosocial.session.monthly"] == day(45 + 30)
    assert "psychosocial.session.weekly" not in due
    assert result.overdue == []


def test_take_home_supply_in_year_two_counts_over_fourteen_days(methadone):
    events = [*compliant_events(400), take_home(390, 6)]
    assert evaluate(methadone, history(events), take_home(400, 7)) == []
    [violation] = evaluate(methadone, history(events), take_home(400, 8))
    assert violation.rule_id == "methadone.take_home.year_2"
    assert violation.details["value"] == 14


def test_split_doses_add_up_to_the_daily_total(methadone_compiled):
    state = EpisodeState(methadone_compiled, ADMISSION)
    for event in weekly_induction(1):
        state.apply(event)
    assert state.apply(dose(0, 30)) == []
    assert state.apply(dose(0, 10)) == []  # a top-up after observation
    [violation] = state.check(dose(0, 15))
    assert violation.rule_id == "methadone.induction.first_day_max"
    assert violation.details["value"] == 55
    assert state.check(dose(0, 15)) == [violation]  # check() changes nothing
    assert state.tracks["methadone"].total == 40


def test_messages_name_stages_and_reasons_in_each_language(methadone):
    events = weekly_induction(8) + constant(7)
    [violation] = evaluate(methadone, history(events), stage_change(7, "maintenance"))
    assert "«Индукция»" in violation.message["ru"]
    assert "Тұрақтандыру" in violation.message["kk"]
    assert violation.details["stage"] == "induction"  # details keep the codes
    [violation] = evaluate(methadone, history(weekly_induction(1)), discharge(0, "eloped"))
    assert "умер" in violation.message["ru"] and "қайтыс болды" in violation.message["kk"]


def test_placeholders_are_plain_names_only():
    from registry.protocols.model import render

    assert render("{value} mg, {missing}", {"value": 40}) == "40 mg, {missing}"
    assert (
        render("{value.__class__} {0} {value!r}", {"value": 40})
        == "{value.__class__} {0} {value!r}"
    )


@pytest.mark.parametrize(
    "events",
    [
        [],
        weekly_induction(30),
        compliant_events(40, frozenset({"review"})),
        [*compliant_events(40), Event("assessment", day(39)), discharge(40, "completed")],
    ],
    ids=["admitted", "induction", "review-missed", "discharged"],
)
def test_first_deadline_is_the_earliest_grace_end_compliance_lists(methadone, events):
    state = episode_state(methadone, history(events))
    found = compliance_of(state, day(41))
    ends = [item.grace_until for item in found.overdue + found.upcoming]
    assert first_deadline(state) == (min(ends) if ends else None)


OVERDUE_WORDS = {"en": "overdue", "ru": "просроч", "kk": "мерзімі өтті"}


@pytest.mark.parametrize("name", ["methadone_oat", "buprenorphine_oat", "alcohol_withdrawal"])
def test_upcoming_items_say_when_they_are_due_never_that_they_are_late(name):
    from registry.protocols.shipped import shipped_documents

    doc = shipped_documents()[name]
    diagnosis = doc["eligibility"]["diagnoses"]["codes"][0].replace("*", "2")
    result = compliance(doc, EpisodeHistory(ADMISSION, diagnosis, []), ADMISSION)
    assert result.upcoming
    for item in result.upcoming:
        for lang, word in OVERDUE_WORDS.items():
            assert word not in item.message[lang].lower(), (item.rule_id, item.message[lang])
        assert item.due.isoformat() in item.message["en"]
        assert "{" not in "".join(item.message.values())


def test_overdue_items_keep_the_rules_own_overdue_wording(methadone):
    result = compliance(methadone, history(weekly_induction(1)), day(12))
    [screen] = [i for i in result.overdue if i.rule_id == "methadone.screen.early"]
    assert "overdue" in screen.message["en"] and "просрочен" in screen.message["ru"]


def test_an_upcoming_stage_end_names_the_stage_and_its_last_day(methadone):
    result = compliance(methadone, history(weekly_induction(1)), day(1))
    [stage] = [i for i in result.upcoming if i.event_type == "stage_change"]
    assert "Induction" in stage.message["en"] and day(21).isoformat() in stage.message["en"]
    assert "Индукция" in stage.message["ru"]
