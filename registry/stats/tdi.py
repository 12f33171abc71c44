"""TDI standard tables: predeclared tables split into all / never / previously treated.

Each table is one release: the cross-classification with treatment status (ever_treated),
whose total is the "all" part, so the parts are protected together, margins included.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry import clock
from registry.errors import NotFound, ValidationFailed
from registry.stats.population import count_groups
from registry.stats.query import FIRST_YEAR, TableQuery, protect_table
from registry.stats.sdc import TOTAL, TableSpec

SPLIT = "ever_treated"
PARTS = {TOTAL: "all", "no": "never_treated", "yes": "previously_treated", "99": "not_known"}


@dataclass(frozen=True)
class TdiTable:
    """A standard table: its title and row/column dimensions (treatment status is added)."""

    title: str
    dims: tuple[str, ...]


TDI_TABLES = {
    "centre_type": TdiTable("Treatment centre type by treatment status", ("centre_type",)),
    "drug_by_sex": TdiTable("Primary drug by sex", ("drug", "sex")),
    "drug_by_age": TdiTable("Primary drug by age band at entry", ("drug", "age_band")),
    "drug_by_referral": TdiTable(
        "Primary drug by source of referral", ("drug_group", "referral_source")
    ),
    "referral_source": TdiTable("Source of referral", ("referral_source",)),
    "route": TdiTable(
        "Usual route of administration by primary drug group", ("drug_group", "route")
    ),
    "injecting": TdiTable("Injecting status", ("injecting",)),
    "frequency": TdiTable(
        "Frequency of use in the last 30 days by primary drug group", ("drug_group", "frequency")
    ),
    "age_first_use": TdiTable(
        "Age at first use by primary drug group", ("drug_group", "age_first_use")
    ),
    "hiv_testing": TdiTable("HIV testing by injecting status", ("hiv_tested", "injecting")),
    "hcv_testing": TdiTable("HCV testing by injecting status", ("hcv_tested", "injecting")),
    "ost_status": TdiTable(
        "Opioid substitution treatment by primary drug group", ("drug_group", "ost_status")
    ),
}


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= clock.now().year:
        raise ValidationFailed(
            errors={"year": [f"must be between {FIRST_YEAR} and the current year"]}
        )


def run_tdi(name: str, year: int) -> tuple[dict, dict]:
    """Protect a standard table for a year; return its definition and the answer in parts."""
    if name not in TDI_TABLES:
        raise NotFound("no such standard table")
    check_year(year)
    return run_tdi_set(year, [name])[0]


def run_tdi_set(year: int, names: list[str] | None = None) -> list[tuple[dict, dict]]:
    """Protect several standard tables (default all), one release each, counted in one query."""
    check_year(year)
    names = list(TDI_TABLES) if names is None else names
    dims = {name: (*TDI_TABLES[name].dims, SPLIT) for name in names}
    groups = count_groups("persons", year, list(dims.values()))
    out = []
    for name, counted in zip(names, groups, strict=True):
        query = TableQuery("persons", year, dims[name], {})
        answer = protect_table(query, [TableSpec(name, dims[name])], counted)
        out.append((definition(name, year), in_parts(answer)))
    return out


def definition(name: str, year: int) -> dict:
    spec = TDI_TABLES[name]
    return {
        "table": name,
        "title": spec.title,
        "year": year,
        "measure": "persons",
        "dimensions": list(spec.dims),
        "split": SPLIT,
    }


def in_parts(answer: dict) -> dict:
    """Return the answer with its cells also grouped by treatment status."""
    parts: dict[str, list[dict]] = {part: [] for part in PARTS.values()}
    for cell in answer["cells"]:
        key = dict(cell["key"])
        part = PARTS[key.pop(SPLIT)]
        parts[part].append({**cell, "key": key})
    out = {"cells": answer["cells"], "protection": answer["protection"], "parts": parts}
    if "ledger" in answer:
        out["ledger"] = answer["ledger"]
    return out


def to_csv_rows(definition: dict, parts: dict[str, list[dict]]) -> list[list[str]]:
    """Return the table as CSV rows: part, one column per dimension, value, status."""
    dims = definition["dimensions"]
    rows = [["part", *dims, "value", "status"]]
    for part, cells in parts.items():
        for cell in cells:
            value = "" if cell["value"] is None else str(cell["value"])
            rows.append([part, *(cell["key"][d] for d in dims), value, cell["status"]])
    return rows
