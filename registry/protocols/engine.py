"""The rule engine's pure entry points: eligibility, evaluation of an event, compliance."""

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from registry.protocols.compiled import UPCOMING, CompiledProtocol, Rule, compile_protocol
from registry.protocols.icd10 import matches, normalise
from registry.protocols.model import (
    Compliance,
    ComplianceItem,
    EpisodeHistory,
    Event,
    Violation,
)
from registry.protocols.state import EpisodeState

Protocol = Mapping[str, Any] | CompiledProtocol


def check_eligibility(
    protocol: Protocol,
    diagnosis: str,
    age: int | None,
    *,
    other_diagnoses: Collection[str] = (),
    conditions: Collection[str] = (),
) -> list[Violation]:
    """Return the eligibility rules a prospective episode breaks; empty means eligible.

    An exclusion by codes is checked against the diagnosis and the other (secondary)
    diagnoses; its violation names the code it matched in `details["code"]`.
    """
    compiled = compile_protocol(protocol)
    code = normalise(diagnosis)
    out = []
    if not matches(code, *compiled.diagnosis_codes):
        out.append(compiled.diagnosis.violation(diagnosis=diagnosis))
    if compiled.min_age is not None and (age is None or age < compiled.min_age.value):
        out.append(compiled.min_age.rule.violation(age=age if age is not None else "?"))
    codes = [code, *(normalise(c) for c in other_diagnoses)]
    for exclusion in compiled.exclusions:
        if exclusion.condition is not None and exclusion.condition in conditions:
            out.append(exclusion.rule.violation(diagnosis=diagnosis))
            continue
        # The first code the exclusion names, the main diagnosis before the others.
        hit = next((c for c in codes if matches(c, exclusion.exact, exclusion.categories)), None)
        if hit is not None:
            out.append(exclusion.rule.violation(diagnosis=diagnosis, code=hit))
    return out


def episode_state(
    protocol: Protocol, history: EpisodeHistory, until: int | None = None
) -> EpisodeState:
    """Fold a history (in day order, up to day ordinal `until`) into an EpisodeState."""
    compiled = compile_protocol(protocol)
    state = EpisodeState(compiled, history.admission, history.start_stage)
    events = sorted(history.events, key=lambda e: e.day)  # stable: same-day order is kept
    return state.fold(e for e in events if until is None or e.day <= until)


def evaluate(protocol: Protocol, history: EpisodeHistory, new_event: Event) -> list[Violation]:
    """Return the violations new_event causes given the episode's earlier events."""
    return episode_state(protocol, history, until=new_event.day).check(new_event)


def compliance_of(state: EpisodeState, today: date, messages: bool = True) -> Compliance:
    """Split the required events of a folded state into overdue and upcoming on today.

    Without `messages` the items carry no words (an empty mapping): the daily job stores only
    rules and dates, and rendering three languages per item was most of its time.
    """
    day = today.toordinal()
    overdue, upcoming = [], []
    for i, clock in enumerate(state.protocol.clocks):
        due = state.due(i)
        if due is not None:
            late = day > due + clock.grace
            item = _item(clock.rule, clock.event, due, clock.grace, late, messages)
            (overdue if late else upcoming).append(item)
    stage_due = state.stage_due()
    if stage_due is not None and state.stage.duration is not None:
        rule, late = state.stage.duration, day > stage_due
        details = {"stage": state.stage.id, "days": day - state.stage_since}
        item = _item(rule, "stage_change", stage_due, 0, late, messages, **details)
        (overdue if late else upcoming).append(item)
    key = lambda item: (item.due, item.rule_id)  # noqa: E731
    return Compliance(sorted(overdue, key=key), sorted(upcoming, key=key))


def first_deadline(state: EpisodeState) -> date | None:
    """Return the last day of grace of the earliest required event or stage change, if any.

    The same items compliance_of lists, without rendering their messages (every event write
    needs this day; few need the messages).
    """
    ends = [
        due + clock.grace
        for i, clock in enumerate(state.protocol.clocks)
        if (due := state.due(i)) is not None
    ]
    stage_due = state.stage_due()
    if stage_due is not None and state.stage.duration is not None:
        ends.append(stage_due)
    return date.fromordinal(min(ends)) if ends else None


def _item(
    rule: Rule, event: str, due: int, grace: int, late: bool, messages: bool, **details: Any
) -> ComplianceItem:
    """Return a compliance item: a late one in the rule's words, an upcoming one as a due date."""
    due_date, until = date.fromordinal(due), date.fromordinal(due + grace)
    if not messages:
        message = {}
    elif late:
        message = rule.violation(due=due_date, grace_until=until, **details).message
    else:
        message = rule.notice(UPCOMING[event], due=due_date, grace_until=until, **details)
    return ComplianceItem(rule.id, event, due_date, until, message)


def compliance(protocol: Protocol, history: EpisodeHistory, today: date) -> Compliance:
    """Return overdue and upcoming required events of an episode on today."""
    state = episode_state(protocol, history, until=today.toordinal())
    return compliance_of(state, today)
