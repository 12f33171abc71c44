"""Secondary suppression by Gaussian elimination (the idea of GaussSuppression, Statistics Norway).

Every cell is a linear function of free parameters z: the inner cells of each table (a margin is
the sum of the inner cells below it). Cells shared by two tables and aliased cells are written
with the first table's parameters, and the facts that tie them to the other tables' (the release's
additivity rows, mapped to z) are known to anyone, like published cells.

A primary cell can be recovered exactly when its function lies in the span of what is published.
Candidates are taken in order, most worth publishing first; each is published unless its function
would bring a primary cell into that span, in which case it is hidden. Publishing eliminates one
parameter (one Gaussian pivot) from every function still unpublished, so "a primary cell becomes
recoverable" is "its function becomes zero". A tentative pivot that would zero a primary cell is
not applied.

This is linear protection only (every primary cell keeps some freedom); the interval audit and
its LP repair then widen what is too narrow. What is left of the functions after elimination
spans every way the hidden cells can still move together: those directions go to the audit as
certificates to verify.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from registry.stats.sdc.dimensions import Dimension
from registry.stats.sdc.model import ReleaseModel

EPS = 1e-9


def _descendants(dim: Dimension) -> sparse.csr_matrix:
    """Return the node × leaf matrix with a 1 where the leaf lies under (or is) the node."""
    leaves = list(dim.leaves)
    anc = dim.ancestors[leaves]  # leaf × path to the root
    cols = np.repeat(np.arange(len(leaves)), anc.shape[1])
    nodes = anc.ravel()
    keep = nodes >= 0
    data = np.ones(int(keep.sum()))
    return sparse.csr_matrix((data, (nodes[keep], cols[keep])), shape=(dim.size, len(leaves)))


def cell_functions(model: ReleaseModel) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Return every cell as a function of the tables' inner cells, and the facts linking tables."""
    rows, cols, offset = [], [], 0
    seen = np.zeros(model.n_cells, dtype=bool)
    for table, grid in zip(model.tables, model.grids, strict=True):
        dims = [model.dimensions[model.axis(n)] for n in table.dims]
        x = _descendants(dims[0])
        for dim in dims[1:]:
            x = sparse.kron(x, _descendants(dim), format="csr")
        ids = grid.ravel()
        new = np.flatnonzero(~seen[ids])
        part = x[new].tocoo()
        rows.append(ids[new][part.row])
        cols.append(part.col + offset)
        seen[ids] = True
        offset += x.shape[1]
    r, c = np.concatenate(rows), np.concatenate(cols)
    functions = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(model.n_cells, offset))
    facts = (model.constraints @ functions).tocsr()
    facts.eliminate_zeros()
    return functions, facts[np.diff(facts.indptr) > 0]


class _Elimination:
    """Dense Gaussian elimination of published cell functions, keeping primary ones nonzero."""

    def __init__(self, functions: np.ndarray, primary: np.ndarray) -> None:
        self.m = np.asfortranarray(functions)
        self.primary = primary
        self.row_nnz = np.count_nonzero(self.m, axis=1)
        self.col_nnz = np.count_nonzero(self.m, axis=0)

    def publish(self, row: int, check: bool = True) -> bool:
        """Eliminate one published function; refuse (False) if it would expose a primary cell."""
        f = self.m[row]
        support = np.flatnonzero(np.abs(f) > EPS)
        if not len(support):
            return True  # already recoverable from what is published: publishing adds nothing
        # Pivot on the sparsest column (least fill-in), then the largest coefficient.
        pivot = support[np.lexsort((-np.abs(f[support]), self.col_nnz[support]))[0]]
        touched = np.flatnonzero(self.m[:, pivot])
        old = self.m[np.ix_(touched, support)]
        new = old - np.outer(self.m[touched, pivot] / f[pivot], f[support])
        new[np.abs(new) < EPS] = 0.0
        old_nz, new_nz = np.count_nonzero(old, axis=1), np.count_nonzero(new, axis=1)
        after = self.row_nnz[touched] - old_nz + new_nz
        if check and (self.primary[touched] & (after == 0)).any():
            return False
        self.m[np.ix_(touched, support)] = new
        self.row_nnz[touched] = after
        self.col_nnz[support] += np.count_nonzero(new, axis=0) - np.count_nonzero(old, axis=0)
        return True


def gauss_suppress(
    model: ReleaseModel,
    counts: np.ndarray,
    primary: np.ndarray,
    forced: np.ndarray,
    order: np.ndarray,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Return the suppression mask and the directions in which the hidden cells can still move.

    The facts linking tables hold first. `forced` cells (the grand total, one-dimension margins)
    are published next, unless one alone would expose a primary cell; then the candidates in
    `order` (most worth publishing first: zero cells lead, so a zero is hidden only where no
    margin can be kept otherwise). Hidden secondary cells that end up recoverable from what is
    published are published after all: hiding them protects nothing.
    """
    n = model.n_cells
    functions, facts = cell_functions(model)
    stacked = sparse.vstack([functions, facts]).tocsc()
    is_primary = np.concatenate([primary, np.zeros(facts.shape[0], dtype=bool)])
    elim = _Elimination(stacked.toarray(), is_primary)
    for row in range(n, n + facts.shape[0]):
        elim.publish(row, check=False)
    hidden = primary.copy()
    # Biggest first: when the grand total and the margins of a dimension would expose one of its
    # categories (1..9 persons), the margin hidden instead is the smallest.
    forced_order = np.flatnonzero(forced & ~primary)
    forced_order = forced_order[np.argsort(-counts[forced_order], kind="stable")]
    for cell in [*forced_order, *order]:
        if not elim.publish(int(cell)):
            hidden[cell] = True
    secondary = np.flatnonzero(hidden & ~primary)
    hidden[secondary[elim.row_nnz[secondary] == 0]] = False
    directions = elim.m[:n][:, elim.col_nnz > 0] * hidden[:, None]
    return hidden, sparse.csr_matrix(directions.T)
