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


class IndependentAudit:
    """Intervals of suppressed cells by plain linprog, written apart from the library's audit.

    The published cells are substituted into the additivity constraints (exact values, as an
    intruder with no noise would know them); every point an LP returns is checked feasible here
    before it counts. Widths are proven by feasible points: batches of cells pushed up and down
    together first, then one LP per cell still short of the width asked for.
    """

    def __init__(self, constraints, counts: np.ndarray, hidden: np.ndarray) -> None:
        a = constraints.tocsc()
        self.cells = np.flatnonzero(hidden)
        sub = a[:, self.cells].tocsr()
        rhs = -(a[:, ~hidden] @ counts[~hidden].astype(float))
        used = np.diff(sub.indptr) > 0
        self.a, self.b = sub[used], rhs[used]
        self.lo = counts[self.cells].astype(float)
        self.hi = self.lo.copy()
        self.lps = 0

    def _solve(self, cost: np.ndarray) -> np.ndarray | None:
        """Return an optimal point (checked feasible), or None when unbounded."""
        self.lps += 1
        res = linprog(cost, A_eq=self.a, b_eq=self.b, bounds=(0, None), method="highs")
        if res.status == 3:
            return None
        assert res.status == 0, res.message
        x = res.x
        assert np.abs(self.a @ x - self.b).max(initial=0) < 1e-6 and x.min() > -1e-9
        self.lo, self.hi = np.minimum(self.lo, x), np.maximum(self.hi, x)
        return x

    def prove(self, width: float, batch: int = 24) -> None:
        """Push batches of cells to their extremes, then single cells still narrower than width."""
        order = np.random.default_rng(0).permutation(len(self.cells))
        for part in np.array_split(order, max(1, len(order) // batch)):
            cost = np.zeros(len(self.cells))
            cost[part] = 1.0
            self._solve(cost)
            if self._solve(-cost) is None:
                self.hi[part] = np.inf
        for i in np.flatnonzero(self.hi - self.lo < width - 1e-6):
            self.exact(i)

    def exact(self, i: int) -> tuple[float, float]:
        """Return the exact interval of the i-th suppressed cell."""
        cost = np.zeros(len(self.cells))
        cost[i] = 1.0
        low = self._solve(cost)[i]
        top = self._solve(-cost)
        high = np.inf if top is None else top[i]
        self.hi[i] = max(self.hi[i], high)
        return low, high

    def width(self, cell: int) -> float:
        """Return the proven width of a suppressed cell (a lower bound unless made exact)."""
        i = int(np.searchsorted(self.cells, cell))
        return float(self.hi[i] - self.lo[i])

    def narrowest(self) -> tuple[int, float]:
        """Return the cell with the narrowest exact interval and its width, by complete search.

        Call after prove(): cells in order of proven width are made exact until the next proven
        width reaches the narrowest exact one.
        """
        exact = np.zeros(len(self.cells), dtype=bool)
        best_i, best = -1, np.inf
        while True:
            width = np.where(exact, np.inf, self.hi - self.lo)
            i = int(np.argmin(width))
            if exact.all() or width[i] >= best - 1e-6:
                return int(self.cells[best_i]), best
            low, high = self.exact(i)
            exact[i] = True
            if high - low < best:
                best_i, best = i, high - low
