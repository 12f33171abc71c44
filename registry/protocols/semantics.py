"""Semantic checks of a protocol document beyond what the JSON Schema can express."""

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from registry.protocols.document import Problem, pointer
from registry.protocols.icd10 import pattern_problem

Path = list[Any]


def _items(value: Any) -> list[tuple[int, dict]]:
    """Return (index, item) for the dict items of a list; tolerate any malformed value."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _number(obj: Any, *keys: str) -> float | None:
    """Return a nested number, or None when absent or not a number."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    is_number = isinstance(obj, int | float) and not isinstance(obj, bool)
    return obj if is_number else None


def iter_rules(node: Any, path: Path | None = None) -> Iterator[tuple[Path, dict]]:
    """Yield (path, rule) for every object that has an id and a message: the rules."""
    path = path or []
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and "message" in node:
            yield path, node
        for key, value in node.items():
            yield from iter_rules(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_rules(value, [*path, i])


def _duplicate_ids(doc: dict) -> Iterator[Problem]:
    seen: set[str] = set()
    for path, rule in iter_rules(doc):
        if rule["id"] in seen:
            yield Problem(pointer([*path, "id"]), f"duplicate rule id {rule['id']!r}")
        seen.add(rule["id"])
    for section in ("stages", "sources"):
        names: set[Any] = set()
        for i, item in _items(doc.get(section)):
            if item.get("id") in names:
                yield Problem(pointer([section, i, "id"]), f"duplicate id {item.get('id')!r}")
            names.add(item.get("id"))


def _stage_ids(doc: dict) -> set[str]:
    return {s["id"] for _, s in _items(doc.get("stages")) if isinstance(s.get("id"), str)}


def _unknown_stages(refs: Any, path: Path, stages: set[str]) -> Iterator[Problem]:
    if isinstance(refs, list):
        for i, ref in enumerate(refs):
            if isinstance(ref, str) and ref not in stages:
                yield Problem(pointer([*path, i]), f"unknown stage {ref!r}")


def _stage_references(doc: dict) -> Iterator[Problem]:
    stages = _stage_ids(doc)
    initial = doc.get("initial_stage")
    if isinstance(initial, str) and initial not in stages:
        yield Problem("/initial_stage", f"unknown stage {initial!r}")
    for i, stage in _items(doc.get("stages")):
        transitions = stage.get("transitions")
        if isinstance(transitions, dict):
            path = ["stages", i, "transitions", "to"]
            yield from _unknown_stages(transitions.get("to"), path, stages)
    for i, rule in _items(doc.get("required_events")):
        yield from _unknown_stages(rule.get("stages"), ["required_events", i, "stages"], stages)
    take_home = doc.get("take_home")
    if isinstance(take_home, dict):
        yield from _unknown_stages(take_home.get("stages"), ["take_home", "stages"], stages)


def _durations(doc: dict) -> Iterator[Problem]:
    for i, stage in _items(doc.get("stages")):
        low, high = _number(stage, "duration", "min_days"), _number(stage, "duration", "max_days")
        if low is not None and high is not None and low > high:
            path = pointer(["stages", i, "duration", "min_days"])
            yield Problem(path, f"min_days {low} is above max_days {high}")


def _limit_pairs(med: dict) -> Iterator[tuple[str, str, str]]:
    """Yield (lower, upper, message) pairs of limits that must be ordered."""
    yield "first_dose_max", "daily_max", "first dose maximum is above the daily maximum"
    yield "first_dose_max", "first_day_max", "first dose maximum is above the first day's maximum"
    yield "first_day_max", "daily_max", "first day's maximum is above the daily maximum"
    yield "dose_range.min", "dose_range.max", "dose range minimum is above its maximum"
    yield "dose_range.max", "daily_max", "dose range maximum is above the daily maximum"
    yield (
        "max_increase_per_day",
        "max_increase_per_week",
        "daily increase limit is above the weekly increase limit",
    )


def _limit(med: dict, name: str) -> float | None:
    if "." in name:
        return _number(med, *name.split("."))
    return _number(med, name, "value")


def _medication_limits(doc: dict) -> Iterator[Problem]:
    units: dict[str, str] = {}
    for i, stage in _items(doc.get("stages")):
        names: set[str] = set()
        for j, med in _items(stage.get("medications")):
            path = ["stages", i, "medications", j]
            for lower, upper, message in _limit_pairs(med):
                low, high = _limit(med, lower), _limit(med, upper)
                if low is not None and high is not None and low > high:
                    field = lower.split(".") if "." in lower else [lower, "value"]
                    yield Problem(pointer([*path, *field]), f"{message} ({low} > {high})")
            name, unit = med.get("medication"), med.get("unit")
            if isinstance(name, str):
                if name in names:
                    yield Problem(pointer([*path, "medication"]), f"{name!r} listed twice")
                names.add(name)
                if isinstance(unit, str) and units.setdefault(name, unit) != unit:
                    message = f"{name!r} uses unit {unit!r} here but {units[name]!r} elsewhere"
                    yield Problem(pointer([*path, "unit"]), message)


def _band_problems(doc: dict) -> Iterator[Problem]:
    take_home = doc.get("take_home")
    if not isinstance(take_home, dict):
        return
    bands = []
    for i, band in _items(take_home.get("bands")):
        start, end = _number(band, "from_day"), _number(band, "to_day")
        if start is None:
            continue
        if end is not None and end < start:
            path = pointer(["take_home", "bands", i, "to_day"])
            yield Problem(path, f"to_day {end} is before from_day {start}")
            continue
        bands.append((start, float("inf") if end is None else end, i))
    bands.sort()
    for (_, end, i), (start, _, j) in pairwise(bands):
        if start <= end:
            message = f"band overlaps band {i} (day {start} is in both)"
            yield Problem(pointer(["take_home", "bands", j, "from_day"]), message)
    medication = take_home.get("medication")
    listed = {
        med.get("medication")
        for _, stage in _items(doc.get("stages"))
        for _, med in _items(stage.get("medications"))
    }
    if isinstance(medication, str) and medication not in listed:
        message = f"medication {medication!r} is not given in any stage"
        yield Problem("/take_home/medication", message)


def _code_problems(doc: dict) -> Iterator[Problem]:
    eligibility = doc.get("eligibility")
    if not isinstance(eligibility, dict):
        return
    diagnoses = eligibility.get("diagnoses")
    if isinstance(diagnoses, dict) and isinstance(diagnoses.get("codes"), list):
        for i, code in enumerate(diagnoses["codes"]):
            problem = pattern_problem(code, substance_only=True)
            if problem:
                yield Problem(pointer(["eligibility", "diagnoses", "codes", i]), problem)
    for i, exclusion in _items(eligibility.get("exclusions")):
        path = ["eligibility", "exclusions", i]
        if "codes" not in exclusion and "condition" not in exclusion:
            yield Problem(pointer(path), "an exclusion needs codes or a condition")
        if isinstance(exclusion.get("codes"), list):
            for j, code in enumerate(exclusion["codes"]):
                problem = pattern_problem(code, substance_only=False)
                if problem:
                    yield Problem(pointer([*path, "codes", j]), problem)


def _exit_reasons(doc: dict) -> Iterator[Problem]:
    discharge = doc.get("discharge")
    reasons = discharge.get("reasons") if isinstance(discharge, dict) else None
    exempt = doc.get("outcome_assessments")
    exempt = exempt.get("at_exit") if isinstance(exempt, dict) else None
    exempt = exempt.get("exempt_reasons") if isinstance(exempt, dict) else None
    if isinstance(reasons, list) and isinstance(exempt, list):
        for i, reason in enumerate(exempt):
            if reason not in reasons:
                path = pointer(["outcome_assessments", "at_exit", "exempt_reasons", i])
                yield Problem(path, f"{reason!r} is not an allowed discharge reason")


_MISSED_ACTIONS = ("max_percent", "max_value", "reinduce")


def _stage_medications(doc: dict) -> dict[str, dict[str, dict]]:
    """Return {stage id: {medication: its entry}} for the well-formed stages."""
    return {
        stage["id"]: {m.get("medication"): m for _, m in _items(stage.get("medications"))}
        for _, stage in _items(doc.get("stages"))
        if isinstance(stage.get("id"), str)
    }


def _missed_dose_problems(doc: dict) -> Iterator[Problem]:
    stages = _stage_medications(doc)
    given = {name for meds in stages.values() for name in meds}
    seen: set[tuple[Any, Any]] = set()
    for i, rule in _items(doc.get("missed_doses")):
        path = ["missed_doses", i]
        medication, after = rule.get("medication"), rule.get("after_days")
        if isinstance(medication, str) and medication not in given:
            message = f"medication {medication!r} is not given in any stage"
            yield Problem(pointer([*path, "medication"]), message)
        if (medication, after) in seen:
            message = f"another missed-dose rule of {medication!r} starts after {after} days"
            yield Problem(pointer([*path, "after_days"]), message)
        seen.add((medication, after))
        if not any(key in rule for key in _MISSED_ACTIONS) and rule.get("review") is not True:
            message = "a missed-dose rule needs max_percent, max_value, review: true or reinduce"
            yield Problem(pointer(path), message)
        stage = rule.get("reinduce")
        if not isinstance(stage, str):
            continue
        if stage not in stages:
            yield Problem(pointer([*path, "reinduce"]), f"unknown stage {stage!r}")
        elif medication not in stages[stage]:
            message = f"stage {stage!r} does not give {medication!r}"
            yield Problem(pointer([*path, "reinduce"]), message)
        elif not {"first_dose_max", "first_day_max"} & set(stages[stage][medication]):
            message = f"stage {stage!r} sets no first_dose_max or first_day_max to restart at"
            yield Problem(pointer([*path, "reinduce"]), message)


CHECKS = (
    _duplicate_ids,
    _stage_references,
    _durations,
    _medication_limits,
    _band_problems,
    _code_problems,
    _exit_reasons,
    _missed_dose_problems,
)


def semantic_problems(doc: dict) -> list[Problem]:
    """Return the problems that need more than one field to see; never raise."""
    problems: list[Problem] = []
    for check in CHECKS:
        try:
            problems.extend(check(doc))
        except RecursionError:
            problems.append(Problem("", "document is too deeply nested"))
    return problems
