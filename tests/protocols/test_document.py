import json
import re

import pytest
import yaml

from registry.protocols import DocumentError, load_document, parse_document, validate_document
from registry.protocols.shipped import NAMES, shipped_documents, shipped_text


@pytest.mark.parametrize("name", NAMES)
def test_shipped_protocols_validate_and_cite_sources(name):
    doc, problems = parse_document(shipped_text(name), "yaml")
    assert problems == []
    assert doc["key"] == name
    assert all(s["url"].startswith("https://") and s["year"] for s in doc["sources"])


def test_shipped_documents_loads_all_four():
    assert sorted(shipped_documents()) == sorted(NAMES)


def test_json_and_yaml_give_the_same_document(methadone):
    assert load_document(json.dumps(methadone), "json") == methadone


def set_in(doc, path, value):
    *parents, last = path
    for key in parents:
        doc = doc[key]
    doc[last] = value


MALFORMED = [
    ("unknown key", ["stages", 0, "colour"], "red", "/stages/0/colour"),
    ("unknown top key", ["extra"], 1, "/extra"),
    (
        "wrong type",
        ["stages", 1, "medications", 0, "daily_max", "value"],
        "a lot",
        "/stages/1/medications/0/daily_max/value",
    ),
    ("wrong type of list", ["stages"], {"id": "x"}, "/stages"),
    ("out of range", ["version"], 0, "/version"),
    (
        "out of range band",
        ["take_home", "bands", 1, "max_doses"],
        99,
        "/take_home/bands/1/max_doses",
    ),
    (
        "negative dose",
        ["stages", 0, "medications", 0, "first_dose_max", "value"],
        -5,
        "/stages/0/medications/0/first_dose_max/value",
    ),
    ("bad enum", ["status"], "published", "/status"),
    ("unknown stage", ["stages", 0, "transitions", "to", 0], "detox", "/stages/0/transitions/to/0"),
    ("unknown initial stage", ["initial_stage"], "detox", "/initial_stage"),
    (
        "unknown stage in a rule",
        ["required_events", 0, "stages", 0],
        "x",
        "/required_events/0/stages/0",
    ),
    ("overlapping bands", ["take_home", "bands", 1, "from_day"], 80, "/take_home/bands/1/from_day"),
    (
        "band ends before it starts",
        ["take_home", "bands", 1, "to_day"],
        50,
        "/take_home/bands/1/to_day",
    ),
    (
        "first dose above daily max",
        ["stages", 0, "medications", 0, "first_dose_max", "value"],
        70,
        "/stages/0/medications/0/first_dose_max/value",
    ),
    (
        "range above daily max",
        ["stages", 2, "medications", 0, "dose_range", "max"],
        200,
        "/stages/2/medications/0/dose_range/max",
    ),
    (
        "daily increase above weekly",
        ["stages", 0, "medications", 0, "max_increase_per_day", "value"],
        25,
        "/stages/0/medications/0/max_increase_per_day/value",
    ),
    (
        "min above max duration",
        ["stages", 0, "duration", "min_days"],
        30,
        "/stages/0/duration/min_days",
    ),
    (
        "unknown ICD-10 code",
        ["eligibility", "diagnoses", "codes", 0],
        "F11.X",
        "/eligibility/diagnoses/codes/0",
    ),
    (
        "code outside F10-F19",
        ["eligibility", "diagnoses", "codes", 0],
        "F20.0",
        "/eligibility/diagnoses/codes/0",
    ),
    (
        "duplicate rule id",
        ["stages", 1, "duration", "id"],
        "methadone.induction.duration",
        "/stages/1/duration/id",
    ),
    ("bad rule id", ["discharge", "id"], "Bad Id!", "/discharge/id"),
    (
        "missing translation",
        ["discharge", "message"],
        {"en": "x", "ru": "x"},
        "/discharge/message/kk",
    ),
    (
        "unit differs across stages",
        ["stages", 1, "medications", 0, "unit"],
        "ml",
        "/stages/1/medications/0/unit",
    ),
    (
        "exempt reason not allowed",
        ["outcome_assessments", "at_exit", "exempt_reasons", 0],
        "escaped",
        "/outcome_assessments/at_exit/exempt_reasons/0",
    ),
]


@pytest.mark.parametrize(
    ("case", "path", "value", "pointer"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_document_reports_the_path(methadone, case, path, value, pointer):
    set_in(methadone, path, value)
    problems = validate_document(methadone)
    assert pointer in {p.path for p in problems}, problems


def test_missing_required_key_points_at_it(methadone):
    del methadone["discharge"]
    assert "/discharge" in {p.path for p in validate_document(methadone)}


def test_every_problem_is_listed(methadone):
    methadone["colour"] = "red"
    methadone["version"] = "one"
    methadone["stages"][0]["transitions"]["to"] = ["nowhere"]
    methadone["stages"][0]["medications"][0]["first_dose_max"]["value"] = 100
    paths = {p.path for p in validate_document(methadone)}
    assert {
        "/colour",
        "/version",
        "/stages/0/transitions/to/0",
        "/stages/0/medications/0/first_dose_max/value",
    } <= paths


def problems_of(text, fmt="json", **limits):
    doc, problems = parse_document(text, fmt, **limits)
    assert doc is None
    return problems


def test_too_large_document_is_refused():
    [problem] = problems_of("{}" + " " * 100, max_bytes=50)
    assert "limit 50" in problem.message


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_too_deep_document_is_refused(fmt):
    text = "[" * 40 + "]" * 40
    [problem] = problems_of(text, fmt, max_depth=16)
    assert "deeper than 16" in problem.message


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_pathologically_deep_document_does_not_crash(fmt):
    text = "[" * 200_000 + "]" * 200_000
    [problem] = problems_of(text, fmt, max_bytes=10**6)
    assert "deeper" in problem.message or "not valid" in problem.message


def test_yaml_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    [problem] = problems_of("\n".join(lines), "yaml")
    assert "more than" in problem.message


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('{"a": 1, "a": 2}', "json"),
        ("a: 1\na: 2\n", "yaml"),
        ('{"version": NaN}', "json"),
        ("{not json", "json"),
        ("a: [1, 2", "yaml"),
        (b"\xff\xfe", "json"),
        ("[1, 2]", "json"),
        ("{}", "xml"),
        ("!!python/object:os.system {}", "yaml"),
    ],
)
def test_unparseable_documents_give_problems(text, fmt):
    assert problems_of(text, fmt)


def test_yaml_dates_are_wrong_types_not_crashes(methadone):
    methadone["sources"][0]["year"] = "2009"
    text = yaml.safe_dump(methadone, allow_unicode=True).replace("year: '2009'", "year: 2009-01-01")
    _doc, problems = parse_document(text, "yaml")
    assert "/sources/0/year" in {p.path for p in problems}


def test_load_document_raises_a_document_error():
    with pytest.raises(DocumentError) as caught:
        load_document("[]", "json")
    assert caught.value.problems[0].path == ""


def object_schemas(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from object_schemas(value)


def test_published_schema_is_valid_and_closed_everywhere():
    from jsonschema import Draft202012Validator

    from registry.protocols import schema

    Draft202012Validator.check_schema(schema())
    objects = list(object_schemas(schema()))
    assert len(objects) > 15
    assert all(o.get("additionalProperties") is False for o in objects)


def _citing_notes(doc, *words):
    """Return the source notes of a protocol that mention every one of words, as whole words."""
    notes = [" ".join(s.get("note", "").split()) for s in doc["sources"]]
    return [n for n in notes if all(re.search(rf"\b{re.escape(w)}\b", n) for w in words)]


@pytest.mark.parametrize("name", NAMES)
def test_shipped_dose_safety_values_are_cited(name):
    """Every missed-dose threshold and first-day cap is stated in a source note."""
    doc = yaml.safe_load(shipped_text(name))
    for rule in doc.get("missed_doses", []):
        assert _citing_notes(doc, "missed", "days", str(rule["after_days"])), rule["id"]
    for stage in doc.get("stages", []):
        for medication in stage.get("medications", []):
            cap = medication.get("first_day_max")
            if cap:
                assert _citing_notes(doc, "first", "day", f"{cap['value']} mg"), cap["id"]
