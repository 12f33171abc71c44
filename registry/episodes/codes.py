"""The registry's code lists (TDI 3.0, ICD-10 F10-F19 and ICD-11 6C40-6C4H, reasons, TOP …)."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from registry import clock
from registry.protocols.compiled import REASON_LABELS
from registry.protocols.icd10 import is_known_substance_code, normalise

CODES_FILE = Path(__file__).with_name("codes.yaml")
NOT_KNOWN = "99"
NOT_KNOWN_NUMBER = 99
LANGUAGES = ("ru", "kk", "en")
# Admission items the clinic does not send: the centre type comes from the clinic's directory.
FROM_CLINIC = frozenset({"centre_type"})
# Lists whose codes are stored in place of free text: reasons, purposes, legal bases, dose
# units and medications (DESIGN.md §2.5: no free text about a person).
CODED_LISTS = (
    "override_reasons",
    "reidentification_purposes",
    "legal_bases",
    "units",
    "medications",
)


@cache
def raw_codes() -> dict[str, Any]:
    """Return the code file as loaded (cached: it ships with the code)."""
    with CODES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _labels(entry: dict) -> dict[str, str]:
    return {lang: entry[lang] for lang in LANGUAGES}


@cache
def item_codes() -> dict[str, frozenset[str]]:
    """Return the categorical TDI items with their allowed codes ("99" included)."""
    raw = raw_codes()
    out = {}
    for name, item in raw["tdi"].items():
        if "numeric" in item:
            continue
        codes = item["codes"] if "codes" in item else raw["lists"][item["list"]]
        out[name] = frozenset(codes) | {NOT_KNOWN}
    return out


@cache
def numeric_items() -> dict[str, tuple[int, int | None]]:
    """Return the numeric TDI items with their (min, max); max None means the current year."""
    return {
        name: (item["numeric"]["min"], item["numeric"].get("max"))
        for name, item in raw_codes()["tdi"].items()
        if "numeric" in item
    }


@cache
def optional_items() -> frozenset[str]:
    """Return the TDI items that may be left out (secondary drugs, results, first OST year)."""
    return frozenset(name for name, item in raw_codes()["tdi"].items() if item.get("optional"))


@cache
def input_codes(name: str) -> tuple[str, ...]:
    """Return the codes of a coded list that input may use (not the legacy ones)."""
    return tuple(code for code, entry in raw_codes()[name].items() if not entry.get("legacy"))


def admission_items() -> list[str]:
    """Return the TDI items in file order, as the admission record's columns."""
    return list(raw_codes()["tdi"])


def numeric_problem(name: str, value: int) -> str | None:
    """Return why a numeric item's value is out of range, or None ("99" is always allowed)."""
    if value == NOT_KNOWN_NUMBER:
        return None
    low, high = numeric_items()[name]
    high = clock.now().year if high is None else high
    if not low <= value <= high:
        return f"must be between {low} and {high}, or 99 (not known)"
    return None


def drug_group(code: str | None) -> str | None:
    """Return the TDI group of a drug code (opioids, cocaine …), or None."""
    entry = raw_codes()["lists"]["drugs"].get(code or "")
    return entry["group"] if entry else None


def screen_codes() -> tuple[frozenset[str], frozenset[str]]:
    """Return the urine drug screen substances and results."""
    screen = raw_codes()["screen"]
    return frozenset(screen["substances"]), frozenset(screen["results"])


def outcome_items() -> dict[str, Any]:
    """Return the TOP-like outcome items: substances of days_used and the other items."""
    return raw_codes()["outcome"]


def valid_diagnosis(code: str) -> bool:
    """Tell whether a code is ICD-10 F10-F19 with a valid 4th character."""
    return is_known_substance_code(normalise(code))


@cache
def _icd10_beside_icd11() -> dict[str, frozenset[str]]:
    return {code: frozenset(entry["icd10"]) for code, entry in raw_codes()["icd11"].items()}


def diagnoses_agree(icd10: str, icd11: str) -> bool:
    """Tell whether an ICD-11 6C40-6C4H code names a substance of an ICD-10 F10-F19 code."""
    return normalise(icd10)[:3] in _icd10_beside_icd11().get(icd11.strip().upper()[:4], ())


@cache
def served() -> dict[str, Any]:
    """Return the code lists as served at GET /api/v1/codes."""
    raw = raw_codes()
    tdi = {}
    for name, item in raw["tdi"].items():
        entry: dict[str, Any] = {"label": item["label"], "optional": bool(item.get("optional"))}
        if "numeric" in item:
            entry["numeric"] = {**item["numeric"], "not_known": NOT_KNOWN_NUMBER}
        else:
            codes = item["codes"] if "codes" in item else raw["lists"][item["list"]]
            entry["codes"] = [_code(code, label) for code, label in codes.items()]
            entry["codes"].append({"code": NOT_KNOWN, "label": raw["not_known"]["label"]})
        if item.get("source"):
            entry["source"] = item["source"]
        tdi[name] = entry
    substances, syndromes = raw["icd10"]["substances"], raw["icd10"]["syndromes"]
    icd10 = [
        {
            "code": f"{category}.{fourth}",
            "substance": substances[category],
            "syndrome": syndromes[fourth],
        }
        for category in substances
        for fourth in syndromes
    ]
    screen = raw["screen"]
    return {
        "not_known": raw["not_known"],
        "tdi": tdi,
        "drug_groups": raw["drug_groups"],
        "icd10": icd10,
        "icd11": [
            {"code": code, "substance": _labels(entry), "icd10": entry["icd10"]}
            for code, entry in raw["icd11"].items()
        ],
        "discharge_reasons": [{"code": c, "label": lbl} for c, lbl in REASON_LABELS.items()],
        "screen": {
            "substances": [_code(c, lbl) for c, lbl in screen["substances"].items()],
            "results": [_code(c, lbl) for c, lbl in screen["results"].items()],
        },
        "outcome": raw["outcome"],
        **{name: [_code(c, entry) for c, entry in raw[name].items()] for name in CODED_LISTS},
    }


def _code(code: str, entry: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "label": _labels(entry)}
    if "group" in entry:
        out["group"] = entry["group"]
    if "atc" in entry:
        out["atc"] = entry["atc"]
    for flag in ("extension", "legacy"):
        if entry.get(flag):
            out[flag] = True
    return out
