"""Cross-item rules of the TDI admission record, and the age at admission it gives.

The API schema and the synthetic population both check records here; each problem names
the item it is about, never its value.
"""

from datetime import date
from typing import Any

from registry.episodes.codes import NOT_KNOWN, NOT_KNOWN_NUMBER
from registry.protocols.model import EpisodeHistory

Problems = dict[str, list[str]]


def _known(value: Any) -> bool:
    return value not in (None, NOT_KNOWN, NOT_KNOWN_NUMBER)


def age_at_admission(admitted_on: date, record: dict[str, Any]) -> int | None:
    """Return completed years at admission; an unknown birth month counts from January."""
    year, month = record["birth_year"], record["birth_month"]
    if year == NOT_KNOWN_NUMBER:
        return None
    history = EpisodeHistory(
        admitted_on, birth_year=year, birth_month=None if month == NOT_KNOWN_NUMBER else month
    )
    return history.age_at_admission()


def contradictions(record: dict[str, Any]) -> Problems:
    """Return the items a record contradicts itself on (never tested but a result, …)."""
    problems: Problems = {}
    drugs = [record.get(f"secondary_drug_{i}") for i in (1, 2, 3)]
    seen = {record.get("primary_drug")}
    for i, drug in enumerate(drugs, start=1):
        if _known(drug) and drug in seen:
            problems[f"secondary_drug_{i}"] = ["repeats the primary or another secondary drug"]
        seen.add(drug)
    for test in ("hiv", "hcv"):
        if record.get(f"{test}_tested") == "never" and _known(record.get(f"{test}_result")):
            problems[f"{test}_result"] = ["not allowed when never tested"]
    if record.get("injecting") == "never" and record.get("needle_sharing") not in (
        "never",
        NOT_KNOWN,
        None,
    ):
        problems["needle_sharing"] = ["must be never (or 99) when never injected"]
    if record.get("ost_status") == "never" and _known(record.get("ost_first_year")):
        problems["ost_first_year"] = ["not allowed when never in OST"]
    return problems


def age_problems(record: dict[str, Any], age: int | None) -> Problems:
    """Return the items that disagree with the age at admission (None: not known)."""
    first_use = record.get("age_first_use")
    if age is not None and _known(first_use) and first_use > age:
        return {"age_first_use": ["must not exceed the age at admission"]}
    return {}
