"""Ad hoc tables from the catalogue: validate, count from episodes, protect, release.

Every number leaves through the disclosure-control pipeline (registry.stats.sdc): exact counts →
primary and secondary suppression → interval audit → cell-key perturbation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from flask import current_app

from registry import clock
from registry.episodes.codes import NOT_KNOWN
from registry.errors import ValidationFailed
from registry.stats import ledger
from registry.stats.catalogue import DIMENSIONS, MAX_DIMENSIONS, MEASURES, OUTCOME, RATES
from registry.stats.cost import output_seconds, table_cost
from registry.stats.population import Groups, count_groups, leaf_codes
from registry.stats.sdc import (
    TOTAL,
    CellStatus,
    Dimension,
    ProtectedRelease,
    ReleaseModel,
    SdcParams,
    TableSpec,
    protect_release,
)
from registry.stats.sdc.deadline import DeadlinePassed, time_budget
from registry.stats.sdc.pipeline import cell_weights

# Outcome of a unit for a rate measure; the release crosses the table with it.
OUTCOMES = ("yes", "no")
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
        elif len(values) > 1:
            # A union of codes is a new population per choice of codes; its answers differenced
            # or averaged unpick hidden cells (issue 22). A group code covers its members.
            errors[f"filters.{name}"] = [
                "give one code: a category or a group of the catalogue's hierarchy"
            ]
        filters[name] = tuple(values)
    if errors:
        raise ValidationFailed(errors=errors)
    query = TableQuery(measure, year, tuple(dims), filters)
    if table_cells(query) > current_app.config["STATS_MAX_CELLS"]:
        errors["dimensions"] = ["the table would have too many cells; use fewer dimensions"]
        raise ValidationFailed(errors=errors)
    return query


def table_cells(query: TableQuery) -> int:
    """Return the number of cells of a query's table, margins (and rate outcomes) included."""
    outcome_cells = len(OUTCOMES) + 1 if query.measure in RATES else 1
    codes = (len(DIMENSIONS[d].codes(query.year)) for d in query.dimensions)
    return outcome_cells * math.prod(n + 1 for n in codes)


def sdc_params() -> SdcParams:
    """Return the configured disclosure-control settings."""
    config = current_app.config
    return SdcParams(
        threshold=config["STATS_THRESHOLD"],
        perturb=config["STATS_PERTURB"],
        republish_levels=config["STATS_REPUBLISH_LEVELS"],
        margin_weight=float(config["STATS_MARGIN_WEIGHT"]),
    )


# -- selecting groups -----------------------------------------------------------------------


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


def sdc_dimension(name: str, year: int) -> Dimension:
    """Return the disclosure-control dimension of a catalogue dimension or the outcome."""
    if name == OUTCOME:
        return Dimension.flat(OUTCOME, OUTCOMES)
    return DIMENSIONS[name].sdc_dimension(year)


def _leaves(name: str, year: int) -> set[str]:
    return set(OUTCOMES) if name == OUTCOME else DIMENSIONS[name].leaves(year)


def grouping(query: TableQuery, dims: tuple[str, ...]) -> tuple[str, ...]:
    """Return what to group by in the database: the dimensions, filters and any outcome."""
    extra = (OUTCOME,) if query.measure in RATES else ()
    return tuple(dict.fromkeys((*dims, *query.filters, *extra)))


def select_groups(
    groups: Groups, query: TableQuery, dims: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Return leaf codes per dimension, key sums and counts of the groups the filters keep."""
    keep = np.ones(len(groups.counts), dtype=bool)
    for name, codes in query.filters.items():
        allowed = _under(name, query.year, codes)
        found = leaf_codes(name, query.year, groups.values[name])
        keep &= np.array([c in allowed for c in found], dtype=bool)
    records = {}
    for name in dims:
        leaves = _leaves(name, query.year)
        codes = leaf_codes(name, query.year, groups.values[name])
        # A code outside the declared list (an unknown legacy value) counts as not known.
        codes = np.array([c if c in leaves else NOT_KNOWN for c in codes], dtype=object)
        keep &= np.array([c in leaves for c in codes], dtype=bool)
        records[name] = codes
    return (
        {k: v[keep].astype(str) for k, v in records.items()},
        groups.keys[keep],
        groups.counts[keep],
    )


# -- protection -----------------------------------------------------------------------------


def protect_table(
    query: TableQuery, tables: list[TableSpec], groups: Groups, params: SdcParams | None = None
) -> dict:
    """Protect the tables of one release over the same population; return cells and record.

    The release is audited with every earlier release of its year and measure (ledger.py); the
    answer's "ledger" item is what `record_release` writes to the ledger with it.
    """
    dims = tuple(dict.fromkeys(d for t in tables for d in t.dims))
    model = ReleaseModel([sdc_dimension(d, query.year) for d in dims], tables)
    records, keys, weights = select_groups(groups, query, dims)
    params = params or sdc_params()
    if weights.sum() < current_app.config["STATS_MIN_POPULATION"]:
        # Recorded too: its cells are hidden, and later releases must not narrow them.
        hidden = ledger.entry_of(model, np.ones(model.n_cells, dtype=bool), restriction(query))
        return {**_fully_suppressed(model, params), "ledger": (query.year, query.measure, hidden)}
    refuse_costly(model.n_cells, int(model.inner.sum()), int(weights.sum()))
    ledgered = ledger.start(query.year, query.measure, params.threshold, restriction(query))
    counts, cell_keys = model.count(records, keys, weights)
    release = protect_ledgered(model, counts, cell_keys, params, ledgered)
    out = release.to_dict()
    record = out["record"]
    record.pop("seconds", None)
    record["ledger"] = ledgered.summary
    entry = (query.year, query.measure, ledgered.entry)
    return {"cells": out["cells"], "protection": record, "ledger": entry}


def protect_ledgered(
    model: ReleaseModel,
    counts: np.ndarray,
    cell_keys: np.ndarray,
    params: SdcParams,
    ledgered: ledger.Ledgered,
) -> ProtectedRelease:
    """Protect a release consistently with the year's earlier ones, then audit the union."""
    must_hide, must_publish = ledgered.prior(model)
    release = protect_release(model, counts, cell_keys, params, must_hide, must_publish)
    hidden = release.status == CellStatus.SUPPRESSED.value
    weights = cell_weights(model, counts, params)
    final = ledgered.settle(model, counts, hidden, weights, params.safety)
    return release.hide(final)


def restriction(query: TableQuery) -> dict[str, tuple[str, ...]]:
    """Return the leaves each filter keeps."""
    return {
        name: tuple(sorted(_under(name, query.year, codes)))
        for name, codes in sorted(query.filters.items())
    }


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


def refuse_costly(cells: int, inner_cells: int, units: int) -> None:
    """Refuse a table estimated to take longer than a query may (before counting: units 0)."""
    budget = current_app.config["STATS_QUERY_SECONDS"]
    cost = table_cost(cells, inner_cells, units)
    if cost.seconds > budget:
        raise ValidationFailed(
            "the table would take too long to protect; ask for a smaller one",
            errors={
                "dimensions": [
                    f"a table of {cost.cells} cells is estimated to take {cost.seconds:.0f} s"
                    f" to protect, more than the {budget} s a query may take; use fewer or"
                    " coarser dimensions, or filters"
                ]
            },
            extra={"estimate": {"cells": cost.cells, "seconds": round(cost.seconds, 1)}},
        )


@contextmanager
def within_budget(cells: int) -> Iterator[None]:
    """Stop counting and protecting in time to write out the table within STATS_QUERY_SECONDS.

    Stopped, the query is refused (422).
    """
    budget = current_app.config["STATS_QUERY_SECONDS"]
    try:
        with time_budget(budget - output_seconds(cells)):
            yield
    except DeadlinePassed:
        raise ValidationFailed(
            "the table took too long to count and protect; ask for a smaller one",
            errors={
                "dimensions": [
                    f"this table cannot be counted, protected and written out within the"
                    f" {budget} s a query may take; use fewer or coarser dimensions, or filters"
                ]
            },
        ) from None


def run_query(data: dict) -> tuple[TableQuery, dict]:
    """Validate a query, count and protect its table in time; return the query and answer."""
    query = parse_query(data)
    dims = query.dimensions
    if query.measure in RATES:
        dims = (*dims, OUTCOME)
    params = replace(sdc_params(), republish_seconds=current_app.config["STATS_REPUBLISH_SECONDS"])
    cells = table_cells(query)
    refuse_costly(cells, 0, 0)  # writing it out alone would take too long
    with within_budget(cells):
        (groups,) = count_groups(query.measure, query.year, [grouping(query, dims)])
        answer = protect_table(query, [TableSpec("query", dims)], groups, params)
    if query.measure in RATES:
        answer = {**answer, "rates": rate_cells(answer["cells"])}
    return query, answer


def rate_cells(cells: list[dict]) -> list[dict]:
    """Return one rate per cell from the protected numerator and denominator counts.

    A rate is suppressed, with its counts, when either count is; it is computed from the
    published (perturbed) counts, never from exact ones, and kept within [0, 1].
    """
    by_key = {tuple(sorted(c["key"].items())): c for c in cells}
    out = []
    for cell in cells:
        key = dict(cell["key"])
        if key.pop(OUTCOME) != TOTAL:
            continue
        met = by_key[tuple(sorted({**key, OUTCOME: "yes"}.items()))]
        statuses = {cell["status"], met["status"]}
        if CellStatus.SUPPRESSED.value in statuses or not cell["value"]:
            out.append(_rate(key, None, None, CellStatus.SUPPRESSED.value))
            continue
        status = (
            CellStatus.PERTURBED.value
            if CellStatus.PERTURBED.value in statuses
            else CellStatus.PUBLISHED.value
        )
        rate = min(1.0, met["value"] / cell["value"])
        out.append(_rate(key, met["value"], cell["value"], status, round(rate, 4)))
    return out


def _rate(key, met, units, status, rate=None) -> dict:
    return {"key": key, "rate": rate, "value": met, "denominator": units, "status": status}


__all__ = ["TOTAL", "TableQuery", "parse_query", "protect_table", "run_query"]
