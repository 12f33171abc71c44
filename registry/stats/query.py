"""Ad hoc tables from the catalogue: validate, count from episodes, protect, release.

Every number leaves through the disclosure-control pipeline (registry.stats.sdc): exact counts →
primary and secondary suppression → interval audit → cell-key perturbation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
from flask import current_app
from sqlalchemy import and_, or_, select

from registry import clock
from registry.access.models import Clinic
from registry.episodes.codes import NOT_KNOWN, NOT_KNOWN_NUMBER, drug_group
from registry.episodes.models import Episode
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.patients.models import Person
from registry.stats.catalogue import (
    DIMENSIONS,
    MAX_DIMENSIONS,
    MEASURES,
    NOT_DISCHARGED,
    QUARTERS,
    age_band,
)
from registry.stats.sdc import (
    TOTAL,
    CellStatus,
    ReleaseModel,
    SdcParams,
    TableSpec,
    protect_records,
)
from registry.stats.sdc.model import KEY_MODULUS

# Spreads episode ids over the key space so that each episode gets its own fixed record key.
EPISODE_KEY_STEP = 2654435761
FIRST_YEAR = 1990


@dataclass(frozen=True)
class TableQuery:
    """A validated request: measure, year, dimensions and filters on declared codes."""

    measure: str
    year: int
    dimensions: tuple[str, ...]
    filters: dict[str, tuple[str, ...]]

    def definition(self) -> dict:
        """Return the query as stored in the release record."""
        return {
            "measure": self.measure,
            "year": self.year,
            "dimensions": list(self.dimensions),
            "filters": {k: list(v) for k, v in sorted(self.filters.items())},
        }


def parse_query(data: dict) -> TableQuery:
    """Check a query against the catalogue; 422 naming every bad path."""
    errors: dict[str, list[str]] = {}
    year = data["year"]
    if not FIRST_YEAR <= year <= clock.now().year:
        errors["year"] = [f"must be between {FIRST_YEAR} and the current year"]
        raise ValidationFailed(errors=errors)
    measure = data.get("measure", "persons")
    if measure not in MEASURES:
        errors["measure"] = ["unknown measure"]
    dims = list(data["dimensions"])
    if not 1 <= len(dims) <= MAX_DIMENSIONS:
        errors["dimensions"] = [f"give 1 to {MAX_DIMENSIONS} dimensions"]
    for i, name in enumerate(dims):
        if name not in DIMENSIONS:
            errors[f"dimensions.{i}"] = ["unknown dimension"]
        elif dims.index(name) != i or DIMENSIONS[name].same_variable & set(dims):
            errors[f"dimensions.{i}"] = ["repeats a dimension of the same variable"]
    filters: dict[str, tuple[str, ...]] = {}
    for name, values in (data.get("filters") or {}).items():
        if name not in DIMENSIONS:
            errors[f"filters.{name}"] = ["unknown dimension"]
            continue
        declared = DIMENSIONS[name].codes(year)
        for j, value in enumerate(values):
            if value not in declared:
                errors[f"filters.{name}.{j}"] = ["not a declared code of this dimension"]
        if not values:
            errors[f"filters.{name}"] = ["give at least one code"]
        filters[name] = tuple(values)
    if not errors and _cells(dims, year) > current_app.config["STATS_MAX_CELLS"]:
        errors["dimensions"] = ["the table would have too many cells; use fewer dimensions"]
    if errors:
        raise ValidationFailed(errors=errors)
    return TableQuery(measure, year, tuple(dims), filters)


def _cells(dims: list[str], year: int) -> int:
    """Return the number of cells of a table, margins included."""
    return math.prod(len(DIMENSIONS[d].codes(year)) + 1 for d in dims)


def sdc_params() -> SdcParams:
    """Return the configured disclosure-control settings."""
    config = current_app.config
    return SdcParams(
        threshold=config["STATS_THRESHOLD"],
        perturb=config["STATS_PERTURB"],
        republish_levels=config["STATS_REPUBLISH_LEVELS"],
        margin_weight=float(config["STATS_MARGIN_WEIGHT"]),
    )


# -- reading episodes -----------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def read_population(measure: str, year: int) -> dict[str, np.ndarray]:
    """Return one row per counted unit (person or episode) with the columns every dimension needs.

    Persons are counted once: a person's row is their first admission of the year (merged
    persons count as their survivor).
    """
    start, end = _year_bounds(year)
    columns = (
        Episode.id,
        Episode.person_id.label("person"),
        Person.record_key,
        Episode.admitted_on,
        Episode.discharged_on,
        Episode.discharge_reason,
        Episode.centre_type,
        Episode.sex,
        Episode.age_at_admission,
        Episode.birth_year,
        Episode.birth_month,
        Episode.primary_drug,
        Episode.route,
        Episode.referral_source,
        Episode.protocol_key,
        Episode.injecting,
        Episode.ever_treated,
        Clinic.region_code,
    )
    stmt = (
        select(*columns)
        .join(Person, Person.id == Episode.person_id)
        .join(Clinic, Clinic.id == Episode.clinic_id)
    )
    if measure in ("persons", "admissions"):
        stmt = stmt.where(Episode.admitted_on.between(start, end))
    elif measure == "discharges":
        stmt = stmt.where(Episode.discharged_on.between(start, end))
    else:
        stmt = stmt.where(
            Episode.admitted_on <= end,
            or_(Episode.discharged_on.is_(None), and_(Episode.discharged_on >= start)),
        )
    stmt = stmt.order_by(Episode.admitted_on, Episode.id)
    rows = db.session.execute(stmt).all()
    names = [c.key if hasattr(c, "key") else c.name for c in columns]
    table = {n: np.array([r[i] for r in rows], dtype=object) for i, n in enumerate(names)}
    _resolve_merges(table)
    if measure == "persons" and rows:
        _, first = np.unique(table["person"].astype(np.int64), return_index=True)
        table = {n: v[first] for n, v in table.items()}
    table["period_day"] = _period_day(table, measure, start)
    table["key"] = _record_keys(table, measure)
    return table


def _resolve_merges(table: dict[str, np.ndarray]) -> None:
    """Replace merged persons by their survivors (following chains), keys included."""
    merged = dict(
        db.session.execute(
            select(Person.id, Person.merged_into_id).where(Person.merged_into_id.is_not(None))
        ).all()
    )
    if not merged or not len(table["person"]):
        return

    def survivor(pid: int) -> int:
        seen = set()
        while pid in merged and pid not in seen:
            seen.add(pid)
            pid = merged[pid]
        return pid

    people = np.array([survivor(p) for p in table["person"]], dtype=object)
    changed = {int(p) for p, q in zip(table["person"], people, strict=True) if p != q}
    if not changed:
        return
    survivors = {int(people[i]) for i, p in enumerate(table["person"]) if p in changed}
    keys = dict(
        db.session.execute(
            select(Person.id, Person.record_key).where(Person.id.in_(survivors))
        ).all()
    )
    table["record_key"] = np.array(
        [keys.get(q, k) for q, k in zip(people, table["record_key"], strict=True)], dtype=object
    )
    table["person"] = people


def _period_day(table: dict[str, np.ndarray], measure: str, start: date) -> np.ndarray:
    if measure == "discharges":
        return table["discharged_on"]
    if measure == "episodes":
        return np.array([max(d, start) for d in table["admitted_on"]], dtype=object)
    return table["admitted_on"]


def _record_keys(table: dict[str, np.ndarray], measure: str) -> np.ndarray:
    """Return each row's fixed record key in [0, 2**32): the person's, or one per episode."""
    person = np.array(
        [int(k * KEY_MODULUS) % KEY_MODULUS for k in table["record_key"]], dtype=np.uint64
    )
    if measure == "persons":
        return person
    ids = table["id"].astype(np.uint64)
    return (person + ids * np.uint64(EPISODE_KEY_STEP)) % np.uint64(KEY_MODULUS)


def classify(table: dict[str, np.ndarray], name: str, year: int) -> np.ndarray:
    """Return each row's leaf code in a dimension."""
    if name == "period":
        return np.array([f"{d.year}-{d.month:02d}" for d in table["period_day"]], dtype=object)
    if name == "quarter":
        return np.array([QUARTERS[(d.month - 1) // 3] for d in table["period_day"]], dtype=object)
    if name == "region":
        return table["region_code"]
    if name == "age_band":
        ages = zip(
            table["age_at_admission"],
            table["birth_year"],
            table["birth_month"],
            table["admitted_on"],
            strict=True,
        )
        return np.array([age_band(_age(*a)) for a in ages], dtype=object)
    if name == "drug":
        return table["primary_drug"]
    if name == "drug_group":
        return np.array([drug_group(d) or NOT_KNOWN for d in table["primary_drug"]], dtype=object)
    if name == "protocol":
        return table["protocol_key"]
    if name == "discharge_reason":
        return np.array([r or NOT_DISCHARGED for r in table["discharge_reason"]], dtype=object)
    return table[name]


def _age(age: int | None, year: int, month: int, admitted: date) -> int | None:
    """Return the age at entry: stored, else from birth year and month (99 = not known)."""
    if age is not None:
        return age
    if year == NOT_KNOWN_NUMBER:
        return None
    return admitted.year - year - (1 if month != NOT_KNOWN_NUMBER and admitted.month < month else 0)


def _under(name: str, year: int, codes: tuple[str, ...]) -> set[str]:
    """Return the leaves under any of the given codes of a dimension."""
    tree = DIMENSIONS[name].tree(year)
    out, stack = set(), list(codes)
    while stack:
        code = stack.pop()
        if code in tree:
            stack.extend(tree[code])
        else:
            out.add(code)
    return out


def select_records(
    table: dict[str, np.ndarray], query: TableQuery, dims: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return leaf codes per dimension and record keys of the rows the filters keep."""
    n = len(table["key"])
    keep = np.ones(n, dtype=bool)
    for name, codes in query.filters.items():
        allowed = _under(name, query.year, codes)
        keep &= np.array([c in allowed for c in classify(table, name, query.year)], dtype=bool)
    records = {}
    for name in dims:
        leaves = DIMENSIONS[name].leaves(query.year)
        codes = classify(table, name, query.year)
        # A code outside the declared list (an unknown legacy value) counts as not known.
        codes = np.array([c if c in leaves else NOT_KNOWN for c in codes], dtype=object)
        keep &= np.array([c in leaves for c in codes], dtype=bool)
        records[name] = codes
    return {k: v[keep].astype(str) for k, v in records.items()}, table["key"][keep]


# -- protection -----------------------------------------------------------------------------


def protect_table(query: TableQuery, tables: list[TableSpec], table: dict[str, np.ndarray]) -> dict:
    """Protect the tables of one release over the same population; return cells and record."""
    dims = tuple(dict.fromkeys(d for t in tables for d in t.dims))
    model = ReleaseModel([DIMENSIONS[d].sdc_dimension(query.year) for d in dims], tables)
    records, keys = select_records(table, query, dims)
    params = sdc_params()
    if len(keys) < current_app.config["STATS_MIN_POPULATION"]:
        return _fully_suppressed(model, params)
    release = protect_records(model, records, keys, params)
    out = release.to_dict()
    record = out["record"]
    record.pop("seconds", None)
    return {"cells": out["cells"], "protection": record}


def _fully_suppressed(model: ReleaseModel, params: SdcParams) -> dict:
    """Return every cell suppressed: the population is too small to publish anything."""
    cells = [
        {"key": model.key(i), "value": None, "status": CellStatus.SUPPRESSED.value}
        for i in range(model.n_cells)
    ]
    protection = {
        "tables": [{"name": t.name, "dims": list(t.dims)} for t in model.tables],
        "threshold": params.threshold,
        "below_minimum_population": True,
        "cells": model.n_cells,
    }
    return {"cells": cells, "protection": protection}


def run_query(data: dict) -> tuple[TableQuery, dict]:
    """Validate a query, count and protect its table; return the query and the answer."""
    query = parse_query(data)
    table = read_population(query.measure, query.year)
    answer = protect_table(query, [TableSpec("query", query.dimensions)], table)
    return query, answer


__all__ = ["TOTAL", "TableQuery", "parse_query", "protect_table", "read_population", "run_query"]
