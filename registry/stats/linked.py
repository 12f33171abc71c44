"""Linked releases: tables that classify one variable at two levels share equalities.

Primary drug (group → drug) and primary drug group are the same variable; in one release the
drug table's group margin and the drug-group table's category are the same number. Without that
equality in the constraint system the interval audit would miss what an intruder combines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from registry.stats.sdc import Dimension, ReleaseModel, TableSpec


@dataclass(frozen=True)
class Alias:
    """Codes of dimension `left` that equal codes of dimension `right` (others at total)."""

    left: str
    right: str
    codes: Mapping[str, str]


class LinkedReleaseModel(ReleaseModel):
    """A release model whose constraints also equate aliased margins across tables."""

    def __init__(
        self, dimensions: Sequence[Dimension], tables: Sequence[TableSpec], aliases: Sequence[Alias]
    ) -> None:
        super().__init__(dimensions, tables)
        self.aliases = tuple(aliases)

    @cached_property
    def constraints(self) -> sparse.csr_matrix:
        """Return the additivity constraints plus one equality per aliased pair of cells."""
        base = ReleaseModel.constraints.func(self)
        pairs = [p for alias in self.aliases for p in self._alias_pairs(alias)]
        if not pairs:
            return base
        left, right = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        rows = np.arange(len(left))
        extra = sparse.coo_matrix(
            (
                np.concatenate([np.ones(len(left)), -np.ones(len(right))]),
                (np.concatenate([rows, rows]), np.concatenate([left, right])),
            ),
            shape=(len(left), self.n_cells),
        )
        return sparse.vstack([base, extra]).tocsr()

    def _alias_pairs(self, alias: Alias) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return (left cell ids, right cell ids) of every aliased pair present in the release."""
        a, b = self.axis(alias.left), self.axis(alias.right)
        dim_a, dim_b = self.dimensions[a], self.dimensions[b]
        keys = self._keys
        out = []
        for code_a, code_b in alias.codes.items():
            node_a, node_b = dim_a.index(code_a), dim_b.index(code_b)
            mine = np.flatnonzero((self.codes[:, a] == node_a) & (self.codes[:, b] == 0))
            target = keys[mine] - node_a * self._strides[a] + node_b * self._strides[b]
            pos = np.minimum(np.searchsorted(keys, target), len(keys) - 1)
            found = keys[pos] == target
            out.append((mine[found], pos[found]))
        return out
