"""A release: the cells of several linked tables and the additivity constraints between them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from registry.stats.sdc.dimensions import Dimension

KEY_MODULUS = 2**32


@dataclass(frozen=True)
class TableSpec:
    """A table: the cross-classification of some dimensions with all their margins."""

    name: str
    dims: tuple[str, ...]


class ReleaseModel:
    """All cells of all tables in one release, keyed by one code per release dimension.

    Dimensions a table does not use sit at their total, so tables that share a margin (for
    example region × sex and region × age band share the region margin) share that cell.
    """

    def __init__(self, dimensions: Sequence[Dimension], tables: Sequence[TableSpec]) -> None:
        self.dimensions = tuple(dimensions)
        self.tables = tuple(tables)
        self._pos = {d.name: i for i, d in enumerate(self.dimensions)}
        for table in self.tables:
            unknown = set(table.dims) - set(self._pos)
            if unknown or len(set(table.dims)) != len(table.dims):
                raise ValueError(f"table {table.name!r}: bad dimensions {table.dims}")
        radix = np.array([d.size for d in self.dimensions], dtype=np.int64)
        if np.prod(radix.astype(float)) >= 2**62:
            raise ValueError("release too large to key cells")
        self._strides = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]]).astype(np.int64)
        grids = [self._grid_codes(t) for t in self.tables]
        self._keys = np.unique(np.concatenate([g.ravel() for g in grids]))
        self.grids = tuple(self.cell_ids(g) for g in grids)

    @property
    def n_cells(self) -> int:
        """Return the number of distinct cells in the release."""
        return len(self._keys)

    def axis(self, name: str) -> int:
        """Return the position of a dimension in cell codes."""
        return self._pos[name]

    def _grid_codes(self, table: TableSpec) -> np.ndarray:
        """Return the encoded key of every cell of a table as an array shaped like the table."""
        sizes = [self.dimensions[self._pos[n]].size for n in table.dims]
        enc = np.zeros(sizes, dtype=np.int64)
        for j, name in enumerate(table.dims):
            shape = [1] * len(sizes)
            shape[j] = sizes[j]
            enc = (
                enc
                + np.arange(sizes[j], dtype=np.int64).reshape(shape)
                * self._strides[self._pos[name]]
            )
        return enc

    def cell_ids(self, encoded: np.ndarray) -> np.ndarray:
        """Map encoded keys to cell ids."""
        return np.searchsorted(self._keys, encoded)

    @cached_property
    def codes(self) -> np.ndarray:
        """Return the node index of every cell in every dimension (cells × dimensions)."""
        radix = np.array([d.size for d in self.dimensions], dtype=np.int64)
        return (self._keys[:, None] // self._strides[None, :]) % radix[None, :]

    def key(self, cell: int) -> dict[str, str]:
        """Return a cell's codes by dimension name."""
        return {d.name: d.nodes[c] for d, c in zip(self.dimensions, self.codes[cell], strict=True)}

    def find(self, **codes: str) -> int:
        """Return the id of the cell with the given codes (others at their total)."""
        enc = sum(
            int(self._strides[self._pos[n]]) * self.dimensions[self._pos[n]].index(c)
            for n, c in codes.items()
        )
        cell = int(np.searchsorted(self._keys, enc))
        if cell >= self.n_cells or self._keys[cell] != enc:
            raise KeyError(codes)
        return cell

    @cached_property
    def inner(self) -> np.ndarray:
        """Return a mask of cells that are inner (all leaves) in some table."""
        mask = np.zeros(self.n_cells, dtype=bool)
        for table, grid in zip(self.tables, self.grids, strict=True):
            dims = [self.dimensions[self._pos[n]] for n in table.dims]
            mask[grid[np.ix_(*[list(d.leaves) for d in dims])].ravel()] = True
        return mask

    @cached_property
    def constraints(self) -> sparse.csr_matrix:
        """Return the matrix A with A @ counts == 0: each margin minus the sum of its children."""
        rows, cols, vals, keys = [], [], [], []
        n_rows = 0
        for table, grid in zip(self.tables, self.grids, strict=True):
            for j, name in enumerate(table.dims):
                dim = self.dimensions[self._pos[name]]
                for node, kids in enumerate(dim.children):
                    if not kids:
                        continue
                    parents = np.moveaxis(grid, j, -1)[..., node].ravel()
                    children = np.moveaxis(grid, j, -1)[..., list(kids)].reshape(len(parents), -1)
                    ids = np.arange(n_rows, n_rows + len(parents))
                    keys.append(parents * len(self.dimensions) + self._pos[name])
                    rows += [ids, np.repeat(ids, children.shape[1])]
                    cols += [parents, children.ravel()]
                    vals += [np.ones(len(parents)), -np.ones(children.size)]
                    n_rows += len(parents)
        if not n_rows:
            return sparse.csr_matrix((0, self.n_cells))
        # Tables sharing a margin generate the same constraint twice; keep one.
        _, first = np.unique(np.concatenate(keys), return_index=True)
        renumber = np.full(n_rows, -1)
        renumber[np.sort(first)] = np.arange(len(first))
        r = renumber[np.concatenate(rows)]
        keep = r >= 0
        coo = sparse.coo_matrix(
            (np.concatenate(vals)[keep], (r[keep], np.concatenate(cols)[keep])),
            shape=(len(first), self.n_cells),
        )
        return coo.tocsr()

    def count(
        self,
        records: Mapping[str, np.ndarray],
        record_keys: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return exact counts and cell keys (sum of record keys mod 2**32) for every cell.

        `records` maps every dimension used by a table to one leaf code (str) or leaf node index
        (int) per person; `record_keys` holds each person's fixed integer key in [0, 2**32).
        With `weights`, each record is a group of that many persons and its key is the sum of
        theirs mod 2**32 (counts aggregated in the database).
        """
        rk = np.asarray(record_keys, dtype=np.uint64) % KEY_MODULUS
        w = None if weights is None else np.asarray(weights, dtype=np.int64)
        counts = np.zeros(self.n_cells, dtype=np.int64)
        keys = np.zeros(self.n_cells, dtype=np.uint64)
        leaf = {n: self._leaf_index(n, v) for n, v in records.items()}
        for table, grid in zip(self.tables, self.grids, strict=True):
            t_counts = np.zeros(self.n_cells, dtype=np.int64)
            t_keys = np.zeros(self.n_cells, dtype=np.uint64)
            for cell, ok in self._contributions(table, leaf):
                if w is None:
                    t_counts += np.bincount(cell[ok], minlength=self.n_cells)
                else:  # float sums of integers stay exact far beyond any population
                    sums = np.bincount(cell[ok], weights=w[ok], minlength=self.n_cells)
                    t_counts += np.rint(sums).astype(np.int64)
                t_keys += _key_sums(cell[ok], rk[ok], self.n_cells)
            # Shared cells get the same count from every table containing them: overwrite.
            ids = grid.ravel()
            counts[ids], keys[ids] = t_counts[ids], t_keys[ids] % KEY_MODULUS
        return counts, keys

    def _leaf_index(self, name: str, values: np.ndarray) -> np.ndarray:
        """Convert codes or node indices of one dimension into node indices."""
        dim = self.dimensions[self._pos[name]]
        values = np.asarray(values)
        if values.dtype.kind in "iu":
            idx = values.astype(np.int64)
        else:
            idx = np.array([dim.index(str(v)) for v in values], dtype=np.int64)
        if not np.isin(idx, dim.leaves).all():
            raise ValueError(f"records of {name!r} must carry leaf categories")
        return idx

    def _contributions(
        self, table: TableSpec, leaf: Mapping[str, np.ndarray]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield, per combination of hierarchy levels, each record's cell and a validity mask."""
        anc = [self.dimensions[self._pos[n]].ancestors[leaf[n]] for n in table.dims]
        for levels in np.ndindex(*[a.shape[1] for a in anc]):
            enc = np.zeros(len(anc[0]), dtype=np.int64)
            ok = np.ones(len(anc[0]), dtype=bool)
            for name, a, lvl in zip(table.dims, anc, levels, strict=True):
                node = a[:, lvl]
                ok &= node >= 0
                enc += np.maximum(node, 0) * self._strides[self._pos[name]]
            yield self.cell_ids(enc), ok


def _key_sums(cells: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Return per-cell sums of 32-bit keys modulo 2**32, exactly and in any record order.

    bincount sums in float64; splitting keys into 16-bit halves keeps every partial sum far
    below 2**53, so the result does not depend on rounding or on the order of records.
    """
    high = np.bincount(cells, weights=(keys >> np.uint64(16)).astype(float), minlength=n)
    low = np.bincount(cells, weights=(keys & np.uint64(0xFFFF)).astype(float), minlength=n)
    total = (high.astype(np.uint64) % KEY_MODULUS) * np.uint64(2**16) + low.astype(np.uint64)
    return total % KEY_MODULUS
