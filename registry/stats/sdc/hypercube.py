"""Secondary suppression by hypercubes, one table at a time.

For a sensitive cell, pick in every table dimension an elementary balanced pattern (the cell and
a sibling with opposite sign, or the cell and its margin with the same sign; paths through the
hierarchy for deeper trees). Their product is a "hypercube" of cells that can all move by ±t
while every margin = Σ children constraint of the table stays satisfied. With the corners
suppressed, t can range over [-min(+corners), min(-corners)], so the cell's feasible interval is
at least that wide whatever else is published. Every candidate cube is evaluated at once with
numpy; the cheapest one (cost of the cells newly hidden) whose width reaches the safety range
wins; ties go to the first candidate, and margin patterns come first.
Constraints shared with other tables of the release are not seen here; the interval audit and the
LP repair step catch what that misses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np
from scipy import sparse

from registry.stats.sdc import deadline
from registry.stats.sdc.model import ReleaseModel

MAX_CUBES = 8192


@dataclass(frozen=True)
class _Axis:
    """Candidate 1-D patterns of every node of one table dimension."""

    codes: tuple[np.ndarray, ...]
    signs: tuple[np.ndarray, ...]


def hypercube_suppress(
    model: ReleaseModel,
    values: np.ndarray,
    suppressed: np.ndarray,
    weights: np.ndarray,
    safety: float,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Return the suppression mask after protecting every suppressed cell with a hypercube.

    The chosen cubes come back as ±1 directions (one row each), for the audit to verify and use.
    """
    state = _State(values, suppressed.copy(), weights, safety)
    for table, grid in zip(model.tables, model.grids, strict=True):
        dims = [model.dimensions[model.axis(n)] for n in table.dims]
        axes = [_Axis(*zip(*(d.patterns(i) for i in range(d.size)), strict=True)) for d in dims]
        targets = np.argwhere(suppressed[grid])
        # Smallest cells first: they need the widest cubes, which then protect larger corners
        # for free (measured: fewer cubes and fewer hidden cells than largest-first).
        order = np.argsort(values[grid[tuple(targets.T)]], kind="stable")
        for coords in targets[order]:
            if not state.protected[grid[tuple(coords)]]:
                deadline.check()
                state.protect(grid, axes, tuple(coords))
    return state.hidden, _directions(state.cubes, model.n_cells)


def cube_certificates(
    model: ReleaseModel, values: np.ndarray, hidden: np.ndarray, safety: float
) -> sparse.csr_matrix:
    """Return hypercubes of suppressed cells only that show cells at least `safety` wide.

    Independent of how the suppression was chosen: for the audit to verify and use.
    """
    state = _State(values, hidden.copy(), np.ones(len(values)), safety)
    for table, grid in zip(model.tables, model.grids, strict=True):
        dims = [model.dimensions[model.axis(n)] for n in table.dims]
        axes = [_Axis(*zip(*(d.patterns(i) for i in range(d.size)), strict=True)) for d in dims]
        targets = np.argwhere(hidden[grid])
        for coords in targets[np.argsort(values[grid[tuple(targets.T)]], kind="stable")]:
            if not state.protected[grid[tuple(coords)]]:
                deadline.check()
                state.certify(grid, axes, tuple(coords))
    return _directions(state.cubes, model.n_cells)


class _State:
    """Suppression built so far, with the cost of hiding each still published cell."""

    def __init__(self, values: np.ndarray, hidden: np.ndarray, weights: np.ndarray, safety: float):
        self.values = values.astype(np.int32)
        self.hidden, self.safety = hidden, safety
        self.cost = np.where(hidden, 0.0, weights).astype(np.float32)
        self.protected = np.zeros_like(hidden)
        self.cubes: list[tuple[np.ndarray, np.ndarray]] = []
        self._masks: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def protect(self, grid: np.ndarray, axes: list[_Axis], coords: tuple[int, ...]) -> None:
        """Hide the cheapest safe cube around one cell (else the widest one)."""
        ids, valid, pos, width, cost = self._evaluate(grid, axes, coords, hidden_only=False)
        safe = width >= self.safety
        best = np.flatnonzero(safe)[np.argmin(cost[safe])] if safe.any() else np.argmax(width)
        self._take(ids[:, best], valid[:, best], pos[:, best], bool(safe[best]))

    def certify(self, grid: np.ndarray, axes: list[_Axis], coords: tuple[int, ...]) -> None:
        """Record the widest safe cube around one cell made of suppressed cells only, if any."""
        ids, valid, pos, width, cost = self._evaluate(grid, axes, coords, hidden_only=True)
        ok = (width >= self.safety) & (cost == 0)
        if ok.any():
            best = np.flatnonzero(ok)[np.argmax(width[ok])]
            self._take(ids[:, best], valid[:, best], pos[:, best], True)

    def _take(self, ids: np.ndarray, valid: np.ndarray, pos: np.ndarray, safe: bool) -> None:
        """Hide one cube and remember it as a direction."""
        cube = ids[valid]
        self.hidden[cube] = True
        self.cost[cube] = 0.0
        self.protected[cube] |= safe
        self.cubes.append((cube, np.where(pos[valid], 1, -1)))

    def _evaluate(
        self, grid: np.ndarray, axes: list[_Axis], coords: tuple[int, ...], hidden_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return corner ids, validity, + corners, width and cost of every candidate cube."""
        codes, signs = _trim(*self._prune(grid, axes, coords, hidden_only))
        ids = _corner_ids(grid, codes)
        valid, pos, neg = self._corner_masks(codes, signs)
        vals = self.values[ids]
        big = np.iinfo(np.int32).max // 4
        width = vals.min(axis=0, where=pos, initial=big) + vals.min(axis=0, where=neg, initial=big)
        cost = self.cost[ids].sum(axis=0, where=valid)
        return ids, valid, pos, width, cost

    def _prune(
        self, grid: np.ndarray, axes: list[_Axis], coords: tuple[int, ...], hidden_only: bool
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Drop patterns that cannot be part of a safe cube.

        The cell itself is a + corner, so a cube is at most v + min(- corners) wide; any pattern
        whose - codes, taken alone along its dimension, land on a cell below safety - v is
        useless. Patterns to the margin (all +) always survive, so a safe cube remains. With
        `hidden_only`, patterns that land on a published cell are dropped too.
        """
        need = self.safety - self.values[grid[coords]]
        codes, signs = [], []
        for j, axis in enumerate(axes):
            c, sg = axis.codes[coords[j]], axis.signs[coords[j]]
            line = grid[(*coords[:j], slice(None), *coords[j + 1 :])][np.maximum(c, 0)]
            drop = (sg < 0) & (self.values[line] < need)
            if hidden_only:
                drop |= (c >= 0) & ~self.hidden[line]
            keep = ~drop.any(axis=1)
            codes.append(c[keep])
            signs.append(sg[keep])
        return codes, signs

    def _corner_masks(
        self, codes: list[np.ndarray], signs: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return validity and +/- masks of every corner, cached by the cube's sign layout."""
        key = tuple((s.shape, s.tobytes()) for s in signs)
        if key not in self._masks:
            sign = _outer(signs, np.multiply)
            valid = _outer([c >= 0 for c in codes], np.logical_and)
            self._masks[key] = (valid, valid & (sign > 0), valid & (sign < 0))
        return self._masks[key]


def _layout(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Reshape per-dimension (patterns × positions) arrays to broadcast as corners × cubes."""
    m = len(arrays)
    out = []
    for j, a in enumerate(arrays):
        shape = [1] * (2 * m)
        shape[j], shape[m + j] = a.shape[1], a.shape[0]
        out.append(a.T.reshape(shape))
    return out


def _outer(arrays: list[np.ndarray], op) -> np.ndarray:
    """Combine per-dimension arrays over all corners and cubes into a (corners, cubes) array."""
    full = reduce(op, _layout(arrays))
    shape = np.broadcast_shapes(*(a.shape for a in _layout(arrays)))
    m = len(arrays)
    return np.broadcast_to(full, shape).reshape(int(np.prod(shape[:m])), -1)


def _corner_ids(grid: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
    """Return the cell id of every corner (rows) of every cube (columns); pads map to code 0."""
    steps = np.cumprod((1, *grid.shape[:0:-1]))[::-1]
    offsets = reduce(
        np.add, _layout([np.maximum(c, 0) * k for c, k in zip(codes, steps, strict=True)])
    )
    m = len(codes)
    return grid.ravel().take(offsets.reshape(int(np.prod(offsets.shape[:m])), -1))


def _directions(rows: list[tuple[np.ndarray, np.ndarray]], n: int) -> sparse.csr_matrix:
    """Stack (cells, signs) pairs into a sparse matrix of directions."""
    if not rows:
        return sparse.csr_matrix((0, n))
    r = np.repeat(np.arange(len(rows)), [len(c) for c, _ in rows])
    cols = np.concatenate([c for c, _ in rows])
    vals = np.concatenate([s for _, s in rows]).astype(float)
    return sparse.csr_matrix((vals, (r, cols)), shape=(len(rows), n))


def _trim(
    codes: list[np.ndarray], signs: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Thin the longest pattern lists evenly until the number of cubes is bounded."""
    codes, signs = list(codes), list(signs)
    while np.prod([len(c) for c in codes], dtype=float) > MAX_CUBES:
        j = int(np.argmax([len(c) for c in codes]))
        # Keep row 0 (the path to the total) so a safe cube always remains available.
        keep = np.unique(np.concatenate([[0], np.arange(0, len(codes[j]), 2)]))
        codes[j], signs[j] = codes[j][keep], signs[j][keep]
    return codes, signs
