import json
import re
from collections.abc import Iterator

import pytest
from fhir.resources.R4B.plandefinition import PlanDefinition

from registry.protocols import validate_document
from registry.protocols.fhir import fhir_id, to_plan_definition
from registry.protocols.shipped import NAMES, shipped_documents

FHIR_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")


def _ids(plan: dict) -> Iterator[str]:
    """Yield every value of the FHIR type id in a plan: resource, contained and reference ids."""
    yield plan["id"]
    yield from (resource["id"] for resource in plan.get("contained", []))
    stack = list(plan["action"])
    while stack:
        action = stack.pop()
        yield from (related["actionId"] for related in action.get("relatedAction", []))
        stack += action.get("action", [])


def _valid_r4(plan: dict) -> PlanDefinition:
    """Validate a plan with the FHIR R4(B) model of fhir.resources; return the parsed model."""
    parsed = PlanDefinition.model_validate(json.loads(json.dumps(plan)))
    ids = list(_ids(plan))
    assert all(FHIR_ID.fullmatch(value) for value in ids), ids
    return parsed


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_protocol_exports_a_plan_definition(name):
    doc = shipped_documents()[name]
    plan = json.loads(json.dumps(to_plan_definition(doc)))
    assert plan["resourceType"] == "PlanDefinition"
    assert re.fullmatch(r"[A-Za-z0-9.-]{1,64}", plan["id"])
    assert plan["version"] == "1" and plan["status"] == "active"
    assert plan["identifier"][0]["value"] == name
    assert plan["url"].endswith(f"/PlanDefinition/{name}")
    assert len(plan["relatedArtifact"]) == len(doc["sources"])
    assert all(a["type"] == "citation" and a["url"] for a in plan["relatedArtifact"])
    stage_ids = {fhir_id(s["id"]) for s in doc["stages"]}
    assert stage_ids <= {a["id"] for a in plan["action"]}


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_protocol_exports_valid_fhir_r4(name):
    plan = to_plan_definition(shipped_documents()[name])
    _valid_r4(plan)
    # Every transition points at a stage action of the same plan.
    action_ids = {action["id"] for action in plan["action"]}
    for action in plan["action"]:
        assert {r["actionId"] for r in action.get("relatedAction", [])} <= action_ids


def test_ids_stay_valid_and_distinct_for_any_protocol_a_user_writes(methadone):
    # A stage id with underscores, and rule ids at the schema's 120 characters that share their
    # first 70: a cut at 64 would make two contained resources one.
    long = "a" * 70
    methadone = json.loads(json.dumps(methadone).replace('"induction"', '"long_induction_stage"'))
    for stage in methadone["stages"]:
        for i, med in enumerate(stage.get("medications", [])):
            med["id"] = f"{long}.{stage['id']}_{i}".ljust(120, "x")
    assert validate_document(methadone) == []
    plan = to_plan_definition(methadone)
    _valid_r4(plan)
    contained = [resource["id"] for resource in plan["contained"]]
    assert len(set(contained)) == len(contained) == 4
    references = {
        child["definitionCanonical"][1:]
        for action in plan["action"]
        for child in action.get("action", [])
        if "definitionCanonical" in child
    }
    assert references == set(contained)
    stage_action = next(a for a in plan["action"] if a["title"] == "Induction")
    assert stage_action["id"] == "long-induction-stage"


def test_fhir_id_is_the_same_for_the_same_input_and_never_too_long():
    assert fhir_id("relapse_prevention") == "relapse-prevention"
    first, second = fhir_id("a" * 100 + ".x"), fhir_id("a" * 100 + ".y")
    assert first != second and len(first) == len(second) == 64
    assert fhir_id("a" * 100 + ".x") == first


def test_methadone_plan_has_stages_timings_and_dosage():
    plan = to_plan_definition(shipped_documents()["methadone_oat"])
    actions = {a["id"]: a for a in plan["action"]}
    induction = actions["induction"]
    assert induction["timingRange"]["low"]["value"] == 7
    assert induction["timingRange"]["high"]["code"] == "d"
    assert induction["relatedAction"] == [
        {"actionId": "stabilisation", "relationship": "before-start"}
    ]
    [medication] = induction["action"]
    contained = {r["id"]: r for r in plan["contained"]}
    activity = contained[medication["definitionCanonical"][1:]]
    assert activity["resourceType"] == "ActivityDefinition"
    dosage = activity["dosage"][0]
    assert dosage["maxDosePerAdministration"]["value"] == 30
    assert dosage["maxDosePerPeriod"]["numerator"]["value"] == 60
    assert activity["productCodeableConcept"]["coding"][0]["code"] == "N07BC02"
    screen = actions["methadone.screen.early"]
    assert screen["timingTiming"]["repeat"] == {"frequency": 1, "period": 7, "periodUnit": "d"}
    eligibility = actions["methadone.eligibility.diagnosis"]["condition"][0]["expression"]
    assert "code = 'F11.2'" in eligibility["expression"]


@pytest.mark.parametrize(
    ("status", "fhir"), [("draft", "draft"), ("approved", "draft"), ("retired", "retired")]
)
def test_status_mapping(methadone, status, fhir):
    methadone["status"] = status
    assert to_plan_definition(methadone)["status"] == fhir
