import copy

from registry.protocols.diff import diff_documents


def test_identical_versions_have_no_differences(methadone):
    result = diff_documents(methadone, methadone)
    assert result["added"] == result["removed"] == result["changed"] == result["metadata"] == []


def test_diff_names_changed_added_and_removed_rules(methadone):
    new = copy.deepcopy(methadone)
    new["version"] = 2
    new["stages"][0]["medications"][0]["daily_max"]["value"] = 50
    new["stages"][2]["medications"][0]["dose_range"]["severity"] = "error"
    new["stages"].reverse()  # order alone is not a rule change
    del new["take_home"]["bands"][-1]
    new["required_events"].append(
        {
            "id": "methadone.visit",
            "event": "visit",
            "interval_days": 1,
            "message": {"ru": "Визит", "kk": "Келу", "en": "Visit"},
        }
    )
    result = diff_documents(methadone, new)
    changed = {c["id"]: c["changes"] for c in result["changed"]}
    assert changed == {
        "methadone.induction.daily_max": [{"field": "value", "old": 60, "new": 50}],
        "methadone.maintenance.dose_range": [{"field": "severity", "old": None, "new": "error"}],
    }
    assert [r["id"] for r in result["added"]] == ["methadone.visit"]
    assert result["added"][0]["value"]["interval_days"] == 1
    assert [r["id"] for r in result["removed"]] == ["methadone.take_home.after_year_2"]
    assert {"field": "version", "old": 1, "new": 2} in result["metadata"]
    assert {m["field"] for m in result["metadata"]} == {"version", "stages"}


def test_a_changed_translation_is_a_change_of_that_rule(methadone):
    new = copy.deepcopy(methadone)
    new["discharge"]["message"]["kk"] = "Басқа мәтін"
    [change] = diff_documents(methadone, new)["changed"]
    assert change["id"] == "methadone.discharge.reason"
    assert change["changes"][0]["field"] == "message.kk"


def test_a_nested_limit_change_does_not_mark_its_medication_changed(methadone):
    new = copy.deepcopy(methadone)
    new["stages"][1]["medications"][0]["max_increase_per_week"]["value"] = 15
    ids = [c["id"] for c in diff_documents(methadone, new)["changed"]]
    assert ids == ["methadone.stabilisation.max_increase_per_week"]
