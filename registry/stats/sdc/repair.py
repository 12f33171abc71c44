"""LP repair: extra suppressions for a cell the interval audit found too narrow.

For a failing cell c we look for a deviation y (A y = 0, value + y ≥ 0) that moves c by +U and
another that moves it by -L (U + L = safety range). Cells already suppressed carry y for almost
free; published cells cost their weight per unit of the move, so the LP prefers small cells and
already-hidden ones. Every cell that carries a nonzero y is then suppressed, which makes both
deviations feasible: c's interval then spans at least [value - L, value + U]. Suppressing more
never narrows any other interval, so repeating audit → repair terminates.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from registry.stats.sdc import deadline
from registry.stats.sdc.lp import time_limit

HIDDEN_COST = 1e-3


def repair(
    constraints: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    weights: np.ndarray,
    cell: int,
    safety: float,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the suppression mask extended so that `cell` can move over the safety range.

    Also returns the deviations found, which the audit can verify as certificates.
    """
    hidden = hidden.copy()
    down = float(min(values[cell], np.ceil(safety / 2)))
    moves = []
    for move in (safety - down, -down):
        if move:
            y = _deviation(constraints, values, hidden, weights, cell, move)
            hidden[np.abs(y) > 1e-7] = True
            moves.append(np.where(np.abs(y) > 1e-7, y, 0.0))
    return hidden, moves


def _deviation(
    a: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    weights: np.ndarray,
    cell: int,
    move: float,
) -> np.ndarray:
    """Return the cheapest deviation moving `cell` by `move`."""
    n = a.shape[1]
    unit = np.where(hidden, HIDDEN_COST, weights / abs(move))
    cost = np.concatenate([unit, unit])  # y = plus - minus
    a_eq = sparse.vstack(
        [
            sparse.hstack([a, -a]),
            sparse.csr_matrix(([1.0, -1.0], ([0, 0], [cell, n + cell])), shape=(1, 2 * n)),
        ]
    ).tocsr()
    b_eq = np.concatenate([np.zeros(a.shape[0]), [move]])
    upper = np.concatenate([np.full(n, np.inf), values.astype(float)])
    res = linprog(
        cost,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([np.zeros(2 * n), upper]),
        method="highs",
        options=time_limit(),
    )
    deadline.check()  # a solve stopped by its time limit is no proof that no deviation exists
    if res.status != 0:
        raise RuntimeError(f"no deviation can move cell {cell} by {move}")
    return res.x[:n] - res.x[n:]
