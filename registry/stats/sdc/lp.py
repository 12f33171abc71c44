"""A reusable LP over one constraint block: change costs and bounds, solve again warm.

Uses HiGHS through its own Python package, highspy (the solver behind
``linprog(method="highs")``), because re-solving one model with a new objective from the previous
basis avoids rebuilding and presolving it for every cell.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy import sparse

from registry.stats.sdc import deadline


class LpModel:
    """min cost·x subject to A x = b and lower ≤ x ≤ upper, solved repeatedly."""

    def __init__(self, a: sparse.spmatrix, b: np.ndarray, upper: np.ndarray) -> None:
        self.a = sparse.csc_matrix(a)
        self.b = np.asarray(b, dtype=float)
        self.upper = np.asarray(upper, dtype=float).copy()
        self.lower = np.zeros(len(self.upper))
        self.n = self.a.shape[1]
        self.solves = 0
        self._h = None

    def _build(self):
        """Pass the model to a HiGHS instance once, on first use."""
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, self.a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = self.lower.copy()
        lp.col_upper_ = np.where(np.isinf(self.upper), highspy.kHighsInf, self.upper)
        lp.row_lower_ = self.b
        lp.row_upper_ = self.b
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n, self.a.shape[0]
        lp.a_matrix_.start_ = self.a.indptr
        lp.a_matrix_.index_ = self.a.indices
        lp.a_matrix_.value_ = self.a.data.astype(float)
        h.passModel(lp)
        return h

    def set_upper(self, col: int, upper: float) -> None:
        """Change the upper bound of one variable."""
        self.upper[col] = upper
        if self._h is not None:  # otherwise the bound goes in when the model is built
            high = highspy.kHighsInf if np.isinf(upper) else upper
            self._h.changeColBounds(col, self.lower[col], high)

    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of every variable (lower ≥ 0, upper may be infinite)."""
        self.lower = np.asarray(lower, dtype=float).copy()
        self.upper = np.asarray(upper, dtype=float).copy()
        if self._h is not None:
            high = np.where(np.isinf(self.upper), highspy.kHighsInf, self.upper)
            cols = np.arange(self.n, dtype=np.int32)
            self._h.changeColsBounds(self.n, cols, self.lower, high)

    def minimize(self, cost: np.ndarray) -> np.ndarray | None:
        """Return an optimal point, or None when the LP is unbounded.

        Anything else (infeasible, iteration limit, numerical trouble) raises: the audit must
        not mistake a solver failure for a wide interval.
        """
        self.solves += 1
        deadline.check()
        if self._h is None:
            self._h = self._build()
        self._h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost.astype(float))
        left = deadline.remaining()
        if left < np.inf:
            # HiGHS measures its limit on its own run clock, which may add up over solves.
            self._h.setOptionValue("time_limit", self._h.getRunTime() + left)
        self._h.run()
        if self.solves == 1:
            # The first solve is cold: presolve and dual simplex. Later solves start from the
            # previous optimal basis, which stays primal feasible when only the objective or one
            # bound changes, so primal simplex without presolve carries on from there.
            self._h.setOptionValue("presolve", "off")
            self._h.setOptionValue("simplex_strategy", 4)
        status = self._h.getModelStatus()
        if status == highspy.HighsModelStatus.kTimeLimit:
            raise deadline.DeadlinePassed()
        unbounded = status == highspy.HighsModelStatus.kUnbounded
        optimal = status == highspy.HighsModelStatus.kOptimal
        x = np.asarray(self._h.getSolution().col_value) if optimal else None
        return _checked(optimal, unbounded, x, self._h.modelStatusToString(status))


def _checked(optimal: bool, unbounded: bool, x: np.ndarray | None, message: str):
    """Return x when optimal, None when unbounded, and raise otherwise."""
    if optimal:
        return x
    if unbounded:
        return None
    raise RuntimeError(f"LP failed: {message}")
