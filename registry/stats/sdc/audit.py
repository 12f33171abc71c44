"""Interval audit: how far can an intruder narrow each suppressed cell from the published ones?

For every suppressed cell x_c the feasible interval is [min x_c, max x_c] over the polytope
{A x = 0, x ≥ 0, published cells fixed at their exact values}. Exact values are used on purpose:
an intruder who only knows perturbed values (each within the pTable's noise of the truth) has a
larger polytope, so every interval proven here is at least as wide for them.

A cell is safe once two feasible points are known whose x_c differ by at least the safety
range, so the audit hunts for such points cheaply and solves single-cell LPs only where it must:

1. Decompose: published cells are substituted out and the rest splits into connected components
   (suppressed cells linked through shared constraints); each component is an independent LP.
2. Certificates and earlier points: candidate directions d (for instance the moves the repair
   found) are checked, not trusted: d must touch suppressed cells only and satisfy A d = 0
   exactly; then x + t d is feasible for t in the range allowed by x ≥ 0. Bounds proven by an
   earlier audit of fewer suppressed cells stay valid (hiding more only widens the polytope).
3. Batch LPs push every unproven cell at once, a random half up (capped at lowest seen + safety
   range) and the other half down (floored at highest seen − safety range): the true counts
   satisfy the caps, and a cell that reaches its cap is proven.
4. Every cell still short gets its own max LP and, if needed, min LP, both exact. One HiGHS
   model per component is re-solved warm, and every point found updates all its cells.

The narrowest interval is then found by a complete search: cells in order of proven width (a
lower bound of the exact one), each made exact, until the next proven width reaches the
narrowest exact one. Only an explicit budget can cut that short, and the report says so.
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
    n_certified: int = 0  # cells proven safe by verified directions or earlier bounds, no LP
    seconds: float = 0.0
    narrowest: tuple[int, float, float] | None = None  # (cell, exact min, exact max)
    narrowest_is_global: bool = True  # False only when an explicit budget cut the search short
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def width(self) -> np.ndarray:
        """Return the proven width of every suppressed cell's interval."""
        return self.upper - self.lower

    @property
    def proven_min_width(self) -> float | None:
        """Return a width every suppressed cell is proven to reach (None: nothing suppressed)."""
        return float(self.width.min()) if len(self.cells) else None

    @property
    def failing(self) -> np.ndarray:
        """Return the suppressed cells narrowed below the safety range."""
        return self.cells[self.width < self.safety_range - TOL]

    @property
    def passed(self) -> bool:
        """Return True when no suppressed cell is narrowed below the safety range."""
        return not len(self.failing)

    def bounds(self, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the proven bounds as full-length arrays (nan where the cell is published)."""
        lo, hi = np.full(n_cells, np.nan), np.full(n_cells, np.nan)
        lo[self.cells], hi[self.cells] = self.lower, self.upper
        return lo, hi


class _Component:
    """One independent block of the reduced system: suppressed cells linked by constraints."""

    def __init__(
        self,
        a: sparse.csr_matrix,
        b: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        target: np.ndarray | None = None,
    ):
        self.lp = LpModel(a, b, np.full(a.shape[1], np.inf))
        self.lo, self.hi = lo, hi
        # Cells whose width must be proven; the others (a ledger's atoms) only carry the points.
        self.target = np.ones(len(lo), dtype=bool) if target is None else target
        self.exact_lo = lo <= TOL  # nothing goes below zero
        self.exact_hi = np.isinf(hi)

    def _record(self, x: np.ndarray | None) -> None:
        """Widen the proven bounds with a feasible point (None: unbounded, nothing to record)."""
        if x is None:
            return
        self.lo = np.minimum(self.lo, x)
        self.hi = np.maximum(self.hi, x)
        self.exact_lo |= self.lo <= TOL

    def _solve(self, c: int, sign: float) -> None:
        """Minimise sign·x_c exactly and record the point."""
        cost = np.zeros(self.lp.n)
        cost[c] = sign
        x = self.lp.minimize(cost)
        self._record(x)
        if sign > 0:
            self.exact_lo[c] = True
        else:
            self.exact_hi[c] = True
            if x is None:
                self.hi[c] = np.inf

    def prove(self, safety: float, rounds: int = 12) -> None:
        """Settle every cell not yet proven: batch LPs first, then exact LPs per cell."""
        n = self.lp.n
        rng = np.random.default_rng(0)
        a = sparse.csc_matrix(self.lp.a != 0, dtype=float)
        conflict = (a.T @ a).tocsr()  # cells sharing a constraint pull on each other
        for _ in range(rounds):
            short = np.flatnonzero((self.hi - self.lo < safety - TOL) & self.target)
            if len(short) < 4:
                break
            pick = _independent(conflict, rng.permutation(short))
            up = rng.random(len(pick)) < 0.5
            lower, upper = np.zeros(n), np.full(n, np.inf)
            upper[pick[up]] = self.lo[pick[up]] + safety
            lower[pick[~up]] = np.maximum(self.hi[pick[~up]] - safety, 0.0)
            self.lp.set_bounds(lower, upper)
            cost = np.zeros(n)
            cost[pick] = np.where(up, -1.0, 1.0)
            self._record(self.lp.minimize(cost))
        self.lp.set_bounds(np.zeros(n), np.full(n, np.inf))
        for c in np.flatnonzero((self.hi - self.lo < safety - TOL) & self.target):
            deadline.check()
            self.make_exact(c, safety)

    def make_exact(self, c: int, enough: float = np.inf) -> None:
        """Solve the cell's max and min LPs, skipping what is exact or already wide enough."""
        if not self.exact_hi[c] and self.hi[c] - self.lo[c] < enough - TOL:
            self._solve(c, -1.0)
        if not self.exact_lo[c] and self.hi[c] - self.lo[c] < enough - TOL:
            self._solve(c, 1.0)


def _independent(conflict: sparse.csr_matrix, order: np.ndarray) -> np.ndarray:
    """Return cells, taken greedily in order, no two of which share a constraint."""
    taken = np.zeros(conflict.shape[0], dtype=bool)
    blocked = np.zeros(conflict.shape[0], dtype=bool)
    for c in order:
        if not blocked[c]:
            taken[c] = True
            blocked[conflict.indices[conflict.indptr[c] : conflict.indptr[c + 1]]] = True
    return np.flatnonzero(taken)


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
    narrowest_budget: int | None = None,
    known: AuditReport | None = None,
) -> AuditReport:
    """Prove every suppressed cell's feasible interval at least `safety` wide, or report it.

    `known`: an audit of the same release with fewer cells suppressed, whose points stay
    feasible. `narrowest_budget`: at most this many cells made exact in the narrowest search
    (None: as many as it takes, so the narrowest is always the global one).
    """
    start = time.perf_counter()
    values = np.asarray(values, dtype=float)
    cells, sub, rhs, groups = _components(constraints, values, hidden)
    lo, hi = values.copy(), values.copy()
    if directions is not None:
        lo, hi = certify(constraints, values, hidden, directions)
    if known is not None:
        old_lo, old_hi = known.bounds(len(values))
        was = ~np.isnan(old_lo)
        lo[was], hi[was] = np.minimum(lo[was], old_lo[was]), np.maximum(hi[was], old_hi[was])
    lower, upper = lo[cells], hi[cells]
    certified = upper - lower >= safety - TOL
    comps: list[tuple[_Component, np.ndarray]] = []
    for loc, rws in groups:
        deadline.check()
        if not len(rws):  # in no constraint at all: free above zero
            lower[loc], upper[loc] = 0.0, np.inf
            continue
        comp = _Component(sub[rws][:, loc], rhs[rws], lower[loc], upper[loc])
        comp.prove(safety)
        comps.append((comp, loc))
    report = AuditReport(safety, cells, lower, upper, len(groups))
    report.n_certified = int(certified.sum())
    report.narrowest = _narrowest(report, comps, narrowest_budget)
    report.n_lps = sum(comp.lp.solves for comp, _ in comps)
    report.seconds = time.perf_counter() - start
    return report


def _narrowest(
    report: AuditReport, comps: list[tuple[_Component, np.ndarray]], budget: int | None
) -> tuple[int, float, float] | None:
    """Return the exact narrowest interval by making cells exact in order of proven width.

    Proven widths are lower bounds of the exact ones, so once the next proven width reaches the
    narrowest exact width found, that width is the global minimum. Among equal proven widths,
    cells already exact come first: often one of them closes the search at once.
    """
    owner = np.full(len(report.cells), -1)
    exact = np.zeros(len(report.cells), dtype=bool)
    for k, (_, loc) in enumerate(comps):
        owner[loc] = k
    # Cells in no constraint are exact already: [0, inf).
    exact[owner < 0] = True

    def sync() -> None:
        for comp, loc in comps:
            report.lower[loc], report.upper[loc] = comp.lo, comp.hi
            exact[loc] = comp.exact_lo & comp.exact_hi

    sync()
    best: tuple[int, float, float] | None = None
    report.narrowest_is_global = True
    solved = 0
    while True:
        width = report.width
        open_ = np.flatnonzero(~exact)
        done = np.flatnonzero(exact)
        if len(done):
            j = done[np.argmin(width[done])]
            if best is None or width[j] < best[2] - best[1]:
                best = (int(report.cells[j]), float(report.lower[j]), float(report.upper[j]))
        if not len(open_):
            break
        i = open_[np.argmin(width[open_])]
        if best is not None and width[i] >= best[2] - best[1] - TOL:
            break
        if budget is not None and solved >= budget:
            report.narrowest_is_global = False
            break
        deadline.check()
        comp, loc = comps[owner[i]]
        comp.make_exact(int(np.searchsorted(loc, i)))
        solved += 1
        sync()
    return best


def audit_targets(
    constraints: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    targets: np.ndarray,
    safety: float,
) -> AuditReport:
    """Prove the `targets` among the hidden variables at least `safety` wide; others stay free.

    For systems with auxiliary unknowns (a release ledger's atoms): only the targets are
    reported, and no narrowest search is made (the report says it is not global).
    """
    start = time.perf_counter()
    values = np.asarray(values, dtype=float)
    cells, sub, rhs, groups = _components(constraints, values, hidden)
    want = np.asarray(targets, dtype=bool)[cells]
    lower, upper = values[cells].copy(), values[cells].copy()
    n_lps = 0
    for loc, rws in groups:
        deadline.check()
        if not len(rws):
            lower[loc], upper[loc] = 0.0, np.inf
            continue
        comp = _Component(sub[rws][:, loc], rhs[rws], lower[loc], upper[loc], want[loc])
        comp.prove(safety)
        lower[loc], upper[loc] = comp.lo, comp.hi
        n_lps += comp.lp.solves
    report = AuditReport(safety, cells[want], lower[want], upper[want], len(groups))
    report.n_lps = n_lps
    report.narrowest_is_global = False
    report.seconds = time.perf_counter() - start
    return report


def audit_release(
    model: ReleaseModel, values: np.ndarray, hidden: np.ndarray, safety: float, **kwargs
) -> AuditReport:
    """Audit a release on its own: find hypercube certificates, then run the interval audit."""
    directions = cube_certificates(model, values, hidden, safety)
    return audit_intervals(model.constraints, values, hidden, safety, directions, **kwargs)
