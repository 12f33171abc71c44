import json
import re

import pytest

from registry.protocols.fhir import to_plan_definition
from registry.protocols.shipped import NAMES, shipped_documents


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
    stage_ids = {s["id"] for s in doc["stages"]}
    assert stage_ids <= {a["id"] for a in plan["action"]}


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
