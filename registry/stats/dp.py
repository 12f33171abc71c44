"""Differential-privacy answers to catalogue queries (OpenDP discrete Laplace).

Noise is added to every inner cell of the FULL declared grid, empty cells included, so the
noise pattern reveals nothing about which categories occur. Margins are sums of noisy inner
cells (post-processing), so tables add up and cost no extra budget. Each person is counted in
one inner cell, so one person changes the inner vector by 1 in L1: sensitivity 1.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version

import numpy as np
import opendp.prelude as dp
from flask import current_app

from registry.audit.log import record
from registry.errors import NotFound, ValidationFailed
from registry.stats.catalogue import DIMENSIONS
from registry.stats.dp_budget import spend, to_micro
from registry.stats.population import count_groups
from registry.stats.query import (
    TableQuery,
    grouping,
    parse_query,
    select_groups,
    within_budget,
)
from registry.stats.sdc import CellStatus, Dimension, ReleaseModel, TableSpec

dp.enable_features("contrib")
SENSITIVITY = 1
MECHANISM = "discrete_laplace"


@lru_cache(maxsize=32)
def laplace(epsilon: float) -> dp.Measurement:
    """Return the OpenDP measurement giving epsilon-DP for integer count vectors."""
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = space >> dp.m.then_laplace(scale=SENSITIVITY / epsilon)
    if measurement.map(SENSITIVITY) > epsilon + 1e-12:
        raise RuntimeError("the noise scale does not give the configured epsilon")
    return measurement


def ancestry(dim: Dimension) -> np.ndarray:
    """Return the 0/1 matrix (nodes × leaves): which nodes sum which leaf categories."""
    out = np.zeros((dim.size, len(dim.leaves)), dtype=np.int64)
    for j, leaf in enumerate(dim.leaves):
        out[[n for n in dim.ancestors[leaf] if n >= 0], j] = 1
    return out


def noisy_table(model: ReleaseModel, counts: np.ndarray, epsilon: float) -> np.ndarray:
    """Return every cell's value: noisy inner cells of the full grid and their sums."""
    grid, dims = model.grids[0], model.dimensions
    inner = grid[np.ix_(*[list(d.leaves) for d in dims])]
    noisy = np.array(laplace(epsilon)(counts[inner].ravel().tolist()), dtype=np.int64)
    full = np.maximum(noisy, 0).reshape(inner.shape)  # clipping is post-processing
    for axis, dim in enumerate(dims):
        full = np.moveaxis(np.tensordot(ancestry(dim), full, axes=([1], [axis])), 0, axis)
    values = np.zeros(model.n_cells, dtype=np.int64)
    values[grid.ravel()] = full.ravel()
    return values


def cells_of(model: ReleaseModel, values: np.ndarray, threshold: int) -> list[dict]:
    """Return the released cells; noisy values in 1..k-1 are withheld like small counts."""
    out = []
    for i in range(model.n_cells):
        value = int(values[i])
        if 0 < value < threshold:
            out.append({"key": model.key(i), "value": None, "status": CellStatus.SUPPRESSED})
        else:
            out.append({"key": model.key(i), "value": value, "status": CellStatus.PERTURBED})
    return [{**c, "status": c["status"].value} for c in out]


def run_dp_query(data: dict, user_id: int) -> tuple[TableQuery, dict]:
    """Validate, charge the analyst's budget, and answer a query under differential privacy."""
    query = parse_query(data)
    if query.measure != "persons":
        # Persons are counted once; episode measures would need per-person contribution bounds.
        raise ValidationFailed(errors={"measure": ["differential privacy answers persons only"]})
    return query, dp_answer(query, user_id)


def run_dp_tdi(name: str, year: int, user_id: int) -> tuple[dict, dict]:
    """Answer a standard table under differential privacy, charged like any query.

    A DP analyst never receives the protected (cell-suppressed) release: it carries no epsilon,
    so no budget could account for it. Each read is a fresh noisy answer and costs epsilon.
    """
    from registry.stats import tdi  # tdi imports the query module, as this one does

    if name not in tdi.TDI_TABLES:
        raise NotFound("no such standard table")
    tdi.check_year(year)
    dims = (*tdi.TDI_TABLES[name].dims, tdi.SPLIT)
    answer = dp_answer(TableQuery("persons", year, dims, {}), user_id)
    return tdi.definition(name, year), tdi.in_parts(answer)


def dp_answer(query: TableQuery, user_id: int) -> dict:
    """Charge the analyst's budget, then count and answer the query with noise."""
    config = current_app.config
    epsilon = float(config["STATS_DP_EPSILON"])
    budget = spend(user_id, to_micro(epsilon))
    model = ReleaseModel(
        [DIMENSIONS[d].sdc_dimension(query.year) for d in query.dimensions],
        [TableSpec("query", query.dimensions)],
    )
    with within_budget(model.n_cells):
        (groups,) = count_groups("persons", query.year, [grouping(query, query.dimensions)])
        records, keys, weights = select_groups(groups, query, query.dimensions)
        counts, _ = model.count(records, keys, weights)
        values = noisy_table(model, counts, epsilon)
    threshold = config["STATS_THRESHOLD"]
    protection = {
        "tables": [{"name": "query", "dims": list(query.dimensions)}],
        "mechanism": MECHANISM,
        "library": f"opendp {version('opendp')}",
        "epsilon": epsilon,
        "scale": SENSITIVITY / epsilon,
        "sensitivity": SENSITIVITY,
        "threshold": threshold,
        "cells": model.n_cells,
        "budget": budget,
    }
    return {"cells": cells_of(model, values, threshold), "protection": protection}


def audit_dp_release(ref: str) -> None:
    """Record that a release spent privacy budget."""
    record("stats.dp.release", "stats_release", ref)
