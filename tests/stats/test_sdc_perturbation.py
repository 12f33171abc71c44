"""Cell-key perturbation: the pTable, consistency, determinism and the differencing attack."""

import json

import numpy as np
import pytest

from registry.stats.sdc import (
    CellStatus,
    Dimension,
    ReleaseModel,
    SdcParams,
    TableSpec,
    default_ptable,
    new_record_keys,
    protect_records,
    protect_release,
)
from registry.stats.sdc.synthetic import dimensions, population, record_keys
from tests.stats.sdc_helpers import exact_intervals, random_release


@pytest.mark.parametrize("n", range(60))
def test_ptable_rows_are_unbiased_and_never_publish_one_or_two(n):
    dist = default_ptable().probabilities(n)
    assert sum(dist.values()) == pytest.approx(1)
    assert sum(v * p for v, p in dist.items()) == pytest.approx(n)
    assert min(dist) >= 0
    assert not {1, 2} & set(dist)
    assert max(abs(v - n) for v in dist) <= max(3, n)
    if n:
        assert dist.get(n, 0) <= 0.2 + 1e-9  # a count is rarely published unchanged


def test_variance_one_ptable_with_two_noise_levels_is_valid():
    table = default_ptable(2, (0.05, 0.25, 0.4, 0.25, 0.05))
    for n in range(40):
        dist = table.probabilities(n)
        assert sum(v * p for v, p in dist.items()) == pytest.approx(n)
        assert not {1, 2} & set(dist)
        assert min(dist) >= 0


def test_perturb_follows_the_ptable_and_never_outputs_one_or_two():
    rng = np.random.default_rng(0)
    table = default_ptable()
    counts = rng.integers(0, 40, 200_000)
    keys = rng.integers(0, 2**32, counts.size, dtype=np.uint64)
    out = table.perturb(counts, keys)
    assert not np.isin(out, [1, 2]).any()
    assert (out >= 0).all()
    assert (out[counts == 0] == 0).all()
    for n in (1, 4, 17):
        sel = out[counts == n]
        assert sel.mean() == pytest.approx(n, abs=0.1)
        for v, p in table.probabilities(n).items():
            assert (sel == v).mean() == pytest.approx(p, abs=0.02)


def test_same_input_twice_gives_identical_release():
    model, counts, keys = random_release({"a": 6, "b": 3, "c": 4}, [("a", "b"), ("a", "c")], 300, 5)
    first = protect_release(model, counts, keys, SdcParams(threshold=5))
    second = protect_release(model, counts.copy(), keys.copy(), SdcParams(threshold=5))
    assert np.array_equal(first.values, second.values)
    assert np.array_equal(first.status, second.status)
    assert first.record()["digest"] == second.record()["digest"]


def test_release_from_records_is_json_ready():
    dims = dimensions(4)
    model = ReleaseModel(dims, [TableSpec("rs", ("region", "sex"))])
    release = protect_records(model, population(500, 4), new_record_keys(500))
    data = release.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {c["status"] for c in data["cells"]} <= {s.value for s in CellStatus}
    assert data["record"]["audit_passed"]


def test_same_cell_gets_same_value_in_different_releases():
    dims = dimensions(6)
    pop, keys = population(3000, 6, seed=3), record_keys(3000)
    by_sex = ReleaseModel(dims, [TableSpec("rs", ("region", "sex"))])
    by_age = ReleaseModel(dims, [TableSpec("ra", ("region", "age"))])
    a = protect_release(by_sex, *by_sex.count(pop, keys))
    b = protect_release(by_age, *by_age.count(pop, keys))
    shared = [f"R{i:02d}" for i in range(6)]
    both = [
        (a.value(region=r), b.value(region=r))
        for r in shared
        if a.value(region=r) is not None and b.value(region=r) is not None
    ]
    assert len(both) >= 2  # suppression differs per release; published values must agree
    assert all(x == y for x, y in both)
    assert a.value() == b.value()


def _attack_population(seed: int):
    """Persons in 60 regions × 8 drug groups, with a rare oldest age band."""
    rng = np.random.default_rng(seed)
    n = 30_000
    region = rng.choice(60, n, p=np.linspace(2, 1, 60) / np.linspace(2, 1, 60).sum()) + 1
    drug = rng.choice(8, n, p=[0.35, 0.2, 0.12, 0.1, 0.1, 0.06, 0.04, 0.03]) + 1
    old = rng.random(n) < 0.05
    keys = rng.integers(0, 2**32, n, dtype=np.uint64)
    return region, drug, old, keys


def _query(region, drug, keys, params):
    """Publish region × drug group through the pipeline as its own release."""
    dims = [Dimension.flat("region", [f"R{i}" for i in range(60)]), dimensions()[1]]
    model = ReleaseModel(dims, [TableSpec("rd", ("region", "drug"))])
    counts, cell_keys = model.count({"region": region, "drug": drug}, keys)
    inner = model.codes.min(axis=1) > 0  # region × drug cells only
    return protect_release(model, counts, cell_keys, params), counts, inner


def test_differencing_overlapping_queries_recovers_no_more_than_chance():
    region, drug, old, keys = _attack_population(11)
    hits = {"exact values": [], "cell-key": []}
    truth_all = []
    for label, perturb in (("exact values", False), ("cell-key", True)):
        params = SdcParams(threshold=10, perturb=perturb)
        full, counts_full, inner = _query(region, drug, keys, params)
        young, counts_young, _ = _query(region[~old], drug[~old], keys[~old], params)
        truth = counts_full - counts_young  # persons in the oldest band of each cell
        both = (full.status != CellStatus.SUPPRESSED) & (young.status != CellStatus.SUPPRESSED)
        small = inner & both & (truth >= 1) & (truth < 10)
        hits[label] = (full.values - young.values)[small] == truth[small]
        truth_all = truth[small]
    assert len(truth_all) >= 200
    # Chance: an intruder who knows how small cells are distributed and always guesses the mode.
    chance = np.bincount(truth_all).max() / len(truth_all)
    assert hits["exact values"].mean() == 1.0  # the attack works without noise
    assert hits["cell-key"].mean() <= chance


def test_in_release_overlap_is_protected_by_suppression():
    # "All ages" and "all but the oldest band" in one release: the audit covers the difference.
    age = Dimension.tree("age", {"Total": ["old", "not old"], "not old": ["young", "middle"]})
    region = Dimension.flat("region", [f"R{i}" for i in range(12)])
    model = ReleaseModel([region, age], [TableSpec("ra", ("region", "age"))])
    rng = np.random.default_rng(4)
    n = 1500
    records = {
        "region": rng.integers(1, 13, n),
        "age": rng.choice(list(age.leaves), n, p=[0.04, 0.5, 0.46]),
    }
    keys = rng.integers(0, 2**32, n, dtype=np.uint64)
    counts, cell_keys = model.count(records, keys)
    release = protect_release(model, counts, cell_keys)
    hidden = release.status == CellStatus.SUPPRESSED
    old = [model.find(region=f"R{i}", age="old") for i in range(12)]
    assert any(0 < counts[c] < 10 for c in old)
    intervals = exact_intervals(model, counts, hidden)
    for c in old:
        if 0 < counts[c] < 10:
            assert intervals[c][1] - intervals[c][0] >= 10 - 1e-6


@pytest.mark.parametrize("threshold", [3, 4])
def test_no_count_at_a_small_threshold_is_published_below_it(threshold):
    table = default_ptable(floor=threshold)
    for n in range(threshold, threshold + 10):
        assert min(table.probabilities(n)) >= threshold, n


def test_a_threshold_below_three_is_refused():
    with pytest.raises(ValueError, match="threshold"):
        SdcParams(threshold=2)
