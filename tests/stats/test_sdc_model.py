"""Table model: cells, margins, shared cells and constraints."""

import numpy as np

from registry.stats.sdc import Dimension, ReleaseModel, TableSpec

DRUGS = Dimension.tree(
    "drug",
    {
        "Total": ["opioids", "stimulants"],
        "opioids": ["heroin", "methadone"],
        "stimulants": ["cocaine", "amphetamine", "mdma"],
    },
)
SEX = Dimension.flat("sex", ["M", "F"])
REGION = Dimension.flat("region", ["N", "S", "E"])


def test_table_has_all_margin_combinations():
    model = ReleaseModel([REGION, SEX], [TableSpec("rs", ("region", "sex"))])
    assert model.n_cells == 4 * 3
    assert model.constraints.shape == (3 + 4, 12)  # one row per margin along each dimension


def test_counts_satisfy_constraints_with_hierarchy():
    model = ReleaseModel([DRUGS, SEX], [TableSpec("ds", ("drug", "sex"))])
    rng = np.random.default_rng(0)
    leaves = np.array(DRUGS.leaves)
    records = {"drug": rng.choice(leaves, 200), "sex": rng.integers(1, 3, 200)}
    counts, _ = model.count(records, rng.integers(0, 2**32, 200, dtype=np.uint64))
    assert not np.any(model.constraints @ counts)
    assert counts[model.find()] == 200
    opioids = counts[model.find(drug="heroin")] + counts[model.find(drug="methadone")]
    assert counts[model.find(drug="opioids")] == opioids


def test_linked_tables_share_margin_cells_and_constraints():
    age = Dimension.flat("age", ["young", "old"])
    linked = ReleaseModel(
        [REGION, SEX, age], [TableSpec("rs", ("region", "sex")), TableSpec("ra", ("region", "age"))]
    )
    # region margin (4 cells) is shared: 12 + 12 - 4 cells; the region constraint appears once.
    assert linked.n_cells == 20
    assert linked.constraints.shape[0] == 7 + 7 - 1


def test_patterns_are_balanced_in_every_hierarchy_constraint():
    model = ReleaseModel([DRUGS], [TableSpec("d", ("drug",))])
    for node in range(DRUGS.size):
        codes, signs = DRUGS.patterns(node)
        for row_codes, row_signs in zip(codes, signs, strict=True):
            d = np.zeros(DRUGS.size)
            d[row_codes[row_codes >= 0]] = row_signs[row_codes >= 0]
            assert d[node] == 1
            assert not np.any(model.constraints @ d)


def test_cell_keys_are_exact_sums_mod_2_32_in_any_record_order():
    model = ReleaseModel([REGION, SEX], [TableSpec("rs", ("region", "sex"))])
    rng = np.random.default_rng(1)
    n = 5000
    records = {"region": rng.integers(1, 4, n), "sex": rng.integers(1, 3, n)}
    keys = rng.integers(0, 2**32, n, dtype=np.uint64)
    counts, cell_keys = model.count(records, keys)
    perm = rng.permutation(n)
    _, shuffled = model.count({k: v[perm] for k, v in records.items()}, keys[perm])
    assert np.array_equal(cell_keys, shuffled)
    sel = (records["region"] == 2) & (records["sex"] == 1)
    cell = model.find(region="S", sex="M")
    assert int(cell_keys[cell]) == sum(int(k) for k in keys[sel]) % 2**32
    assert counts[cell] == sel.sum()


def test_a_release_record_names_no_infinite_width():
    from registry.stats.sdc.release import _width

    assert _width(None) is None
    assert _width((0, 3.0, float("inf"))) is None  # JSON columns refuse Infinity
    assert _width((0, 3.0, 13.0)) == 10.0
