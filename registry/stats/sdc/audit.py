"""Interval audit: how far can an intruder narrow each suppressed cell from the published ones?

For every suppressed cell x_c the feasible interval is [min x_c, max x_c] over the polytope
{A x = 0, x ≥ 0, published cells fixed at their exact values}. Exact values are used on purpose:
the audit assumes the intruder knows published cells without noise.

A cell is safe once two feasible points are known whose x_c differ by at least the safety
range, so the audit hunts for such points cheaply and solves LPs only where it must:

1. Decompose: published cells are substituted out and the rest splits into connected components
   (suppressed cells linked through shared constraints); each component is an independent LP.
2. Certificates: candidate directions d (for instance the hypercubes the suppression used) are
   checked, not trusted: d must touch suppressed cells only and satisfy A d = 0 exactly. Then
   x + t d is feasible for t in the range allowed by x ≥ 0, which bounds every cell of d at once.
3. Early stop: each still unproven cell gets a max LP with x_c capped at (lowest value seen +
   safety range), so the primal simplex stops as soon as the cell is proven, then a min LP if
   needed. One HiGHS model per component is re-solved warm, and every point found updates the
   bounds of all its cells, so later cells are often proven without an LP of their own.

Cells still narrower than the safety range after both LPs are genuinely narrow (both LPs are
exact apart from the cap, which only truncates at a safe value). The narrowest interval is made
exact by branch and bound over the certified widths.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from registry.stats.sdc import deadline
from registry.stats.sdc.hypercube import cube_certificates
from registry.stats.sdc.lp import LpModel
from registry.stats.sdc.model import ReleaseModel

TOL = 1e-6


@dataclass
class AuditReport:
    """Outcome of the interval audit over all suppressed cells of a release."""

    safety_range: float
    cells: np.ndarray  # suppressed cell ids
    lower: np.ndarray  # proven: some feasible point has the cell this low
    upper: np.ndarray  # proven: some feasible point has the cell this high
    n_components: int = 0
    n_lps: int = 0
    n_certified: int = 0  # cells proven safe by verified directions, without an LP
    seconds: float = 0.0
    narrowest: tuple[int, float, float] | None = None  # (cell, exact min, exact max)
    narrowest_is_global: bool = True  # False: the search budget ran out before closing the gap
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def width(self) -> np.ndarray:
        """Return the proven width of every suppressed cell's interval."""
        return self.upper - self.lower

    @property
    def failing(self) -> np.ndarray:
        """Return the suppressed cells narrowed below the safety range."""
        return self.cells[self.width < self.safety_range - TOL]

    @property
    def passed(self) -> bool:
        """Return True when no suppressed cell is narrowed below the safety range."""
        return not len(self.failing)


class _Component:
    """One independent block of the reduced system: suppressed cells linked by constraints."""

    def __init__(self, a: sparse.csr_matrix, b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        self.lp = LpModel(a, b, np.full(a.shape[1], np.inf))
        self.lo, self.hi = lo, hi

    def _solve(self, c: int, sign: float) -> np.ndarray | None:
        """Minimise sign·x_c and record the point."""
        cost = np.zeros(self.lp.n)
        cost[c] = sign
        x = self.lp.minimize(cost)
        if x is not None:
            self.lo = np.minimum(self.lo, x)
            self.hi = np.maximum(self.hi, x)
        return x

    def prove(self, safety: float) -> None:
        """Settle every cell not yet proven with at most one max and one min LP."""
        for c in np.flatnonzero(self.hi - self.lo < safety - TOL):
            if self.hi[c] - self.lo[c] >= safety - TOL:
                continue  # proven meanwhile by another cell's point
            deadline.check()
            self.lp.set_upper(c, self.lo[c] + safety)
            self._solve(c, -1.0)
            self.lp.set_upper(c, np.inf)
            if self.hi[c] - self.lo[c] < safety - TOL:
                self._solve(c, 1.0)

    def exact(self, c: int) -> tuple[float, float]:
        """Return the exact feasible interval of one cell (max may be infinite)."""
        low = self._solve(c, 1.0)
        high = self._solve(c, -1.0)
        return (float(low[c]) if low is not None else 0.0), (
            float(high[c]) if high is not None else np.inf
        )


def certify(
    constraints: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    directions: sparse.spmatrix,
) -> tuple[np.ndarray, np.ndarray]:
    """Return per-cell lowest and highest values reached along verified feasible directions."""
    lo = values.astype(float).copy()
    hi = values.astype(float).copy()
    d = sparse.csr_matrix(directions)
    d.eliminate_zeros()
    if not d.shape[0] or not d.nnz:
        return lo, hi
    balanced = abs(constraints @ d.T).max(axis=0).toarray().ravel() < TOL
    touches_published = (abs(d) @ (~hidden).astype(float)) > 0
    d = d[np.flatnonzero(balanced & ~touches_published)]
    if not d.nnz:
        return lo, hi
    rows = np.repeat(np.arange(d.shape[0]), np.diff(d.indptr))
    ratio = values[d.indices] / np.abs(d.data)
    # x + t d ≥ 0: cells with d < 0 cap t from above, cells with d > 0 from below.
    t_up = np.full(d.shape[0], np.inf)
    t_down = np.full(d.shape[0], np.inf)
    np.minimum.at(t_up, rows[d.data < 0], ratio[d.data < 0])
    np.minimum.at(t_down, rows[d.data > 0], ratio[d.data > 0])
    reach_hi = values[d.indices] + np.where(d.data > 0, t_up[rows], t_down[rows]) * np.abs(d.data)
    reach_lo = values[d.indices] - np.where(d.data > 0, t_down[rows], t_up[rows]) * np.abs(d.data)
    np.maximum.at(hi, d.indices, reach_hi)
    np.minimum.at(lo, d.indices, reach_lo)
    return lo, hi


def _components(
    a: sparse.csr_matrix, values: np.ndarray, hidden: np.ndarray
) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Substitute published cells out; return cells, reduced rows, rhs and the components."""
    cells = np.flatnonzero(hidden)
    sub = a[:, cells].tocsr()
    rhs = -(a[:, ~hidden] @ values[~hidden].astype(float))
    rows = np.flatnonzero(np.diff(sub.indptr) > 0)
    sub, rhs = sub[rows], rhs[rows]
    n_r = sub.shape[0]
    adj = sparse.bmat([[sparse.csr_matrix((n_r, n_r)), sub], [sub.T, None]], format="csr")
    _, labels = connected_components(adj, directed=False)
    return cells, sub, rhs, _split(labels[n_r:], labels[:n_r])


def _split(cell_lab: np.ndarray, row_lab: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group cell and row positions by component label (every row has a cell)."""
    labs = np.unique(cell_lab)
    c_order = np.argsort(cell_lab, kind="stable")
    r_order = np.argsort(row_lab, kind="stable")
    c_parts = np.split(c_order, np.searchsorted(cell_lab[c_order], labs[1:]))
    r_parts = np.split(r_order, np.searchsorted(row_lab[r_order], labs[1:]))
    return list(zip(c_parts, r_parts, strict=True))


def audit_intervals(
    constraints: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    safety: float,
    directions: sparse.spmatrix | None = None,
    narrowest_budget: int = 20,
) -> AuditReport:
    """Prove every suppressed cell's feasible interval at least `safety` wide, or report it."""
    start = time.perf_counter()
    values = np.asarray(values, dtype=float)
    cells, sub, rhs, groups = _components(constraints, values, hidden)
    lo, hi = values.copy(), values.copy()
    if directions is not None:
        lo, hi = certify(constraints, values, hidden, directions)
    lower, upper = lo[cells], hi[cells]
    certified = upper - lower >= safety - TOL
    comps: dict[int, tuple[_Component, np.ndarray]] = {}
    for loc, rws in groups:
        deadline.check()
        if not len(rws):  # in no constraint at all: free above zero
            lower[loc], upper[loc] = 0.0, np.inf
            continue
        comp = _Component(sub[rws][:, loc], rhs[rws], lower[loc], upper[loc])
        if not certified[loc].all():
            comp.prove(safety)
        lower[loc], upper[loc] = comp.lo, comp.hi
        for i in loc:
            comps[int(i)] = (comp, loc)
    report = AuditReport(safety, cells, lower, upper, len(groups))
    report.n_certified = int(certified.sum())
    report.narrowest = _narrowest(report, comps, narrowest_budget)
    report.n_lps = sum(c.lp.solves for c in {id(c): c for c, _ in comps.values()}.values())
    report.seconds = time.perf_counter() - start
    return report


def _narrowest(
    report: AuditReport, comps: dict[int, tuple[_Component, np.ndarray]], budget: int
) -> tuple[int, float, float] | None:
    """Return the exact narrowest interval by solving cells in order of proven width.

    Proven widths are lower bounds of the exact ones, so once the next lower bound reaches the
    best exact width found, that width is the global minimum. The search stops after `budget`
    cells; `report.narrowest_is_global` then says whether the gap was closed.
    """
    width = report.width
    best: tuple[int, float, float] | None = None
    report.narrowest_is_global = True
    for n, i in enumerate(np.argsort(width, kind="stable")):
        if best is not None and width[i] >= best[2] - best[1] - TOL:
            break
        if n >= budget:
            report.narrowest_is_global = False
            break
        deadline.check()
        if i in comps:
            comp, loc = comps[i]
            lo, hi = comp.exact(int(np.searchsorted(loc, i)))
            report.lower[i], report.upper[i] = lo, hi
        else:
            lo, hi = float(report.lower[i]), float(report.upper[i])
        if best is None or hi - lo < best[2] - best[1]:
            best = (int(report.cells[i]), lo, hi)
    return best


def audit_release(
    model: ReleaseModel, values: np.ndarray, hidden: np.ndarray, safety: float, **kwargs
) -> AuditReport:
    """Audit a release on its own: find hypercube certificates, then run the interval audit."""
    directions = cube_certificates(model, values, hidden, safety)
    return audit_intervals(model.constraints, values, hidden, safety, directions, **kwargs)
