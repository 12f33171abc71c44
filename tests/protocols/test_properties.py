import copy
import json
from datetime import timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.protocols import (
    EpisodeHistory,
    EpisodeState,
    Event,
    compile_protocol,
    compliance,
    evaluate,
    validate_document,
)
from registry.protocols.shipped import shipped_documents
from tests.protocols.conftest import ADMISSION, day, dose

METHADONE = shipped_documents()["methadone_oat"]
STABILISATION = METHADONE["stages"][1]["medications"][0]
WEEKLY = STABILISATION["max_increase_per_week"]["value"]
DAILY = STABILISATION["max_increase_per_day"]["value"]
DAILY_MAX = STABILISATION["daily_max"]["value"]

# (days since the previous dose, amount): several doses a day, gaps, big and small steps.
dose_steps = st.lists(
    st.tuples(st.integers(0, 3), st.integers(1, 60) | st.sampled_from([2.5, 7.5])),
    min_size=1,
    max_size=60,
)


def dose_events(steps):
    offset, events = 0, []
    for gap, amount in steps:
        offset += gap
        events.append(dose(offset, amount))
    return events


def accepted_totals(steps):
    """Apply doses in the stabilisation stage; return daily totals of the accepted ones."""
    state = EpisodeState(compile_protocol(METHADONE), ADMISSION, "stabilisation")
    totals: dict[int, float] = {}
    for event in dose_events(steps):
        if not [v for v in state.apply(event) if v.severity == "error"]:
            totals[event.day] = totals.get(event.day, 0) + event.payload["amount"]
    return totals


@settings(max_examples=300, deadline=None)
@given(dose_steps)
def test_accepted_doses_never_exceed_the_limits(steps):
    totals = accepted_totals(steps)
    days = sorted(totals)
    for i, first in enumerate(days):
        assert totals[first] <= DAILY_MAX
        for later in days[i + 1 :]:
            if later - first > 6:
                break
            assert totals[later] - totals[first] <= WEEKLY
    for before, after in pairwise(days):
        assert totals[after] - totals[before] <= DAILY


events_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("dose"), st.integers(0, 120), st.integers(1, 50)),
        st.tuples(
            st.sampled_from(["screen", "review", "assessment", "visit"]), st.integers(0, 120)
        ),
        st.tuples(
            st.just("stage_change"),
            st.integers(0, 120),
            st.sampled_from(["induction", "stabilisation", "maintenance", "tapering", "x"]),
        ),
        st.tuples(st.just("take_home"), st.integers(0, 120), st.integers(1, 3)),
    ),
    max_size=40,
)


def to_events(raw):
    events = []
    for item in sorted(raw, key=lambda r: r[1]):
        kind, offset = item[0], item[1]
        if kind == "dose":
            events.append(dose(offset, item[2]))
        elif kind == "stage_change":
            events.append(Event(kind, day(offset), {"to": item[2]}))
        elif kind == "take_home":
            events.append(Event(kind, day(offset), {"medication": "methadone", "doses": item[2]}))
        else:
            events.append(Event(kind, day(offset)))
    return events


@settings(max_examples=200, deadline=None)
@given(events_strategy)
def test_the_fast_path_agrees_with_check(raw):
    state = EpisodeState(compile_protocol(METHADONE), ADMISSION)
    for event in to_events(raw):
        expected = state.check(event)
        assert state.apply(event) == expected


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.integers(0, 130), st.integers(1, 80))
def test_evaluation_is_deterministic_and_matches_the_incremental_state(raw, offset, amount):
    events = to_events(raw)
    last = max((e.day - ADMISSION.toordinal() for e in events), default=0)
    new = dose(max(offset, last), amount)
    first = evaluate(METHADONE, EpisodeHistory(ADMISSION, "F11.2", events), new)
    assert (
        evaluate(copy.deepcopy(METHADONE), EpisodeHistory(ADMISSION, "F11.2", events), new) == first
    )
    # Histories may come in any order of days; events of one day keep their order.
    shuffled = sorted(events, key=lambda e: -e.day)
    assert evaluate(METHADONE, EpisodeHistory(ADMISSION, "F11.2", shuffled), new) == first
    state = EpisodeState(compile_protocol(METHADONE), ADMISSION).fold(events)
    assert state.check(new) == first


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["screen", "review", "assessment"]), st.integers(0, 200))),
    st.sampled_from(["screen", "review", "assessment"]),
    st.integers(0, 60),
)
def test_recording_a_required_event_never_brings_its_due_date_forward(raw, kind, later):
    events = [Event(k, day(o)) for k, o in sorted(raw, key=lambda r: r[1])]
    last = max((o for _, o in raw), default=0)
    today = day(last + later + 1)
    before = compliance(METHADONE, EpisodeHistory(ADMISSION, "F11.2", events), today)
    events.append(Event(kind, day(last + later)))
    after = compliance(METHADONE, EpisodeHistory(ADMISSION, "F11.2", events), today)
    due_before = {i.rule_id: i.due for i in before.overdue + before.upcoming}
    due_after = {i.rule_id: i.due for i in after.overdue + after.upcoming}
    for rule_id, due in due_after.items():
        if rule_id in due_before:
            assert due >= due_before[rule_id]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400))
def test_due_dates_do_not_move_as_days_pass(offset):
    events = [Event("screen", day(0)), Event("review", day(0))]
    history = EpisodeHistory(ADMISSION, "F11.2", events)
    now = compliance(METHADONE, history, day(offset))
    later = compliance(METHADONE, history, day(offset) + timedelta(days=30))
    due_now = {i.rule_id: i.due for i in now.overdue + now.upcoming}
    due_later = {i.rule_id: i.due for i in later.overdue + later.upcoming}
    assert due_now == due_later


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
top_keys = st.sampled_from(sorted(METHADONE))


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_validation_never_raises_on_any_json(value):
    assert isinstance(validate_document(value), list)


@settings(max_examples=200, deadline=None)
@given(top_keys, json_values)
def test_validation_never_raises_on_a_damaged_protocol(key, value):
    doc = copy.deepcopy(METHADONE)
    doc[key] = value
    if not validate_document(doc):
        compile_protocol(doc)  # whatever validates must compile


@settings(max_examples=200, deadline=None)
@given(events_strategy, events_strategy)
def test_a_restored_snapshot_goes_on_exactly_like_the_folded_state(raw, later_raw):
    protocol = compile_protocol(METHADONE)
    events = to_events(raw)
    last = max((e.day for e in events), default=ADMISSION.toordinal())
    later = [e for e in to_events(later_raw) if e.day >= last]
    folded = EpisodeState(protocol, ADMISSION).fold(events)
    # Through JSON, as the episode row stores it.
    restored = EpisodeState.restore(protocol, json.loads(json.dumps(folded.snapshot())))
    assert restored.snapshot() == folded.snapshot()
    assert restored.alarm == folded.alarm
    for event in later:
        assert restored.check(event) == folded.check(event)
        assert restored.apply(event, force=True) == folded.apply(event, force=True)
        assert restored.snapshot() == folded.snapshot()
    assert [restored.due(i) for i in range(len(protocol.clocks))] == [
        folded.due(i) for i in range(len(protocol.clocks))
    ]


@settings(max_examples=100, deadline=None)
@given(events_strategy)
def test_fold_checking_judges_each_event_as_applying_it_in_turn_would(raw):
    protocol = compile_protocol(METHADONE)
    events = to_events(raw)
    stepped = EpisodeState(protocol, ADMISSION)
    expected = {
        i: [v for v in stepped.apply(event, force=True) if not v.details.get("overdue")]
        for i, event in enumerate(events)
    }
    checking = EpisodeState(protocol, ADMISSION)
    assert checking.fold_checking(events, set(expected)) == expected
    assert checking.snapshot() == stepped.snapshot()
