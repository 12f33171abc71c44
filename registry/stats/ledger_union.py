"""The union audit of a year's releases: every released cell as a sum of atoms, and its LPs.

Cells are conjunctions "variable in these leaves"; the variables are modelled jointly on the
maximal cliques of a triangulation of their interaction graph (a junction tree: tables on its
cliques that agree on the separators are margins of one joint table). See ledger.py and
registry/stats/README.md ("Why no set of queries unpicks a cell").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import sparse

from registry.episodes.codes import NOT_KNOWN
from registry.errors import ValidationFailed
from registry.stats.population import count_groups, leaf_codes
from registry.stats.sdc import ReleaseModel
from registry.stats.sdc.audit import audit_targets

OUTSIDE = "\x00outside"  # a code no release counts: not a leaf of the variable
# Below this many combinations of a clique's leaves, every combination is an atom: exact.
FULL_PRODUCT_ATOMS = 20_000
REPAIR_ROUNDS = 3
# Most cells a release's filtered variables are expanded to (see expansions()).
EXPAND_CELLS = 20_000


@dataclass
class Entry:
    """One release as the ledger sees it: tables, cell codes, hidden flags, restrictions."""

    tables: tuple[tuple[str, ...], ...]
    codes: list[tuple[str, ...]]  # per cell, one code per dimension of `dims`
    hidden: np.ndarray
    restrict: dict[str, tuple[str, ...]] = field(default_factory=dict)  # variable → leaves

    @property
    def dims(self) -> tuple[str, ...]:
        """Return the release's dimensions in order of first use."""
        return tuple(dict.fromkeys(d for t in self.tables for d in t))

    @property
    def variables(self) -> set[str]:
        """Return every variable the release depends on: dimensions and restrictions."""
        return {*self.dims, *self.restrict}

    def to_json(self) -> dict:
        """Return the entry as stored: codes and flags only."""
        return {
            "tables": [list(t) for t in self.tables],
            "restrict": {k: list(v) for k, v in sorted(self.restrict.items())},
            "codes": [list(c) for c in self.codes],
            "hidden": [int(h) for h in self.hidden],
        }

    @classmethod
    def from_json(cls, data: dict) -> Entry:
        """Rebuild an entry from its stored form."""
        return cls(
            tuple(tuple(t) for t in data["tables"]),
            [tuple(c) for c in data["codes"]],
            np.array(data["hidden"], dtype=bool),
            {k: tuple(v) for k, v in data["restrict"].items()},
        )


def entry_of(model: ReleaseModel, hidden: np.ndarray, restrict: dict) -> Entry:
    """Return the ledger entry of a protected release model."""
    tables = tuple(t.dims for t in model.tables)
    names = [d.name for d in model.dimensions]
    codes = [tuple(model.key(i)[n] for n in names) for i in range(model.n_cells)]
    return Entry(tables, codes, np.asarray(hidden, dtype=bool), dict(restrict))


# -- the year's variables and cells ---------------------------------------------------------

# Dimensions that classify the same variable as a finer one: they are modelled on the finer one.
COARSER = {"drug_group": "drug", "quarter": "period"}
Signature = tuple[tuple[str, frozenset], ...]


def base(name: str) -> str:
    """Return the variable a dimension classifies (its finest dimension)."""
    return COARSER.get(name, name)


class Space:
    """The leaves of the year's variables, and which leaves each released code allows."""

    def __init__(self, year: int) -> None:
        self.year = year
        self._leaves: dict[str, tuple[str, ...]] = {}
        self._allowed: dict[tuple[str, str], frozenset] = {}
        self._maps: dict[str, dict[str, str]] = {}

    def leaves(self, var: str) -> tuple[str, ...]:
        """Return a variable's leaves, sorted, then OUTSIDE (codes no dimension declares)."""
        if var not in self._leaves:
            dim = _dimension(var, self.year)
            self._leaves[var] = (*sorted(dim.nodes[i] for i in dim.leaves), OUTSIDE)
        return self._leaves[var]

    def to_dim(self, name: str) -> dict[str, str]:
        """Return each leaf of the dimension's variable mapped to the dimension's own leaf."""
        if name not in self._maps:
            var_leaves = self.leaves(base(name))[:-1]
            own = set(self.leaves(name)[:-1])
            if name == "drug_group":
                mapped = leaf_codes(name, self.year, np.array(var_leaves, dtype=object))
            elif name == "quarter":
                months = np.array([int(c[-2:]) for c in var_leaves], dtype=object)
                mapped = leaf_codes(name, self.year, months)
            else:
                mapped = np.array(var_leaves, dtype=object)
            fallback = NOT_KNOWN if NOT_KNOWN in own else OUTSIDE
            self._maps[name] = {
                v: (m if m in own else fallback) for v, m in zip(var_leaves, mapped, strict=True)
            }
        return self._maps[name]

    def allowed(self, name: str, codes: tuple[str, ...]) -> frozenset:
        """Return the leaves of the dimension's variable counted under any of these codes."""
        key = (name, codes)
        if key not in self._allowed:
            tree = _dimension(name, self.year)
            under: set[str] = set()
            for code in codes:
                node = tree.index(code)
                under |= {tree.nodes[i] for i in tree.leaves if node in tree.ancestors[i]}
            self._allowed[key] = frozenset(v for v, d in self.to_dim(name).items() if d in under)
        return self._allowed[key]

    def signatures(self, entry: Entry) -> list[Signature]:
        """Return each cell of the entry as the leaves it allows per variable."""
        fixed: dict[str, frozenset] = {}
        for name, leaves in entry.restrict.items():
            fixed = _meet(fixed, base(name), self.allowed(name, tuple(leaves)))
        dims = entry.dims
        out = []
        for codes in entry.codes:
            sig = dict(fixed)
            for name, code in zip(dims, codes, strict=True):
                sig = _meet(sig, base(name), self.allowed(name, (code,)))
            # Every declared leaf is no condition at all: persons carry declared codes (unknown
            # values count as not known), so "sex = Total" is the same persons in any table.
            out.append(tuple(sorted((v, a) for v, a in sig.items() if a != self.every(v))))
        return out

    def every(self, var: str) -> frozenset:
        """Return every declared leaf of a variable."""
        return frozenset(self.leaves(var)[:-1])


def _meet(sig: dict, var: str, allowed: frozenset) -> dict:
    return {**sig, var: sig[var] & allowed if var in sig else allowed}


def _dimension(name: str, year: int):
    from registry.stats.query import sdc_dimension  # query imports the ledger

    return sdc_dimension(name, year)


def overlap(a: Signature, b: Signature) -> bool:
    """Tell whether two cells can share a person (every common variable has a common leaf)."""
    other = dict(b)
    return all(not (var in other and not (allowed & other[var])) for var, allowed in a)


# -- cliques: the variables modelled jointly ------------------------------------------------


def cliques(sets: list[frozenset]) -> list[tuple[str, ...]]:
    """Return the maximal cliques of a triangulation of the sets' interaction graph.

    Every set lies within one clique, and the cliques form a junction tree, so tables on the
    cliques that agree on their separators are margins of one joint table: modelling the
    cliques is as exact as modelling the joint distribution of every variable.
    """
    names = sorted(set().union(*sets)) if sets else []
    adj = {v: set() for v in names}
    for group in sets:
        for a, b in combinations(sorted(group), 2):
            adj[a].add(b)
            adj[b].add(a)
    left, found = set(names), []
    while left:

        def fill(v: str) -> tuple[int, int, str]:
            nb = adj[v] & left
            missing = sum(1 for a, b in combinations(sorted(nb), 2) if b not in adj[a])
            return missing, len(nb), v

        v = min(left, key=fill)
        nb = adj[v] & left
        for a, b in combinations(sorted(nb), 2):
            adj[a].add(b)
            adj[b].add(a)
        found.append(frozenset(nb | {v}))
        left.remove(v)
    maximal = {c for c in found if not any(c < d for d in found)}
    return [tuple(sorted(c)) for c in sorted(maximal, key=lambda c: (-len(c), sorted(c)))]


def junction_tree(parts: list[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Return the edges of a maximum-weight spanning tree on shared variables (Kruskal)."""
    edges = sorted(
        ((len(set(a) & set(b)), i, j) for (i, a), (j, b) in combinations(enumerate(parts), 2)),
        key=lambda e: (-e[0], e[1], e[2]),
    )
    root = list(range(len(parts)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    tree = []
    for _, i, j in edges:
        if find(i) != find(j):
            root[find(i)] = find(j)
            tree.append((i, j))
    return tree


@dataclass
class Clique:
    """The joint table of some variables: its atoms (codes per variable) and counts."""

    names: tuple[str, ...]
    codes: dict[str, np.ndarray]
    counts: np.ndarray
    _masks: dict = field(default_factory=dict)

    def mask(self, sig: Signature) -> np.ndarray:
        """Return which atoms a cell sums."""
        out = np.ones(len(self.counts), dtype=bool)
        for var, allowed in sig:
            key = (var, allowed)
            if key not in self._masks:
                self._masks[key] = np.isin(self.codes[var], list(allowed))
            out &= self._masks[key]
        return out


def count_cliques(
    measure: str, year: int, space: Space, parts: list[tuple[str, ...]]
) -> list[Clique]:
    """Count each clique's atoms; every combination is an atom when there are few."""
    out = []
    for names, groups in zip(parts, count_groups(measure, year, parts), strict=True):
        columns = []
        for name in names:
            found = leaf_codes(name, year, groups.values[name])
            known = set(space.leaves(name)[:-1])
            fallback = NOT_KNOWN if NOT_KNOWN in known else OUTSIDE
            columns.append([c if c in known else fallback for c in found])
        rows = np.array(columns, dtype=object).T.astype(str).reshape(len(groups.counts), len(names))
        counts = groups.counts.astype(np.int64)
        # Codes outside the declared leaves are atoms only where the data holds them: an
        # intruder may take every person to carry declared codes.
        if np.prod([float(len(space.leaves(n)) - 1) for n in names]) <= FULL_PRODUCT_ATOMS:
            grids = np.meshgrid(*[space.leaves(n)[:-1] for n in names], indexing="ij")
            every = np.stack([g.ravel() for g in grids], axis=1).astype(str)
            rows = np.concatenate([rows, every])
            counts = np.concatenate([counts, np.zeros(len(every), dtype=np.int64)])
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        summed = np.bincount(inverse.ravel(), weights=counts, minlength=len(unique))
        codes = {n: unique[:, j] for j, n in enumerate(names)}
        out.append(Clique(names, codes, np.rint(summed).astype(np.int64)))
    return out


# -- the union audit ------------------------------------------------------------------------


@dataclass
class Union:
    """Every released cell of a year, deduplicated, over the cliques' atoms."""

    signatures: list[Signature]  # distinct cells
    constraints: sparse.csr_matrix  # over [atoms of every clique, distinct cells]
    atom_counts: np.ndarray
    counts: np.ndarray  # each distinct cell's exact count
    old_published: np.ndarray
    old_hidden: np.ndarray
    new_rows: np.ndarray  # the distinct cell of each cell of the new release
    threshold: int
    zero_atoms: np.ndarray  # atoms of cells published earlier as 0 (with their true count 0)

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the new cells hidden earlier (never published) and those published earlier."""
        pub = self.old_published[self.new_rows]
        return self.old_hidden[self.new_rows] & ~pub, pub


def expansions(space: Space, entry: Entry) -> list[Signature]:
    """Return the entry's cells at every node of each filtered variable (few enough only)."""
    if not entry.restrict:
        return []
    plain = Entry(entry.tables, entry.codes, entry.hidden)
    cells = set(space.signatures(plain))
    names = sorted({base(n) for n in entry.restrict})
    nodes = [[space.allowed(v, (code,)) for code in _dimension(v, space.year).nodes] for v in names]
    if len(cells) * np.prod([float(len(n)) for n in nodes]) > EXPAND_CELLS:
        return []  # the monthly release's months: see registry/stats/README.md
    out = []
    for sig in cells:
        for combo in itertools.product(*nodes):
            cell = dict(sig)
            for v, allowed in zip(names, combo, strict=True):
                cell = _meet(cell, v, allowed)
            out.append(tuple(sorted(cell.items())))
    return out


def build_union(year: int, measure: str, entries: list[Entry], new: Entry, threshold: int) -> Union:
    """Return the distinct cells of earlier entries and the new one, as sums of atoms."""
    space = Space(year)
    seen: dict[Signature, int] = {}
    ids = []
    for entry in [*entries, new]:
        ids += [seen.setdefault(sig, len(seen)) for sig in space.signatures(entry)]
    ids = np.array(ids, dtype=np.int64)
    sigs = list(seen)
    parts = cliques([frozenset(v for v, _ in sig) for sig in sigs])
    found = count_cliques(measure, year, space, parts)
    offsets = np.cumsum([0, *(len(c.counts) for c in found)])
    n_atoms = int(offsets[-1])
    rows, cols, vals = [], [], []
    n_rows = 0
    # Cliques agree on the variables they share (junction tree edges).
    for i, j in junction_tree(parts):
        shared = [v for v in parts[i] if v in parts[j]]
        keys = [np.array([""] * len(found[k].counts), dtype=object) for k in (i, j)]
        for v in shared:
            keys = [
                k + "\x1f" + found[c].codes[v].astype(object)
                for k, c in zip(keys, (i, j), strict=True)
            ]
        groups, inverse = np.unique(np.concatenate(keys).astype(str), return_inverse=True)
        inverse = inverse.ravel()
        n_i = len(found[i].counts)
        rows += [n_rows + inverse[:n_i], n_rows + inverse[n_i:]]
        cols += [offsets[i] + np.arange(n_i), offsets[j] + np.arange(len(found[j].counts))]
        vals += [np.ones(n_i), -np.ones(len(found[j].counts))]
        n_rows += len(groups)
    atom_counts = np.concatenate([c.counts for c in found])

    def atoms_of(sig: Signature) -> np.ndarray:
        names = {v for v, _ in sig}
        k = next(k for k, p in enumerate(parts) if names <= set(p))
        return offsets[k] + np.flatnonzero(found[k].mask(sig))

    # Cells nobody released but anyone could ask for (a release's tables at every node of its
    # filtered variables) holding 1..k-1 persons are watched like hidden ones.
    n_released = len(sigs)
    for entry in [*entries, new]:
        for sig in expansions(space, entry):
            if sig not in seen and 0 < atom_counts[atoms_of(sig)].sum() < threshold:
                seen[sig] = len(seen)
                sigs.append(sig)
    watched = np.arange(len(sigs)) >= n_released
    # Each distinct cell is the sum of its atoms in one clique holding all its variables.
    counts = np.zeros(len(sigs), dtype=np.int64)
    for c, sig in enumerate(sigs):
        atoms = atoms_of(sig)
        counts[c] = atom_counts[atoms].sum()
        rows += [np.full(len(atoms) + 1, n_rows + c)]
        cols += [np.concatenate([atoms, [n_atoms + c]])]
        vals += [np.concatenate([-np.ones(len(atoms)), [1.0]])]
    a = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows + len(sigs), n_atoms + len(sigs)),
    )
    n_old = len(ids) - len(new.codes)
    flags = np.concatenate([e.hidden for e in entries]) if entries else np.zeros(0, dtype=bool)
    old_published = _mark(len(sigs), ids[:n_old][~flags])
    old_hidden = _mark(len(sigs), ids[:n_old][flags])
    old_hidden |= watched
    cell_rows = a[n_rows:, :n_atoms]
    zero = np.flatnonzero(old_published & (counts == 0))
    zero_atoms = np.asarray(abs(cell_rows[zero]).sum(axis=0)).ravel() > 0
    return Union(
        sigs, a, atom_counts, counts, old_published, old_hidden, ids[n_old:], threshold, zero_atoms
    )


def audit_union(union: Union, new_hidden: np.ndarray, safety: float):
    """Audit every hidden or watched cell of 1..k-1 persons over everything published.

    Returns None when the new release publishes nothing new and hides no new such cell: the
    union is then the one already audited.
    """
    n_cells = len(union.signatures)
    n_atoms = len(union.atom_counts)
    new_pub = _mark(n_cells, union.new_rows[~new_hidden])
    published = union.old_published | new_pub
    hidden = (union.old_hidden | _mark(n_cells, union.new_rows[new_hidden])) & ~published
    # Sensitive cells: 1..k-1 persons. A hidden cell of k or more is hidden only to protect
    # these (its own release's audit proves it wide on its own); one of nobody describes no one,
    # and with empty atoms fixed at 0 it would be pinned at 0 by construction.
    sensitive = hidden & (union.counts > 0) & (union.counts < union.threshold)
    if not (new_pub & ~union.old_published).any() and not (sensitive & ~union.old_hidden).any():
        return None
    # Atoms of a cell published as 0 are 0 in every feasible point: known, not unknown.
    unknown = np.concatenate([~union.zero_atoms, ~published])
    for c in np.flatnonzero(new_pub & (union.counts == 0)):
        row = union.constraints.getrow(union.constraints.shape[0] - n_cells + c)
        unknown[row.indices[row.indices < n_atoms]] = False
    values = np.concatenate([union.atom_counts, union.counts]).astype(float)
    targets = np.concatenate([np.zeros(n_atoms, dtype=bool), sensitive])
    report = audit_targets(union.constraints, values, unknown, targets, safety)
    report.cells = report.cells - n_atoms
    return report


def _mark(n: int, where: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[where] = True
    return out


def repair_union(
    union: Union,
    new_hidden: np.ndarray,
    keep: np.ndarray,
    safety: float,
    hide_all: bool = False,
    own_repair: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, dict]:
    """Hide more of the new release until the union audit passes; refuse (422) otherwise.

    Each round first lets `own_repair(hidden, failing new cells, their lowest values)` hide
    what moves each failing cell of the new release by the safety range within its own tables
    (the pipeline's LP repair, steered off cells published earlier), then hides the new
    release's own published cells that can share persons with a failing cell (margins in
    `keep` only in the last round). Hiding more never narrows. With `hide_all` (scheduled
    releases, which cannot be refused), what still fails hides every cell not published earlier.
    """
    new_hidden = new_hidden.copy()
    own = ~union.old_published[union.new_rows]  # published earlier: hiding them changes nothing
    for rnd in range(REPAIR_ROUNDS + 1):
        report = audit_union(union, new_hidden, safety)
        if report is None:
            return new_hidden, {"passed": True, "nothing_new": True}
        if report.passed:
            return new_hidden, _summary(report, rnd)
        if rnd == REPAIR_ROUNDS:
            break
        low = dict(zip(report.cells.tolist(), report.lower.tolist(), strict=True))
        mine = np.flatnonzero(np.isin(union.new_rows, report.failing))
        before = new_hidden.copy()
        if own_repair is not None and len(mine):
            lows = np.array([low[int(union.new_rows[i])] for i in mine])
            new_hidden = own_repair(new_hidden, mine, lows)
        if (new_hidden != before).any():
            continue
        failing = [union.signatures[c] for c in report.failing]
        candidates = ~new_hidden & own
        if rnd < REPAIR_ROUNDS - 1:
            candidates &= ~keep
        for i in np.flatnonzero(candidates):
            sig = union.signatures[union.new_rows[i]]
            candidates[i] = any(overlap(sig, f) for f in failing)
        if not candidates.any():
            break
        new_hidden |= candidates
    if hide_all:
        # A release that publishes nothing new tells nothing new: it always passes.
        new_hidden |= own
        return new_hidden, {"passed": True, "hidden_all_new": True}
    raise ValidationFailed(
        "this table cannot be released without narrowing a cell hidden in this or an earlier "
        "release of the year",
        errors={
            "dimensions": [
                "together with what was released before for this year, the answer would narrow"
                " a hidden cell; ask for another table or other filters"
            ]
        },
    )


def _summary(report, rounds: int) -> dict:
    """Return what the release record says about the union audit."""
    width = report.proven_min_width
    return {
        "passed": True,
        "hidden_cells_audited": len(report.cells),
        "proven_min_width": None if width is None or not np.isfinite(width) else round(width, 6),
        "repair_rounds": rounds,
    }
