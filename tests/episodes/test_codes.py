"""The code lists of registry/episodes/codes.yaml, as loaded and as served."""

import pytest
from marshmallow import ValidationError

from registry.api.episodes.schemas import EventInSchema
from registry.api.reidentifications.schemas import RequestSchema
from registry.episodes.codes import input_codes, raw_codes
from registry.protocols import schema, shipped_documents

DOSE = {"medication": "methadone", "amount": 20, "unit": "mg"}
REQUEST = {"pseudonym": "P-1", "purpose": "own_request", "legal_basis": "written_consent"}


def _keys_without_value(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None:
                yield f"{path}/{key}"
            yield from _keys_without_value(value, f"{path}/{key}")


def test_no_label_is_cut_at_a_comma():
    # In a YAML flow mapping an unquoted comma ends the value: "сам, семья" became "сам".
    assert list(_keys_without_value(raw_codes())) == []


def test_labels_with_commas_are_served_whole(client):
    tdi = client.get("/api/v1/codes").json["tdi"]
    codes = {c["code"]: c["label"] for c in tdi["referral_source"]["codes"]}
    assert codes["self_family_friends"] == {
        "ru": "сам, семья или друзья",
        "kk": "өзі, отбасы немесе достары",
        "en": "self-referral, family or friends",
    }


CODED = ("override_reasons", "reidentification_purposes", "legal_bases", "units", "medications")


def test_the_coded_lists_are_served_with_three_languages(client):
    served = client.get("/api/v1/codes").json
    for name in CODED:
        entries = served[name]
        assert len(entries) >= 6, name
        for entry in entries:
            assert set(entry["label"]) == {"ru", "kk", "en"} and all(entry["label"].values())
        legacy = [e["code"] for e in entries if e.get("legacy")]
        assert legacy == ["unspecified"], name
    reasons = {e["code"] for e in served["override_reasons"]}
    assert {"clinical_judgement", "transferred_with_dosing_record", "lab_error"} <= reasons
    assert {"court_proceedings", "own_request", "public_health_emergency"} <= {
        e["code"] for e in served["reidentification_purposes"]
    }
    assert {"court_decision", "written_consent"} <= {e["code"] for e in served["legal_bases"]}
    assert {"mg", "ml", "tablet"} <= {e["code"] for e in served["units"]}
    methadone = next(e for e in served["medications"] if e["code"] == "methadone")
    assert methadone == {
        "code": "methadone",
        "atc": "N07BC02",
        "label": {"ru": "метадон", "kk": "метадон", "en": "methadone"},
    }


@pytest.mark.parametrize(
    "name, load",
    [
        (
            "override_reasons",
            lambda code: EventInSchema().load({"type": "visit", "override_reason": code}),
        ),
        (
            "units",
            lambda code: EventInSchema().load({"type": "dose", "payload": {**DOSE, "unit": code}}),
        ),
        (
            "medications",
            lambda code: EventInSchema().load(
                {"type": "dose", "payload": {**DOSE, "medication": code}}
            ),
        ),
        (
            "reidentification_purposes",
            lambda code: RequestSchema().load({**REQUEST, "purpose": code}),
        ),
        ("legal_bases", lambda code: RequestSchema().load({**REQUEST, "legal_basis": code})),
    ],
)
def test_every_code_but_the_legacy_one_is_accepted(name, load):
    for code in input_codes(name):
        load(code)
    assert "unspecified" not in input_codes(name)
    with pytest.raises(ValidationError):
        load("unspecified")


def test_protocols_use_the_medication_and_unit_lists():
    enum = schema()["$defs"]["medication_code"]["enum"]
    assert set(enum) == set(input_codes("medications")) - {"other"}
    units = schema()["$defs"]["medication"]["properties"]["unit"]["enum"]
    assert set(units) <= set(input_codes("units"))
    for doc in shipped_documents().values():
        for stage in doc["stages"]:
            for med in stage.get("medications", []):
                assert med["medication"] in enum and med["unit"] in units
                assert raw_codes()["medications"][med["medication"]]["atc"] == med["atc"]
