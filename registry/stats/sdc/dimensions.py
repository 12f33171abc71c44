"""Table dimensions: categories arranged in a tree whose root is the total margin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

TOTAL = "Total"


@dataclass(frozen=True)
class Dimension:
    """One classification variable; node 0 is the total, leaves are the categories."""

    name: str
    nodes: tuple[str, ...]
    parent: tuple[int, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError(f"dimension {self.name!r} has duplicate codes")
        if self.parent[0] != -1 or any(p < 0 or p >= i for i, p in enumerate(self.parent[1:], 1)):
            raise ValueError(f"dimension {self.name!r}: parents must precede their children")
        object.__setattr__(self, "_index", {code: i for i, code in enumerate(self.nodes)})

    @classmethod
    def flat(cls, name: str, categories: Sequence[str], total: str = TOTAL) -> Dimension:
        """Build a dimension whose categories sit directly under the total."""
        return cls(name, (total, *categories), (-1,) + (0,) * len(categories))

    @classmethod
    def tree(
        cls, name: str, children: Mapping[str, Sequence[str]], total: str = TOTAL
    ) -> Dimension:
        """Build a hierarchy from a parent → children mapping rooted at `total`."""
        nodes, parent = [total], [-1]
        queue = [0]
        while queue:
            i = queue.pop(0)
            for child in children.get(nodes[i], ()):
                nodes.append(child)
                parent.append(i)
                queue.append(len(nodes) - 1)
        return cls(name, tuple(nodes), tuple(parent))

    @property
    def size(self) -> int:
        """Return the number of codes including margins."""
        return len(self.nodes)

    def index(self, code: str) -> int:
        """Return the node index of a code."""
        return self._index[code]

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """Return the children of every node."""
        kids: list[list[int]] = [[] for _ in self.nodes]
        for i, p in enumerate(self.parent[1:], 1):
            kids[p].append(i)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def leaves(self) -> tuple[int, ...]:
        """Return the indices of the leaf categories."""
        return tuple(i for i, k in enumerate(self.children) if not k)

    @cached_property
    def ancestors(self) -> np.ndarray:
        """Return, per node, the node itself then its ancestors up to the root, padded with -1."""
        paths = [self._path_up(i, -1) for i in range(self.size)]
        out = np.full((self.size, max(map(len, paths))), -1, dtype=np.int64)
        for i, path in enumerate(paths):
            out[i, : len(path)] = path
        return out

    def _path_up(self, node: int, stop: int) -> list[int]:
        """Return the nodes from `node` up to, but excluding, `stop` (-1 includes the root)."""
        path = []
        while node != stop:
            path.append(node)
            node = self.parent[node]
        return path

    def _under(self, node: int) -> set[int]:
        """Return the leaves below (or equal to) a node."""
        return {leaf for leaf in self.leaves if node in self._path_up(leaf, -1)}

    def _lca(self, a: int, b: int) -> int:
        """Return the lowest common ancestor of two nodes."""
        up = set(self._path_up(a, -1))
        while b not in up:
            b = self.parent[b]
        return b

    def patterns(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the elementary balanced ±1 patterns along this dimension that move `node` by +1.

        A pattern changes the codes on a leaf's path up to the root (all +1), or on two leaves'
        paths up to their common ancestor (+1 on one side, -1 on the other), so every
        parent = Σ children constraint of the dimension stays balanced. Root patterns come first.
        """
        own = sorted(self._under(node))
        others = [leaf for leaf in self.leaves if leaf not in own]
        pats: list[list[tuple[int, int]]] = [[(n, 1) for n in self._path_up(a, -1)] for a in own]
        for a in own:
            for b in others:
                top = self._lca(a, b)
                pats.append(
                    [(n, 1) for n in self._path_up(a, top)]
                    + [(n, -1) for n in self._path_up(b, top)]
                )
        width = max(map(len, pats))
        codes = np.full((len(pats), width), -1, dtype=np.int64)
        signs = np.zeros((len(pats), width), dtype=np.int64)
        for i, pat in enumerate(pats):
            codes[i, : len(pat)] = [n for n, _ in pat]
            signs[i, : len(pat)] = [s for _, s in pat]
        return codes, signs
