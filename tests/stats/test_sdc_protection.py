"""Suppression and interval audit on random synthetic releases."""

import pytest

from registry.stats.sdc import (
    CellStatus,
    SdcParams,
    audit_intervals,
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
    # Independent check: plain min/max LPs over the whole system, no decomposition or certificates.
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 5 - 1e-6
    narrow = release.audit.narrowest
    if narrow is not None:
        lo, hi = exact_intervals(model, counts, hidden)[narrow[0]]
        assert narrow[1:] == pytest.approx((lo, hi))


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
