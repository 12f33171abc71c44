"""Compile a validated protocol document once into lookup tables for the engine."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from registry.protocols.document import DocumentError, validate_document
from registry.protocols.icd10 import compile_patterns
from registry.protocols.model import LANGUAGES, Violation, render

DEFAULT_SEVERITY = {
    "dose_range": "warning",
    "duration_max": "warning",
    "required": "warning",
}


# Discharge reasons are codes of ours (TEDS-like); their names are not in the documents.
REASON_LABELS = {
    "completed": {"ru": "лечение завершено", "kk": "ем аяқталды", "en": "completed"},
    "dropped_out": {"ru": "выбыл", "kk": "емді тастап кетті", "en": "dropped out"},
    "terminated": {
        "ru": "выписан по решению клиники",
        "kk": "клиника шешімімен шығарылды",
        "en": "terminated by the facility",
    },
    "transferred": {"ru": "переведён", "kk": "басқа мекемеге ауыстырылды", "en": "transferred"},
    "incarcerated": {
        "ru": "лишён свободы",
        "kk": "бас бостандығынан айырылды",
        "en": "incarcerated",
    },
    "died": {"ru": "умер", "kk": "қайтыс болды", "en": "died"},
    "other": {"ru": "другое", "kk": "басқа", "en": "other"},
}
Labels = Mapping[str, Mapping[str, str]]

# What an upcoming duty says: when it is due, never that it is late (the rules' own messages
# are written for the overdue case). By the event that meets the duty.
_NEXT = {"ru": "допустимая отсрочка до", "kk": "қосымша мерзім", "en": "grace until"}
UPCOMING = {
    event: {
        "ru": f"{what['ru']} — до {{due}} ({_NEXT['ru']} {{grace_until}}).",
        "kk": f"{what['kk']} — {{due}} дейін ({_NEXT['kk']} {{grace_until}} дейін).",
        "en": f"{what['en']} due on {{due}} ({_NEXT['en']} {{grace_until}}).",
    }
    for event, what in {
        "visit": {"ru": "Следующий визит", "kk": "Келесі келу", "en": "Next visit"},
        "screen": {
            "ru": "Следующий анализ на наркотики",
            "kk": "Келесі есірткіге талдау",
            "en": "Next drug screen",
        },
        "review": {
            "ru": "Следующий клинический осмотр",
            "kk": "Келесі клиникалық қарап-тексеру",
            "en": "Next clinical review",
        },
        "assessment": {
            "ru": "Следующая оценка результатов",
            "kk": "Келесі нәтиже бағалауы",
            "en": "Next outcome assessment",
        },
    }.items()
}
UPCOMING["stage_change"] = {
    "ru": "Этап «{stage}» может длиться до {due}.",
    "kk": "«{stage}» кезеңі {due} дейін созыла алады.",
    "en": "The {stage} stage may last until {due}.",
}


def _detail(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | frozenset | set):
        return ", ".join(sorted(map(str, value)))
    return value


def _shown(value: Any, labels: Labels, lang: str) -> Any:
    """Return a detail as shown in a message: codes (stages, medications) by their name."""
    if isinstance(value, str) and value in labels:
        return labels[value][lang]
    if isinstance(value, list | tuple | frozenset | set):
        return ", ".join(sorted(str(_shown(v, labels, lang)) for v in value))
    return _detail(value)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule of the document: id, kind, severity, messages and its own parameters."""

    id: str
    kind: str
    severity: str
    message: Mapping[str, str]
    params: Mapping[str, Any]
    labels: Labels = field(default_factory=dict)  # shared by a protocol's rules, see _build

    def violation(self, **details: Any) -> Violation:
        """Return a violation of this rule with its messages filled from params and details."""
        raw = {**self.params, **details}
        message = {
            lang: render(
                self.message[lang], {k: _shown(v, self.labels, lang) for k, v in raw.items()}
            )
            for lang in LANGUAGES
        }
        return Violation(self.id, self.severity, message, {k: _detail(v) for k, v in raw.items()})

    def notice(self, template: Mapping[str, str], **details: Any) -> dict[str, str]:
        """Return another text about this rule (not its violation), filled like its message."""
        raw = {**self.params, **details}
        return {
            lang: render(template[lang], {k: _shown(v, self.labels, lang) for k, v in raw.items()})
            for lang in LANGUAGES
        }


def make_rule(raw: Mapping[str, Any], kind: str, default: str = "error", **params: Any) -> Rule:
    """Build a Rule from its document object."""
    severity = raw.get("severity", DEFAULT_SEVERITY.get(kind, default))
    return Rule(raw["id"], kind, severity, dict(raw["message"]), params)


@dataclass(frozen=True, slots=True)
class Limit:
    """A numeric limit and the rule that states it."""

    value: float
    rule: Rule


@dataclass(frozen=True, slots=True)
class Medication:
    """The dose limits of one medication in one stage."""

    name: str
    unit: str
    rule: Rule
    first_dose: Limit | None
    first_day: Limit | None  # the day's total on the episode's first dosing day of it
    daily: Limit | None
    per_day: Limit | None
    per_week: Limit | None
    range: tuple[float, float, Rule] | None
    cap: float  # the lowest of daily_max and the range's maximum (inf when neither)
    floor: float  # the range's minimum, else 0
    step_day: float  # max_increase_per_day, inf when absent
    step_week: float  # max_increase_per_week, inf when absent


@dataclass(frozen=True, slots=True)
class MissedDose:
    """What the first dosing day after `after` or more days without the medication allows.

    `share` caps the day's total at that part of the last dosing day's total, `value` at an
    amount; `review` needs a review recorded since the last dose; `reinduce` holds the
    induction limits (first dose, first day's total) that apply again.
    """

    rule: Rule
    medication: str
    after: int
    share: float | None
    value: float | None
    review: bool
    reinduce: Medication | None


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage: where it may lead, how long it lasts, which medications it allows."""

    id: str
    to: frozenset[str]
    transition: Rule
    min_days: int | None
    max_days: int | None
    duration: Rule | None
    medications: Mapping[str, Medication]


@dataclass(frozen=True, slots=True)
class Clock:
    """A recurring (or one-off) required event: due `interval` days after the last one."""

    rule: Rule
    event: str
    interval: int | None
    grace: int
    first_due: int
    stages: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Band:
    """A take-home band: days in treatment from..to allow max_doses per per_days days."""

    start: int
    end: int
    max_doses: int
    per_days: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class TakeHome:
    """Take-home rules: medication, stages where allowed and bands sorted by start day."""

    rule: Rule
    medication: str
    stages: frozenset[str] | None
    bands: tuple[Band, ...]
    starts: tuple[int, ...]
    window: int


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An exclusion by diagnosis codes or by a named condition."""

    rule: Rule
    exact: frozenset[str]
    categories: frozenset[str]
    condition: str | None


@dataclass(frozen=True, slots=True)
class CompiledProtocol:
    """A protocol version in the form the engine evaluates quickly."""

    key: str
    version: int
    document: Mapping[str, Any]
    initial_stage: str
    stages: Mapping[str, Stage]
    unlisted: Rule
    clocks: tuple[Clock, ...]
    clocks_by_event: Mapping[str, tuple[int, ...]]
    take_home: TakeHome | None
    missed: Mapping[str, tuple[MissedDose, ...]]  # by medication, longest gap first
    missed_after: Mapping[str, int]  # by medication, the shortest gap that a rule covers
    discharge: Rule
    reasons: frozenset[str]
    exit_rule: Rule | None
    exit_within: int
    exit_exempt: frozenset[str]
    diagnosis: Rule
    diagnosis_codes: tuple[frozenset[str], frozenset[str]]
    min_age: Limit | None
    exclusions: tuple[Exclusion, ...]
    rules: Mapping[str, Rule]


def _limit(raw: Mapping[str, Any] | None, kind: str) -> Limit | None:
    if raw is None:
        return None
    return Limit(raw["value"], make_rule(raw, kind, limit=raw["value"]))


def _medication(raw: Mapping[str, Any]) -> Medication:
    dose_range = raw.get("dose_range")
    if dose_range is not None:
        low, high = dose_range["min"], dose_range["max"]
        range_rule = make_rule(dose_range, "dose_range", min=low, max=high, unit=raw["unit"])
        dose_range = (low, high, range_rule)
    return Medication(
        name=raw["medication"],
        unit=raw["unit"],
        rule=make_rule(raw, "medication", medication=raw["medication"], expected=raw["unit"]),
        first_dose=_limit(raw.get("first_dose_max"), "first_dose_max"),
        first_day=_limit(raw.get("first_day_max"), "first_day_max"),
        daily=_limit(raw.get("daily_max"), "daily_max"),
        per_day=_limit(raw.get("max_increase_per_day"), "max_increase_per_day"),
        per_week=_limit(raw.get("max_increase_per_week"), "max_increase_per_week"),
        range=dose_range,
        cap=min(
            raw["daily_max"]["value"] if "daily_max" in raw else float("inf"),
            dose_range[1] if dose_range else float("inf"),
        ),
        floor=dose_range[0] if dose_range else 0.0,
        step_day=raw.get("max_increase_per_day", {}).get("value", float("inf")),
        step_week=raw.get("max_increase_per_week", {}).get("value", float("inf")),
    )


def _stage(raw: Mapping[str, Any]) -> Stage:
    duration = raw.get("duration") or {}
    low, high = duration.get("min_days"), duration.get("max_days")
    to = frozenset(raw["transitions"]["to"])
    kind = "duration_max" if low is None else "duration"
    return Stage(
        id=raw["id"],
        to=to,
        transition=make_rule(raw["transitions"], "transition", stage=raw["id"], allowed=to),
        min_days=low,
        max_days=high,
        duration=make_rule(duration, kind, min_days=low, max_days=high) if duration else None,
        medications={m["medication"]: _medication(m) for m in raw.get("medications", [])},
    )


def _clocks(doc: Mapping[str, Any]) -> list[Clock]:
    clocks = []
    for raw in doc.get("required_events", []):
        interval = raw["interval_days"]
        grace = raw.get("grace_days", 0)
        rule = make_rule(raw, "required", interval_days=interval, grace_days=grace)
        stages = frozenset(raw["stages"]) if "stages" in raw else None
        first = raw.get("first_due_days", interval)
        clocks.append(Clock(rule, raw["event"], interval, grace, first, stages))
    assessments = doc.get("outcome_assessments", {})
    if "at_start" in assessments:
        raw = assessments["at_start"]
        rule = make_rule(raw, "required", within_days=raw["within_days"])
        clocks.append(Clock(rule, "assessment", None, 0, raw["within_days"], None))
    if "periodic" in assessments:
        raw = assessments["periodic"]
        every, grace = raw["every_days"], raw.get("grace_days", 0)
        rule = make_rule(raw, "required", every_days=every, grace_days=grace)
        clocks.append(Clock(rule, "assessment", every, grace, every, None))
    return clocks


def _take_home(raw: Mapping[str, Any] | None) -> TakeHome | None:
    if raw is None:
        return None
    bands = []
    for band in raw["bands"]:
        end = band.get("to_day", 10**9)
        per_days = band.get("per_days", 7)
        params = {
            "from_day": band["from_day"],
            "to_day": band.get("to_day", "…"),
            "max_doses": band["max_doses"],
            "per_days": per_days,
        }
        rule = make_rule(band, "take_home_band", **params)
        bands.append(Band(band["from_day"], end, band["max_doses"], per_days, rule))
    bands.sort(key=lambda b: b.start)
    stages = frozenset(raw["stages"]) if "stages" in raw else None
    return TakeHome(
        rule=make_rule(raw, "take_home", medication=raw["medication"], stages=stages or ()),
        medication=raw["medication"],
        stages=stages,
        bands=tuple(bands),
        starts=tuple(b.start for b in bands),
        window=max(b.per_days for b in bands),
    )


def _missed_doses(
    doc: Mapping[str, Any], stages: Mapping[str, Stage]
) -> dict[str, tuple[MissedDose, ...]]:
    by_medication: dict[str, list[MissedDose]] = {}
    for raw in doc.get("missed_doses", []):
        name, stage = raw["medication"], raw.get("reinduce")
        reinduce = stages[stage].medications[name] if stage else None
        params: dict[str, Any] = {
            "medication": name,
            "after_days": raw["after_days"],
            "max_percent": raw.get("max_percent", "—"),
            "max_value": raw.get("max_value", "—"),
            "stage": stage or "—",
        }
        if reinduce is not None and reinduce.first_dose is not None:
            params["first_dose"] = reinduce.first_dose.value
        share = raw["max_percent"] / 100 if "max_percent" in raw else None
        rule = make_rule(raw, "missed_doses", **params)
        missed = MissedDose(
            rule, name, raw["after_days"], share, raw.get("max_value"), raw.get("review", False),
            reinduce,
        )  # fmt: skip
        by_medication.setdefault(name, []).append(missed)
    return {
        name: tuple(sorted(rules, key=lambda m: m.after, reverse=True))
        for name, rules in by_medication.items()
    }


def _exclusion(raw: Mapping[str, Any]) -> Exclusion:
    exact, categories = compile_patterns(raw.get("codes", []))
    rule = make_rule(raw, "exclusion", codes=raw.get("codes", ()), condition=raw.get("condition"))
    return Exclusion(rule, exact, categories, raw.get("condition"))


def _all_rules(compiled: CompiledProtocol) -> dict[str, Rule]:
    rules = [compiled.unlisted, compiled.discharge, compiled.diagnosis]
    rules += [c.rule for c in compiled.clocks] + [e.rule for e in compiled.exclusions]
    rules += [compiled.exit_rule] if compiled.exit_rule else []
    rules += [compiled.min_age.rule] if compiled.min_age else []
    if compiled.take_home:
        rules += [compiled.take_home.rule, *(b.rule for b in compiled.take_home.bands)]
    rules += [m.rule for missed in compiled.missed.values() for m in missed]
    for stage in compiled.stages.values():
        rules += [stage.transition] + ([stage.duration] if stage.duration else [])
        for med in stage.medications.values():
            limits = (med.first_dose, med.first_day, med.daily, med.per_day, med.per_week)
            rules += [med.rule, *(lim.rule for lim in limits if lim)]
            rules += [med.range[2]] if med.range else []
    return {rule.id: rule for rule in rules}


def _labels(doc: Mapping[str, Any]) -> dict[str, Mapping[str, str]]:
    """Return the names of stages, medications and discharge reasons per language."""
    labels: dict[str, Mapping[str, str]] = dict(REASON_LABELS)
    for stage in doc["stages"]:
        labels[stage["id"]] = stage["name"]
        for med in stage.get("medications", []):
            if "name" in med:
                labels[med["medication"]] = med["name"]
    return labels


def _build(doc: Mapping[str, Any]) -> CompiledProtocol:
    eligibility = doc["eligibility"]
    diagnoses = eligibility["diagnoses"]
    min_age = eligibility.get("min_age")
    at_exit = doc.get("outcome_assessments", {}).get("at_exit")
    discharge = doc["discharge"]
    reasons = frozenset(discharge["reasons"])
    clocks = _clocks(doc)
    stages = {s["id"]: _stage(s) for s in doc["stages"]}
    missed = _missed_doses(doc, stages)
    compiled = CompiledProtocol(
        key=doc["key"],
        version=doc["version"],
        document=doc,
        initial_stage=doc["initial_stage"],
        stages=stages,
        unlisted=make_rule(doc["unlisted_medication"], "unlisted_medication"),
        clocks=tuple(clocks),
        clocks_by_event={
            event: tuple(i for i, c in enumerate(clocks) if c.event == event)
            for event in {c.event for c in clocks}
        },
        take_home=_take_home(doc.get("take_home")),
        missed=missed,
        missed_after={name: rules[-1].after for name, rules in missed.items()},
        discharge=make_rule(discharge, "discharge_reason", allowed=reasons),
        reasons=reasons,
        exit_rule=make_rule(at_exit, "exit_assessment", within_days=at_exit["within_days"])
        if at_exit
        else None,
        exit_within=at_exit["within_days"] if at_exit else 0,
        exit_exempt=frozenset(at_exit.get("exempt_reasons", ())) if at_exit else frozenset(),
        diagnosis=make_rule(diagnoses, "eligibility_diagnosis", codes=diagnoses["codes"]),
        diagnosis_codes=compile_patterns(diagnoses["codes"]),
        min_age=Limit(min_age["years"], make_rule(min_age, "min_age", min_years=min_age["years"]))
        if min_age
        else None,
        exclusions=tuple(_exclusion(e) for e in eligibility.get("exclusions", [])),
        rules={},
    )
    rules = _all_rules(compiled)
    labels = _labels(doc)
    for rule in rules.values():  # attached afterwards so that every builder need not pass them
        object.__setattr__(rule, "labels", labels)
    object.__setattr__(compiled, "rules", rules)
    return compiled


_CACHE: dict[int, tuple[Mapping[str, Any], CompiledProtocol]] = {}


def compile_protocol(doc: Mapping[str, Any] | CompiledProtocol) -> CompiledProtocol:
    """Validate and compile a document, reusing the result for the same document object."""
    if isinstance(doc, CompiledProtocol):
        return doc
    cached = _CACHE.get(id(doc))
    if cached is not None and cached[0] is doc:
        return cached[1]
    problems = validate_document(doc)
    if problems:
        raise DocumentError(problems)
    compiled = _build(doc)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[id(doc)] = (doc, compiled)
    return compiled
