"""Export a protocol version as a FHIR R4 PlanDefinition (JSON-ready dict)."""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_BASE = "https://registry.example/fhir"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
STATUS = {"draft": "draft", "approved": "draft", "active": "active", "retired": "retired"}
UNITS = {"mg": "mg", "mcg": "ug", "g": "g", "ml": "mL", "unit": "[iU]"}
ROUTES = {  # SNOMED CT route of administration
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37161004", "Sublingual route"),
    "buccal": ("54471007", "Buccal route"),
    "intramuscular": ("78421000", "Intramuscular route"),
    "intravenous": ("47625008", "Intravenous route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
    "transdermal": ("45890007", "Transdermal route"),
}


FHIR_ID_MAX = 64
_HASHED_PREFIX = FHIR_ID_MAX - 13  # room for "-" and 12 hex digits


def fhir_id(text: str) -> str:
    """Return a protocol id (stage, rule) as a FHIR id: [A-Za-z0-9-.]{1,64}, one per input.

    Slugs and rule ids never contain "-", so replacing "_" by "-" keeps distinct ids distinct;
    an id too long keeps a readable prefix and ends in a hash of the whole, not a cut that two
    long ids could share.
    """
    found = re.sub(r"[^A-Za-z0-9.-]", "-", text)
    if len(found) <= FHIR_ID_MAX:
        return found
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{found[:_HASHED_PREFIX]}-{digest}"


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": UNITS.get(unit, unit)}


def _days(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "d", "system": UCUM, "code": "d"}


def _dosage(med: Mapping[str, Any]) -> dict[str, Any]:
    unit = med["unit"]
    dosage: dict[str, Any] = {"text": _dosage_text(med)}
    if "route" in med:
        code, display = ROUTES[med["route"]]
        dosage["route"] = {
            "coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]
        }
    if "dose_range" in med:
        low, high = med["dose_range"]["min"], med["dose_range"]["max"]
        rng = {"low": _quantity(low, unit), "high": _quantity(high, unit)}
        dosage["doseAndRate"] = [{"doseRange": rng}]
    if "daily_max" in med:
        numerator = _quantity(med["daily_max"]["value"], unit)
        dosage["maxDosePerPeriod"] = {"numerator": numerator, "denominator": _days(1)}
    if "first_dose_max" in med:
        dosage["maxDosePerAdministration"] = _quantity(med["first_dose_max"]["value"], unit)
    return dosage


def _dosage_text(med: Mapping[str, Any]) -> str:
    unit, parts = med["unit"], [med["medication"]]
    labels = {
        "first_dose_max": "first dose at most",
        "first_day_max": "first day's total at most",
        "daily_max": "daily total at most",
        "max_increase_per_day": "increase per day at most",
        "max_increase_per_week": "increase per week at most",
    }
    parts += [f"{label} {med[key]['value']} {unit}" for key, label in labels.items() if key in med]
    if "dose_range" in med:
        parts.append(f"usual range {med['dose_range']['min']}-{med['dose_range']['max']} {unit}")
    return "; ".join(parts)


def _activity(med: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "resourceType": "ActivityDefinition",
        "id": fhir_id(med["id"]),
        "status": STATUS[doc["status"]],
        "kind": "MedicationRequest",
        "title": med["medication"],
        "dosage": [_dosage(med)],
    }
    if "atc" in med:
        coding = {"system": ATC, "code": med["atc"], "display": med["medication"]}
        activity["productCodeableConcept"] = {"coding": [coding], "text": med["medication"]}
    return activity


def _stage_action(
    stage: Mapping[str, Any], contained: list[dict[str, Any]], doc: Mapping[str, Any]
) -> dict[str, Any]:
    action: dict[str, Any] = {"id": fhir_id(stage["id"]), "title": stage["name"]["en"]}
    duration = stage.get("duration")
    if duration and ("min_days" in duration or "max_days" in duration):
        timing = {}
        if "min_days" in duration:
            timing["low"] = _days(duration["min_days"])
        if "max_days" in duration:
            timing["high"] = _days(duration["max_days"])
        action["timingRange"] = timing
    targets = stage["transitions"]["to"]
    if targets:
        action["relatedAction"] = [
            {"actionId": fhir_id(target), "relationship": "before-start"} for target in targets
        ]
    children = []
    for med in stage.get("medications", []):
        contained.append(_activity(med, doc))
        children.append(
            {
                "id": fhir_id(med["id"]),
                "title": med["medication"],
                "description": _dosage_text(med),
                "definitionCanonical": f"#{fhir_id(med['id'])}",
            }
        )
    if children:
        action["action"] = children
    return action


def _repeat(rule_id: str, title: str, every: int, description: str) -> dict[str, Any]:
    timing = {"repeat": {"frequency": 1, "period": every, "periodUnit": "d"}}
    return {
        "id": fhir_id(rule_id),
        "title": title,
        "description": description,
        "timingTiming": timing,
    }


def _required_actions(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    actions = []
    for rule in doc.get("required_events", []):
        grace = rule.get("grace_days", 0)
        stages = ", ".join(rule.get("stages", ["all stages"]))
        text = f"{rule['event']} every {rule['interval_days']} days (grace {grace}); {stages}"
        actions.append(_repeat(rule["id"], rule["event"], rule["interval_days"], text))
    assessments = doc.get("outcome_assessments", {})
    instrument = assessments.get("instrument", "outcome assessment")
    if "at_start" in assessments:
        rule = assessments["at_start"]
        actions.append(
            {
                "id": fhir_id(rule["id"]),
                "title": f"{instrument} at start",
                "timingRange": {"low": _days(0), "high": _days(rule["within_days"])},
            }
        )
    if "periodic" in assessments:
        rule = assessments["periodic"]
        text = f"{instrument} every {rule['every_days']} days"
        actions.append(_repeat(rule["id"], text, rule["every_days"], text))
    if "at_exit" in assessments:
        rule = assessments["at_exit"]
        actions.append(
            {
                "id": fhir_id(rule["id"]),
                "title": f"{instrument} at exit",
                "description": f"within {rule['within_days']} days before discharge",
            }
        )
    return actions


def _take_home_action(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    take_home = doc.get("take_home")
    if not take_home:
        return []
    bands = []
    for band in take_home["bands"]:
        timing: dict[str, Any] = {"low": _days(band["from_day"])}
        if "to_day" in band:
            timing["high"] = _days(band["to_day"])
        per = band.get("per_days", 7)
        bands.append(
            {
                "id": fhir_id(band["id"]),
                "title": f"up to {band['max_doses']} take-home doses per {per} days",
                "timingRange": timing,
            }
        )
    return [{"id": fhir_id(take_home["id"]), "title": "Take-home doses", "action": bands}]


def _code_test(pattern: str) -> str:
    """Return a FHIRPath test of `code` for an ICD-10 code or a 3-character pattern."""
    if pattern.endswith("*") or len(pattern) == 3:
        return f"code.startsWith('{pattern[:3]}')"
    return f"code = '{pattern}'"


def _eligibility(doc: Mapping[str, Any]) -> dict[str, Any]:
    eligibility = doc["eligibility"]
    tests = " or ".join(_code_test(c) for c in eligibility["diagnoses"]["codes"])
    expression = f"Condition.code.coding.where(system = '{ICD10}' and ({tests})).exists()"
    condition = [
        {
            "kind": "applicability",
            "expression": {
                "language": "text/fhirpath",
                "expression": expression,
                "description": "ICD-10 " + ", ".join(eligibility["diagnoses"]["codes"]),
            },
        }
    ]
    if "min_age" in eligibility:
        years = eligibility["min_age"]["years"]
        condition.append(
            {
                "kind": "applicability",
                "expression": {
                    "language": "text/fhirpath",
                    "expression": f"Patient.birthDate <= today() - {years} years",
                    "description": f"age at least {years}",
                },
            }
        )
    return {
        "id": fhir_id(eligibility["diagnoses"]["id"]),
        "title": "Eligibility",
        "condition": condition,
    }


def to_plan_definition(doc: Mapping[str, Any], base: str = DEFAULT_BASE) -> dict[str, Any]:
    """Return a FHIR R4 PlanDefinition for a valid protocol document."""
    contained: list[dict[str, Any]] = []
    stages = [_stage_action(stage, contained, doc) for stage in doc["stages"]]
    plan: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": fhir_id(f"{doc['key']}-{doc['version']}"),
        "url": f"{base}/PlanDefinition/{doc['key']}",
        "identifier": [{"system": f"{base}/protocol", "value": doc["key"]}],
        "version": str(doc["version"]),
        "name": "".join(part.capitalize() for part in doc["key"].split("_")),
        "title": doc["title"]["en"],
        "type": {"coding": [{"system": PLAN_TYPE, "code": "clinical-protocol"}]},
        "status": STATUS[doc["status"]],
        "relatedArtifact": [_citation(source) for source in doc["sources"]],
    }
    if "publisher" in doc:
        plan["publisher"] = doc["publisher"]
    if "description" in doc:
        plan["description"] = doc["description"]["en"]
    if contained:
        plan["contained"] = contained
    plan["action"] = [_eligibility(doc), *stages, *_required_actions(doc), *_take_home_action(doc)]
    return plan


def _citation(source: Mapping[str, Any]) -> dict[str, Any]:
    citation = f"{source['publisher']} ({source['year']}). {source['title']}."
    artifact = {
        "type": "citation",
        "label": source["id"],
        "display": source["title"],
        "citation": citation,
        "url": source["url"],
    }
    return artifact
