"""Attacks on a linked release of all standard tables (synthetic persons, no database rows).

(a) the interval audit, rebuilt independently by an intruder who knows every additivity and
the drug ↔ drug-group equalities, narrows no suppressed cell below the safety range;
(b) differencing two consecutive monthly releases recovers no small cell more often than chance;
(c) the same persons give the same release, in any order.
"""

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from registry.episodes.codes import NOT_KNOWN, drug_group
from registry.stats.scheduled import build_model, protect_linked
from registry.stats.sdc import TOTAL, ReleaseModel
from tests.stats.conftest import YEAR

K = 10
N_PERSONS = 2500


def _synthetic(model, n: int, seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Return skewed leaf codes per dimension, consistent drug groups, months and record keys."""
    rng = np.random.default_rng(seed)
    records = {}
    for dim in model.dimensions:
        if dim.name == "drug_group":
            continue
        leaves = [dim.nodes[i] for i in dim.leaves]
        records[dim.name] = rng.choice(leaves, n, p=rng.dirichlet(np.full(len(leaves), 0.3)))
    records["drug_group"] = np.array([drug_group(d) or NOT_KNOWN for d in records["drug"]])
    months = rng.integers(1, 12, n)  # January to November
    return records, months, rng.integers(0, 2**32, n, dtype=np.uint64)


def _arrays(model, cells):
    """Return values (-1 where suppressed) and a suppression mask in cell order."""
    hidden = np.array([c["status"] == "suppressed" for c in cells])
    return np.array([-1 if c["value"] is None else c["value"] for c in cells]), hidden


def _intruder_constraints(model) -> sparse.csr_matrix:
    """Rebuild what an intruder knows: additivity of every table, and drug group = drug margin."""
    plain = ReleaseModel(model.dimensions, model.tables).constraints
    index = {tuple(model.key(i).items()): i for i in range(model.n_cells)}
    rows = []
    for key, i in index.items():
        k = dict(key)
        if k["drug_group"] == TOTAL and (k["drug"].startswith("group:") or k["drug"] == NOT_KNOWN):
            twin = {**k, "drug": TOTAL, "drug_group": k["drug"].removeprefix("group:")}
            j = index.get(tuple(twin.items()))
            if j is not None:
                rows.append((i, j))
    assert rows, "the release links drug margins and drug groups"
    eq = sparse.lil_matrix((len(rows), model.n_cells))
    for r, (i, j) in enumerate(rows):
        eq[r, i], eq[r, j] = 1, -1
    return sparse.vstack([plain, eq.tocsr()]).tocsr()


@pytest.fixture()
def linked(session):
    """Return the linked model of the standard tables and a synthetic population."""
    model = build_model(YEAR)
    return model, *_synthetic(model, N_PERSONS, seed=21)


def test_audit_across_all_tables_of_a_release_leaves_no_cell_narrowed(app, linked):
    model, records, _, keys = linked
    app.config["STATS_PERTURB"] = False
    try:
        cells, record = protect_linked(model, records, keys)
    finally:
        app.config["STATS_PERTURB"] = True
    assert record["audit_passed"]
    counts, _ = model.count(records, keys)
    values, hidden = _arrays(model, cells)
    assert np.array_equal(values[~hidden], counts[~hidden])
    assert not ((counts >= 1) & (counts < K) & ~hidden).any()  # no small cell published
    intruder = _intruder_constraints(model)
    assert abs(intruder @ counts).max() == 0  # what the intruder knows is true
    rng = np.random.default_rng(0)
    small = np.flatnonzero(hidden & (counts >= 1) & (counts < K))
    others = np.flatnonzero(hidden & ~((counts >= 1) & (counts < K)))
    sample = np.zeros(model.n_cells, dtype=bool)
    sample[rng.choice(small, min(30, len(small)), replace=False)] = True
    sample[rng.choice(others, min(10, len(others)), replace=False)] = True
    assert sample.sum() >= 20
    widths = [
        np.subtract(*_interval(intruder, counts, hidden, c)[::-1]) for c in np.flatnonzero(sample)
    ]
    assert min(widths) >= K - 1e-6


def _interval(a: sparse.csr_matrix, counts, hidden, cell: int) -> tuple[float, float]:
    """Return the min and max of one suppressed cell over the whole system, by plain linprog."""
    bounds = [(0, None) if h else (float(v), float(v)) for v, h in zip(counts, hidden, strict=True)]
    cost = np.zeros(a.shape[1])
    cost[cell] = 1.0
    zero = np.zeros(a.shape[0])
    lo = linprog(cost, A_eq=a, b_eq=zero, bounds=bounds, method="highs")
    hi = linprog(-cost, A_eq=a, b_eq=zero, bounds=bounds, method="highs")
    assert lo.status == 0
    return lo.x[cell], (hi.x[cell] if hi.status == 0 else np.inf)


def test_differencing_consecutive_monthly_releases_recovers_no_more_than_chance(linked):
    model, records, months, keys = linked
    releases = {}
    for through in (10, 11):
        keep = months <= through
        cells, _ = protect_linked(model, {k: v[keep] for k, v in records.items()}, keys[keep])
        counts, _ = model.count({k: v[keep] for k, v in records.items()}, keys[keep])
        releases[through] = (*_arrays(model, cells), counts)
    (v10, h10, c10), (v11, h11, c11) = releases[10], releases[11]
    truth = c11 - c10  # persons first admitted in November, per cell
    small = ~h10 & ~h11 & (truth >= 1) & (truth < K)  # margins are differenced too
    assert small.sum() >= 30
    exact_attack = (c11 - c10)[small] == truth[small]
    assert exact_attack.all()  # without noise, subtraction would reveal every one of them
    hits = (v11 - v10)[small] == truth[small]
    chance = np.bincount(truth[small]).max() / small.sum()  # always guessing the commonest size
    assert hits.mean() <= chance


def test_the_same_persons_give_the_same_release_in_any_order(linked):
    model, records, _, keys = linked
    first, record = protect_linked(model, records, keys)
    order = np.random.default_rng(5).permutation(len(keys))
    again, record_again = protect_linked(
        model, {k: v[order] for k, v in records.items()}, keys[order]
    )
    assert first == again
    assert record["digest"] == record_again["digest"]


def test_the_linked_release_hides_a_big_margin_only_beside_a_small_category(app, linked):
    """The grand total is published; so is every one-dimension margin of 10 or more, unless a
    category of the same variable holds 1..9 persons: then the total minus the other categories
    would reveal it, and one more category has to be hidden (drug groups are drug margins)."""
    model, records, _, keys = linked
    cells, record = protect_linked(model, records, keys)
    counts, _ = model.count(records, keys)
    _, hidden = _arrays(model, cells)
    level = (model.codes != 0).sum(axis=1)
    one_dim = (level == 1) & ~model.inner
    variable = np.argmax(model.codes != 0, axis=1)
    same = {model.axis("drug_group"): model.axis("drug")}
    variable = np.array([same.get(v, v) for v in variable])
    small = set(variable[one_dim & (counts >= 1) & (counts < K)].tolist())
    big = one_dim & (counts >= K)
    assert big.sum() > 50
    assert not hidden[level == 0].any()
    unexplained = [i for i in np.flatnonzero(hidden & big) if variable[i] not in small]
    assert not unexplained, [model.key(i) for i in unexplained]
    assert (big & ~hidden).sum() >= 0.8 * big.sum()
    assert record["audit_passed"] and record["narrowest_is_global"] is True
    assert record["narrowest_width"] >= K - 1e-6
