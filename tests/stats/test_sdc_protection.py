"""Suppression and interval audit on random synthetic releases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.stats.sdc import (
    CellStatus,
    Dimension,
    ReleaseModel,
    SdcParams,
    TableSpec,
    audit_and_repair,
    audit_intervals,
    audit_release,
    primary_mask,
    protect_release,
)
from tests.stats.sdc_helpers import exact_intervals, random_release

SHAPES = [
    ({"a": 5, "b": 4}, [("a", "b")], 150),
    ({"a": 4, "b": 3, "c": 3}, [("a", "b", "c")], 300),
    ({"a": 6, "b": 3, "c": 4}, [("a", "b"), ("a", "c"), ("b", "c")], 250),
    ({"r": 5, "s": 2, "g": 4}, [("r", "s"), ("r", "g")], 120),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("shape", "tables", "n"), SHAPES)
def test_no_suppressed_cell_narrowed_below_safety_range(shape, tables, n, seed):
    model, counts, keys = random_release(shape, tables, n, seed)
    release = protect_release(model, counts, keys, SdcParams(threshold=5))
    hidden = release.status == CellStatus.SUPPRESSED
    assert release.audit.passed
    assert audit_release(model, counts, hidden, 5.0).passed  # without the suppression's cubes
    # Independent check: plain min/max LPs over the whole system, no decomposition or certificates.
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 5 - 1e-6
    narrow = release.audit.narrowest
    if narrow is not None:
        exact = exact_intervals(model, counts, hidden)
        lo, hi = exact[narrow[0]]
        assert narrow[1:] == pytest.approx((lo, hi))
        # The record's narrowest is the global one, and says so.
        assert release.record()["narrowest_is_global"] is True
        assert hi - lo == pytest.approx(min(b - a for a, b in exact.values()))


@pytest.mark.parametrize(("shape", "tables", "n"), SHAPES)
def test_primary_cells_are_never_published(shape, tables, n):
    model, counts, keys = random_release(shape, tables, n, seed=7)
    release = protect_release(model, counts, keys, SdcParams(threshold=5))
    primary = primary_mask(counts, 5)
    assert primary.any()
    assert (release.status[primary] == CellStatus.SUPPRESSED).all()
    assert (release.values[primary] == -1).all()
    assert all(c.value is None for c, p in zip(release.cells(), primary, strict=True) if p)


def test_zeros_are_published_exactly():
    model, counts, keys = random_release({"a": 8, "b": 6}, [("a", "b")], 60, seed=3)
    release = protect_release(model, counts, keys, SdcParams(threshold=5))
    zero = (counts == 0) & (release.status != CellStatus.SUPPRESSED)
    assert zero.any()
    assert (release.values[zero] == 0).all()
    assert (release.status[zero] == CellStatus.PUBLISHED).all()


def test_threshold_only_suppression_is_caught_by_the_audit():
    caught = 0
    for seed in range(5):
        model, counts, _ = random_release({"a": 5, "b": 4}, [("a", "b")], 150, seed)
        naive = primary_mask(counts, 5)
        report = audit_intervals(model.constraints, counts, naive, 5.0)
        exact = exact_intervals(model, counts, naive)
        truly_narrow = {c for c, (lo, hi) in exact.items() if hi - lo < 5 - 1e-6}
        assert set(report.failing.tolist()) == truly_narrow
        caught += bool(truly_narrow)
    assert caught >= 4


def test_audit_alone_proves_an_unhinted_safe_pattern():
    model, counts, keys = random_release({"a": 4, "b": 3, "c": 3}, [("a", "b", "c")], 300, 1)
    release = protect_release(model, counts, keys, SdcParams(threshold=5))
    hidden = release.status == CellStatus.SUPPRESSED
    report = audit_intervals(model.constraints, counts, hidden, 5.0)  # no certificates given
    assert report.passed
    assert report.n_lps > 0


def test_safety_range_is_configurable():
    model, counts, keys = random_release({"a": 5, "b": 4}, [("a", "b")], 200, seed=2)
    strict = protect_release(model, counts, keys, SdcParams(threshold=5, safety_range=12))
    hidden = strict.status == CellStatus.SUPPRESSED
    assert all(hi - lo >= 12 - 1e-6 for lo, hi in exact_intervals(model, counts, hidden).values())


def test_hierarchical_dimension_is_protected():
    drug = Dimension.tree(
        "drug",
        {
            "Total": ["opioids", "stimulants", "other"],
            "opioids": ["heroin", "methadone", "fentanyl"],
            "stimulants": ["cocaine", "amphetamine"],
        },
    )
    region = Dimension.flat("region", [f"R{i}" for i in range(6)])
    sex = Dimension.flat("sex", ["M", "F"])
    model = ReleaseModel(
        [region, drug, sex],
        [TableSpec("rds", ("region", "drug", "sex")), TableSpec("rd", ("region", "drug"))],
    )
    rng = np.random.default_rng(8)
    n = 900
    records = {
        "region": rng.integers(1, 7, n),
        "drug": rng.choice(list(drug.leaves), n, p=[0.35, 0.2, 0.05, 0.15, 0.1, 0.15]),
        "sex": rng.choice([1, 2], n, p=[0.75, 0.25]),
    }
    counts, keys = model.count(records, rng.integers(0, 2**32, n, dtype=np.uint64))
    release = protect_release(model, counts, keys)
    hidden = release.status == CellStatus.SUPPRESSED
    assert release.audit.passed
    assert primary_mask(counts, 10).any()
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 10 - 1e-6


def test_repair_completes_a_threshold_only_pattern():
    model, counts, _ = random_release({"a": 6, "b": 3, "c": 4}, [("a", "b"), ("a", "c")], 250, 4)
    params = SdcParams(threshold=5)
    naive = primary_mask(counts, 5)
    assert not audit_intervals(model.constraints, counts, naive, 5.0).passed
    hidden, report = audit_and_repair(model, counts, naive, params)
    assert report.passed
    assert (hidden >= naive).all()
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 5 - 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_republished_margins_keep_every_cell_safe(seed):
    model, counts, keys = random_release({"a": 5, "b": 4, "c": 3}, [("a", "b", "c")], 400, seed)
    plain = protect_release(model, counts, keys, SdcParams(threshold=5))
    relaxed = protect_release(model, counts, keys, SdcParams(threshold=5, republish_levels=2))
    hidden = relaxed.status == CellStatus.SUPPRESSED
    assert relaxed.audit.passed
    assert (hidden <= (plain.status == CellStatus.SUPPRESSED)).all()
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 5 - 1e-6


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 5), min_size=2, max_size=3),
    n=st.integers(20, 300),
    threshold=st.integers(3, 8),
    linked=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_property_every_suppressed_cell_keeps_the_safety_range(sizes, n, threshold, linked, seed):
    names = [f"d{i}" for i in range(len(sizes))]
    tables = [tuple(names)]
    if linked and len(names) == 3:
        tables = [(names[0], names[1]), (names[0], names[2]), (names[1], names[2])]
    model, counts, keys = random_release(dict(zip(names, sizes, strict=True)), tables, n, seed)
    release = protect_release(model, counts, keys, SdcParams(threshold=threshold))
    hidden = release.status == CellStatus.SUPPRESSED
    assert release.audit.passed
    assert hidden[primary_mask(counts, threshold)].all()
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= threshold - 1e-6
