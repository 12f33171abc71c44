"""The statistics catalogue: declared dimensions with hierarchies, and measures (DESIGN §7).

Analysts may only ask for tables built from these dimensions; every code a query names must be
one of a dimension's declared codes. Code lists come from codes.yaml, the configured region file
and the protocols table, so that a new code list needs no code change here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from registry.episodes.codes import NOT_KNOWN, raw_codes
from registry.extensions import db
from registry.protocols.compiled import REASON_LABELS
from registry.stats.sdc import TOTAL, Dimension

NOT_DISCHARGED = "not_discharged"
# Age bands at entry (DESIGN §5): lower bound → code.
AGE_BANDS = (
    (0, "<15"),
    *((age, f"{age}-{age + 4}") for age in range(15, 65, 5)),
    (65, "65+"),
)
# Age at first use of the primary drug, in the TDI's coarser bands: lower bound → code.
FIRST_USE_BANDS = (
    (0, "<15"),
    *((age, f"{age}-{age + 4}") for age in range(15, 40, 5)),
    (40, "40+"),
)
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
OUTCOME = "outcome"


@dataclass(frozen=True)
class CatalogueDimension:
    """A declared dimension: its label, levels and the tree of codes under the total."""

    name: str
    label: str
    levels: tuple[str, ...]
    # parent code → children codes; the root is TOTAL.
    children: Callable[[int], dict[str, list[str]]]
    # Dimensions that classify the same variable and so cannot be crossed with this one.
    same_variable: frozenset[str] = field(default_factory=frozenset)

    def tree(self, year: int) -> dict[str, list[str]]:
        """Return the hierarchy of codes for a reference year."""
        return self.children(year)

    def sdc_dimension(self, year: int) -> Dimension:
        """Return the disclosure-control dimension for a reference year."""
        return Dimension.tree(self.name, self.tree(year))

    def codes(self, year: int) -> set[str]:
        """Return every declared code (margins and leaves, not the total)."""
        return {code for kids in self.tree(year).values() for code in kids}

    def leaves(self, year: int) -> set[str]:
        """Return the leaf codes (what a record carries)."""
        tree = self.tree(year)
        return self.codes(year) - set(tree)


def _flat(codes: list[str]) -> Callable[[int], dict[str, list[str]]]:
    return lambda _year: {TOTAL: list(codes)}


def _tdi(item: str) -> Callable[[int], dict[str, list[str]]]:
    """Return a flat code list of a TDI item, "99" (not known) last."""

    def build(_year: int) -> dict[str, list[str]]:
        raw = raw_codes()
        entry = raw["tdi"][item]
        codes = entry["codes"] if "codes" in entry else raw["lists"][entry["list"]]
        return {TOTAL: [*codes, NOT_KNOWN]}

    return build


def _period(year: int) -> dict[str, list[str]]:
    tree: dict[str, list[str]] = {TOTAL: [f"{year}-{q}" for q in QUARTERS]}
    for i, q in enumerate(QUARTERS):
        tree[f"{year}-{q}"] = [f"{year}-{m:02d}" for m in range(3 * i + 1, 3 * i + 4)]
    return tree


def _drugs(_year: int) -> dict[str, list[str]]:
    raw = raw_codes()
    tree: dict[str, list[str]] = {TOTAL: [f"group:{g}" for g in raw["drug_groups"]]}
    for drug, entry in raw["lists"]["drugs"].items():
        tree.setdefault(f"group:{entry['group']}", []).append(drug)
    tree[TOTAL].append(NOT_KNOWN)
    return tree


def _drug_groups(_year: int) -> dict[str, list[str]]:
    return {TOTAL: [*raw_codes()["drug_groups"], NOT_KNOWN]}


def region_codes() -> list[str]:
    """Return the configured regions' codes."""
    path = Path(current_app.config["REGIONS_FILE"])
    return [item["code"] for item in json.loads(path.read_text(encoding="utf-8"))]


def protocol_keys() -> list[str]:
    """Return the keys of the protocols declared in the registry."""
    from registry.protocols.models import Protocol

    return sorted(db.session.scalars(select(Protocol.key)))


DIMENSIONS: dict[str, CatalogueDimension] = {
    d.name: d
    for d in (
        CatalogueDimension(
            "period",
            "Month of admission (year → quarter → month)",
            ("quarter", "month"),
            _period,
            frozenset({"quarter"}),
        ),
        CatalogueDimension(
            "quarter",
            "Quarter of admission",
            ("quarter",),
            _flat(list(QUARTERS)),
            frozenset({"period"}),
        ),
        CatalogueDimension(
            "region", "Region of the clinic (KATO)", ("region",), lambda _y: {TOTAL: region_codes()}
        ),
        CatalogueDimension(
            "centre_type", "Treatment centre type", ("centre_type",), _tdi("centre_type")
        ),
        CatalogueDimension("sex", "Sex", ("sex",), _tdi("sex")),
        CatalogueDimension(
            "age_band",
            "Age band at entry",
            ("age_band",),
            _flat([code for _, code in AGE_BANDS] + [NOT_KNOWN]),
        ),
        CatalogueDimension(
            "drug",
            "Primary drug (group → drug)",
            ("group", "drug"),
            _drugs,
            frozenset({"drug_group"}),
        ),
        CatalogueDimension(
            "drug_group", "Primary drug group", ("group",), _drug_groups, frozenset({"drug"})
        ),
        CatalogueDimension("route", "Usual route of administration", ("route",), _tdi("route")),
        CatalogueDimension(
            "referral_source", "Source of referral", ("referral_source",), _tdi("referral_source")
        ),
        CatalogueDimension(
            "protocol",
            "Treatment type (protocol key)",
            ("protocol",),
            lambda _y: {TOTAL: protocol_keys()},
        ),
        CatalogueDimension(
            "discharge_reason",
            "Discharge reason (or not discharged)",
            ("discharge_reason",),
            _flat([*REASON_LABELS, NOT_DISCHARGED]),
        ),
        CatalogueDimension("injecting", "Injecting", ("injecting",), _tdi("injecting")),
        CatalogueDimension(
            "frequency", "Frequency of use in the last 30 days", ("frequency",), _tdi("frequency")
        ),
        CatalogueDimension(
            "age_first_use",
            "Age at first use of the primary drug",
            ("age_first_use",),
            _flat([code for _, code in FIRST_USE_BANDS] + [NOT_KNOWN]),
        ),
        CatalogueDimension("hiv_tested", "HIV testing", ("hiv_tested",), _tdi("hiv_tested")),
        CatalogueDimension("hcv_tested", "HCV testing", ("hcv_tested",), _tdi("hcv_tested")),
        CatalogueDimension(
            "ost_status", "Opioid substitution treatment", ("ost_status",), _tdi("ost_status")
        ),
        CatalogueDimension(
            "ever_treated",
            "Treatment status (ever previously treated)",
            ("ever_treated",),
            _tdi("ever_treated"),
        ),
    )
}

MEASURES = {
    "persons": "Distinct persons admitted in the year, each counted once, classified by their "
    "first admission of the year",
    "admissions": "Episodes admitted in the year",
    "discharges": "Episodes discharged in the year, classified by their admission record and "
    "month of discharge",
    "episodes": "Episodes in treatment at any time in the year; the period of an episode "
    "carried over from an earlier year is January",
    "retention": "Share of episodes admitted in the year that stayed at least 90 days in "
    "treatment (episodes still open after fewer than 90 days are left out)",
    "completion": "Share of episodes discharged in the year whose reason is completed",
    "adherence": "Share of episodes in treatment in the year with no protocol override and no "
    "required event flagged overdue during the year",
}
# Rate measures: the share of units whose outcome is "yes"; both counts are protected together.
RATES = frozenset({"retention", "completion", "adherence"})
RATE_DAYS = 90
MAX_DIMENSIONS = 4


def _band(bands: tuple[tuple[int, str], ...], age: int | None) -> str:
    if age is None or age < 0 or age >= 99:
        return NOT_KNOWN
    code = bands[0][1]
    for low, band in bands:
        if age >= low:
            code = band
    return code


def age_band(age: int | None) -> str:
    """Return the age band at entry of an age in years (None: not known)."""
    return _band(AGE_BANDS, age)


def first_use_band(age: int | None) -> str:
    """Return the band of an age at first use in years (None or 99: not known)."""
    return _band(FIRST_USE_BANDS, age)


def describe(year: int) -> dict:
    """Return the catalogue as served: dimensions with their code trees, and measures."""
    return {
        "year": year,
        "max_dimensions": MAX_DIMENSIONS,
        "total_code": TOTAL,
        "dimensions": [
            {
                "name": d.name,
                "label": d.label,
                "levels": list(d.levels),
                "hierarchy": d.tree(year),
                "excludes": sorted(d.same_variable),
            }
            for d in DIMENSIONS.values()
        ],
        "measures": [
            {"name": name, "label": label, "kind": "rate" if name in RATES else "count"}
            for name, label in MEASURES.items()
        ],
    }
