"""Small synthetic releases and a brute-force interval audit for the SDC tests."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from registry.stats.sdc import Dimension, ReleaseModel, TableSpec


def random_release(
    shape: dict[str, int], tables: list[tuple[str, ...]], n: int, seed: int
) -> tuple[ReleaseModel, np.ndarray, np.ndarray]:
    """Return a model over flat dimensions with skewed random records, counts and cell keys."""
    rng = np.random.default_rng(seed)
    dims = [Dimension.flat(name, [f"{name}{i}" for i in range(k)]) for name, k in shape.items()]
    model = ReleaseModel(dims, [TableSpec("x".join(t), t) for t in tables])
    records = {}
    for name, k in shape.items():
        w = rng.dirichlet(np.full(k, 0.7))
        records[name] = rng.choice(k, size=n, p=w) + 1
    keys = rng.integers(0, 2**32, size=n, dtype=np.uint64)
    counts, cell_keys = model.count(records, keys)
    return model, counts, cell_keys


def exact_intervals(
    model: ReleaseModel, counts: np.ndarray, hidden: np.ndarray
) -> dict[int, tuple[float, float]]:
    """Solve min and max of every suppressed cell over the full system with plain linprog."""
    a = model.constraints
    bounds = [(0, None) if h else (float(v), float(v)) for v, h in zip(counts, hidden, strict=True)]
    out = {}
    for c in np.flatnonzero(hidden):
        cost = np.zeros(model.n_cells)
        cost[c] = 1.0
        lo = linprog(cost, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
        hi = linprog(-cost, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
        out[int(c)] = (lo.x[c], hi.x[c] if hi.status == 0 else np.inf)
    return out
