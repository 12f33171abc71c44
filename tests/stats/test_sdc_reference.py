"""Disclosure control on the GaussSuppression reference table, region × substance × age × sex.

The persons are drawn as shared/sdc-reference/gen.py draws them (8,000 here); the release is
protected with the library's defaults and with the service's settings (registry/config.py).
"""

import numpy as np
import pytest

from registry.stats.sdc import (
    CellStatus,
    ReleaseModel,
    SdcParams,
    TableSpec,
    default_ptable,
    protect_release,
)
from registry.stats.sdc.synthetic import reference_dimensions, reference_population
from tests.stats.sdc_helpers import IndependentAudit

PERSONS = 8000
SAFETY = 10.0
SETTINGS = {
    "library": SdcParams(),
    "service": SdcParams(margin_weight=3.0, republish_levels=2),  # the config's defaults
}


@pytest.fixture(scope="module")
def reference():
    """Return the model, exact counts and cell keys of the reference table."""
    model = ReleaseModel(
        reference_dimensions(), [TableSpec("t", ("region", "substance", "age", "sex"))]
    )
    records, keys = reference_population(PERSONS)
    return model, *model.count(records, keys)


@pytest.fixture(scope="module")
def releases(reference):
    """Return a function giving the release under a setting, protected once per module."""
    model, counts, cell_keys = reference
    done = {}

    def get(setting: str):
        if setting not in done:
            done[setting] = protect_release(model, counts, cell_keys, SETTINGS[setting])
        return model, counts, done[setting]

    return get


@pytest.fixture()
def service_release(releases):
    """Return the release under the service's settings."""
    return releases("service")


@pytest.fixture(params=list(SETTINGS))
def protected(request, releases):
    """Return the model, exact counts and protected release under each setting."""
    return releases(request.param)


def test_the_grand_total_and_one_dimension_margins_are_published(protected):
    model, counts, release = protected
    level = (model.codes != 0).sum(axis=1)
    top = level <= 1
    assert counts[top].min() >= 10  # none of them is sensitive on its own
    hidden = release.status == CellStatus.SUPPRESSED
    assert not hidden[top].any(), [model.key(i) for i in np.flatnonzero(hidden & top)]


def test_the_record_claims_only_what_an_independent_audit_proves(service_release):
    model, counts, release = service_release
    record = release.record()
    hidden = release.status == CellStatus.SUPPRESSED
    claimed = record["narrowest_width"]
    oracle = IndependentAudit(model.constraints, counts, hidden)
    oracle.prove(claimed)
    short = [
        (model.key(c), oracle.width(c)) for c in oracle.cells if oracle.width(c) < claimed - 1e-6
    ]
    assert not short, f"cells narrower than the claimed {claimed}: {short[:5]}"
    assert record["audit_passed"]
    assert record["narrowest_is_global"] is True
    assert claimed >= SAFETY - 1e-6
    cell = release.audit.narrowest[0]
    lo, hi = oracle.exact(int(np.searchsorted(oracle.cells, cell)))
    assert hi - lo == pytest.approx(claimed)


def test_no_published_value_lies_below_the_threshold(protected):
    _, counts, release = protected
    published = release.status != CellStatus.SUPPRESSED
    values = release.values[published]
    assert (counts[published] == 10).any()  # the counts where the noise could go below
    assert not ((values >= 1) & (values <= 9)).any()
    assert (values[counts[published] == 0] == 0).all()


@pytest.mark.parametrize("threshold", [5, 10, 25])
def test_a_floored_ptable_never_draws_below_its_floor(threshold):
    table = default_ptable(floor=threshold)
    for n in range(threshold, threshold + 40):
        dist = table.probabilities(n)
        assert sum(dist.values()) == pytest.approx(1)
        assert min(dist) >= threshold
        assert max(abs(v - n) for v in dist) <= 3
        assert sum(v * p for v, p in dist.items()) - n <= 0.5 + 1e-9  # bias, upward, at most
        if n >= threshold + 1:
            assert sum(v * p for v, p in dist.items()) == pytest.approx(n)
