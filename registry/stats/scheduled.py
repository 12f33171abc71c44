"""Scheduled releases: the standard tables of a month, protected together as one release.

All standard tables of a month share one release model, so secondary suppression and the
interval audit see every table at once (drug margins equated with drug groups, see linked.py).
The protected cells are stored: every later pull of the period returns the same numbers.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
from flask import current_app
from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.episodes.codes import NOT_KNOWN, raw_codes
from registry.episodes.models import Episode
from registry.extensions import db
from registry.stats import ledger
from registry.stats.catalogue import DIMENSIONS
from registry.stats.linked import Alias, LinkedReleaseModel
from registry.stats.models import StatsRelease
from registry.stats.output_models import StatsScheduledRelease
from registry.stats.population import Groups, count_groups
from registry.stats.query import TableQuery, protect_ledgered, sdc_params, select_groups
from registry.stats.releases import record_release
from registry.stats.sdc import CellStatus, TableSpec, protect_release
from registry.stats.tdi import PARTS, SPLIT, TDI_TABLES

KIND = "scheduled"


def release_tables() -> list[TableSpec]:
    """Return every standard table crossed with treatment status."""
    return [TableSpec(name, (*spec.dims, SPLIT)) for name, spec in TDI_TABLES.items()]


def drug_alias() -> Alias:
    """Return the equalities between drug-group margins and drug-group categories."""
    codes = {f"group:{group}": group for group in raw_codes()["drug_groups"]}
    return Alias("drug", "drug_group", {**codes, NOT_KNOWN: NOT_KNOWN})


def build_model(year: int) -> LinkedReleaseModel:
    """Return the linked model of all standard tables of a year."""
    tables = release_tables()
    dims = tuple(dict.fromkeys(d for t in tables for d in t.dims))
    dimensions = [DIMENSIONS[d].sdc_dimension(year) for d in dims]
    return LinkedReleaseModel(dimensions, tables, [drug_alias()])


def through_month_only(groups: Groups, month: int) -> Groups:
    """Keep the persons first admitted in the year up to the end of `month`."""
    keep = np.array([int(m) <= month for m in groups.values["period"]], dtype=bool)
    values = {name: column[keep] for name, column in groups.values.items()}
    return Groups(values, groups.counts[keep], groups.keys[keep])


def protect_standard_set(year: int, month: int) -> tuple[LinkedReleaseModel, list[dict], dict]:
    """Protect all standard tables of a year to date as one release; return model, cells, record."""
    model = build_model(year)
    dims = tuple(d.name for d in model.dimensions)
    # Counted in the database, by month of first admission too, so months can be cut off.
    (groups,) = count_groups("persons", year, [tuple(dict.fromkeys((*dims, "period")))])
    groups = through_month_only(groups, month)
    records, keys, weights = select_groups(groups, TableQuery("persons", year, dims, {}), dims)
    months = tuple(f"{year}-{m:02d}" for m in range(1, month + 1))
    ledgered = ledger.start(year, "persons", sdc_params().threshold, {"period": months})
    ledgered.hide_all = True  # a monthly release hides what the union audit fails, never stops
    cells, record = protect_linked(model, records, keys, weights, ledgered)
    record["ledger_entry"] = (year, "persons", ledgered.entry)
    return model, cells, record


def protect_linked(
    model: LinkedReleaseModel,
    records: dict[str, np.ndarray],
    keys: np.ndarray,
    weights: np.ndarray | None = None,
    ledgered: ledger.Ledgered | None = None,
) -> tuple[list[dict], dict]:
    """Count and protect the persons of a linked release; return its cells and record.

    Records are persons, or groups of `weights` persons whose keys are the sums of theirs.
    With `ledgered`, the release is audited with the year's earlier ones (ledger.py).
    """
    counts, cell_keys = model.count(records, keys, weights)
    if abs(model.constraints @ counts).max(initial=0) != 0:
        raise RuntimeError("linked tables disagree on a shared margin")
    persons = len(keys) if weights is None else int(np.sum(weights))
    if persons < current_app.config["STATS_MIN_POPULATION"]:
        cells = [
            {"key": model.key(i), "value": None, "status": CellStatus.SUPPRESSED.value}
            for i in range(model.n_cells)
        ]
        return cells, {"below_minimum_population": True, "cells": model.n_cells}
    params = sdc_params()
    if ledgered is None:
        release = protect_release(model, counts, cell_keys, params)
    else:
        release = protect_ledgered(model, counts, cell_keys, params, ledgered)
    out = release.to_dict()
    out["record"].pop("seconds", None)
    if ledgered is not None:
        out["record"]["ledger"] = ledgered.summary
    return out["cells"], out["record"]


def split_tables(model: LinkedReleaseModel, cells: list[dict]) -> dict[str, list[dict]]:
    """Return each table's cells, keyed by that table's own dimensions only."""
    out = {}
    for table, grid in zip(model.tables, model.grids, strict=True):
        out[table.name] = [
            {**cells[i], "key": {d: cells[i]["key"][d] for d in table.dims}}
            for i in grid.ravel().tolist()
        ]
    return out


def produce_release(year: int, month: int) -> StatsScheduledRelease:
    """Protect, store and audit the standard tables of a year through a month; flush only."""
    model, cells, protection = protect_standard_set(year, month)
    definition = {
        "kind": "standard tables",
        "year": year,
        "through": f"{year}-{month:02d}",
        "tables": sorted(TDI_TABLES),
        "measure": "persons",
        "split": SPLIT,
    }
    entry = protection.pop("ledger_entry", None)
    answer = {"cells": cells, "protection": protection}
    if entry is not None and entry[2] is not None:
        answer["ledger"] = entry
    release = record_release(KIND, definition, answer)
    scheduled = StatsScheduledRelease(
        release_id=release.id,
        year=year,
        through_month=month,
        tables=split_tables(model, cells),
        protection=protection,
    )
    db.session.add(scheduled)
    db.session.flush()
    return scheduled


def last_complete_month() -> tuple[int, int]:
    """Return the year and month of the latest month that has ended."""
    today = clock.now().date()
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def produce_due_release(app) -> str:
    """Produce the release of the month that ended last, unless it exists; the job's body."""
    year, month = last_complete_month()
    exists = db.session.scalar(
        select(StatsScheduledRelease.id).where(
            StatsScheduledRelease.year == year, StatsScheduledRelease.through_month == month
        )
    )
    if exists:
        return "unchanged"
    if not _admissions_until(year, month):
        return "no admissions to release"  # an empty release would only grow the audit log
    scheduled = produce_release(year, month)
    return f"released {scheduled.year}-{scheduled.through_month:02d}"


def _admissions_until(year: int, month: int) -> bool:
    """Tell whether anyone was admitted in the year up to the end of the month."""
    end = date(year, month, calendar.monthrange(year, month)[1])
    first = select(Episode.id).where(Episode.admitted_on.between(date(year, 1, 1), end)).limit(1)
    return db.session.scalar(first) is not None


def covering_release(year: int) -> StatsScheduledRelease | None:
    """Return the latest scheduled release of a year if it covers the year as asked.

    A past year is covered by its December release; the current year by its latest release
    (the year to date), so that every pull in a month gives the same numbers.
    """
    latest = db.session.scalars(
        select(StatsScheduledRelease)
        .where(StatsScheduledRelease.year == year)
        .order_by(StatsScheduledRelease.through_month.desc())
        .limit(1)
    ).first()
    if latest is None or (latest.through_month != 12 and year != clock.now().year):
        return None
    return latest


def serve_tdi(name: str, year: int) -> tuple[str, dict, dict] | None:
    """Return (release ref, definition, answer) of a standard table from a scheduled release."""
    scheduled = covering_release(year)
    if scheduled is None or name not in scheduled.tables:
        return None
    ref = db.session.get(StatsRelease, scheduled.release_id).ref
    spec = TDI_TABLES[name]
    cells = scheduled.tables[name]
    parts: dict[str, list[dict]] = {part: [] for part in PARTS.values()}
    for cell in cells:
        key = dict(cell["key"])
        parts[PARTS[key.pop(SPLIT)]].append({**cell, "key": key})
    definition = {
        "table": name,
        "title": spec.title,
        "year": year,
        "through": f"{year}-{scheduled.through_month:02d}",
        "measure": "persons",
        "dimensions": list(spec.dims),
        "split": SPLIT,
        "scheduled": True,
    }
    record("stats.release.read", "stats_release", ref)
    return ref, definition, {"cells": cells, "protection": scheduled.protection, "parts": parts}
