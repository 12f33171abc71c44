"""No set of queries unpicks a hidden cell (issue 22): an intruder's LP over all the API answered.

The adversary is written here, independently of the service: it knows every answer an analyst
(or several, pooling) received for the year, with exact published values (perturbation off,
which only helps it), and models the persons as a table over the full product of the
variables' leaves, empty combinations included. For every hidden cell of 1–9 persons it solves
the min and max LPs; the interval must stay at least the safety range (the threshold) wide.
"""

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from registry.stats.catalogue import DIMENSIONS
from registry.stats.population import count_groups, leaf_codes
from registry.stats.sdc import TOTAL
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10
# Dimensions the adversary models, and the variable each classifies.
BASE = {"region": "region", "sex": "sex", "age_band": "age_band", "drug": "drug"}
DERIVED = {"drug_group": "drug"}


@pytest.fixture()
def exact(app, monkeypatch):
    """Publish exact counts: the strongest intruder knows every published cell exactly."""
    monkeypatch.setitem(app.config, "STATS_PERTURB", False)


def _ask(client, token, dims, filters=None):
    body = {"year": YEAR, "measure": "persons", "dimensions": dims, "filters": filters or {}}
    return client.post("/api/v1/stats/query", headers=bearer(token), json=body)


def _leaves_under(name: str, code: str) -> set[str]:
    tree = DIMENSIONS[name].tree(YEAR)
    out, stack = set(), [code]
    while stack:
        node = stack.pop()
        if node in tree:
            stack.extend(tree[node])
        else:
            out.add(node)
    return out


class Adversary:
    """Every answered cell as a sum of atoms of the full product of the variables' leaves."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        self.variables = variables
        leaves = [sorted(DIMENSIONS[v].leaves(YEAR)) for v in variables]
        self.atoms = np.array(list(itertools.product(*leaves)), dtype=object)
        self.columns = {v: self.atoms[:, j] for j, v in enumerate(variables)}
        if "drug" in variables:  # the drug group is a function of the drug
            self.columns["drug_group"] = leaf_codes("drug_group", YEAR, self.columns["drug"])
        self.rows: list[np.ndarray] = []
        self.values: list[int | None] = []
        self.protected: list[bool] = []  # False: a population below the minimum, all hidden
        self.answer: list[int] = []  # which answer, in the order asked
        self.answers = 0

    def learn(self, answer: dict) -> None:
        """Add every cell of an answer: published ones are facts, hidden ones are targets."""
        filters = answer["definition"]["filters"]
        for cell in answer["cells"]:
            member = np.ones(len(self.atoms), dtype=bool)
            for name, code in [*((n, c[0]) for n, c in filters.items()), *cell["key"].items()]:
                if code != TOTAL:
                    member &= np.isin(self.columns[name], list(_leaves_under(name, code)))
            self.rows.append(member)
            self.values.append(cell["value"])
            self.protected.append(not answer["protection"].get("below_minimum_population"))
            self.answer.append(self.answers)
        self.answers += 1

    def truth(self) -> np.ndarray:
        """Return the true atom counts, as the service counts persons."""
        (groups,) = count_groups("persons", YEAR, [self.variables])
        found = np.array(
            [leaf_codes(v, YEAR, groups.values[v]) for v in self.variables], dtype=object
        ).T
        index = {tuple(a): i for i, a in enumerate(self.atoms)}
        x = np.zeros(len(self.atoms))
        for codes, n in zip(found, groups.counts, strict=True):
            x[index[tuple(codes)]] += n
        return x

    def intervals(self) -> list[tuple[float, float, float]]:
        """Return (true count, min, max) of every hidden cell holding 1..k-1 persons."""
        # Atoms in exactly the same cells only ever appear summed: merging them is exact.
        dense = np.array(self.rows, dtype=bool)
        _, merged = np.unique(dense.T, axis=0, return_inverse=True)
        merged = merged.ravel()
        join = sparse.csr_matrix(
            (np.ones(len(merged)), (np.arange(len(merged)), merged)),
            shape=(len(merged), merged.max() + 1),
        )
        m = sparse.csr_matrix(dense.astype(float)) @ join
        m.data[:] = 1.0
        x = join.T @ self.truth()
        counts = m @ x
        published = np.array([v is not None for v in self.values])
        b = np.array([v if v is not None else 0 for v in self.values], dtype=float)
        assert np.allclose(counts[published], b[published]), "the model holds the truth"
        hidden = np.flatnonzero(~published & (counts >= 1) & (counts < K))
        a_eq = m[np.flatnonzero(published)]
        out, done = [], {}
        for c in hidden:
            key = m[c].indices.tobytes()
            if key not in done:
                lo = linprog(m[c].toarray().ravel(), A_eq=a_eq, b_eq=b[published], method="highs")
                hi = linprog(-m[c].toarray().ravel(), A_eq=a_eq, b_eq=b[published], method="highs")
                assert lo.status == 0 and hi.status in (0, 3)  # 3: unbounded above
                done[key] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
            out.append((counts[c], *done[key]))
        return out

    def hidden_and_published(self) -> set[bytes]:
        """Return the cells protection hid in one answer and a later answer published.

        (The other way round hides nothing: a cell published first stays known.)
        """
        first_hidden: dict[bytes, int] = {}
        cells = zip(self.rows, self.values, self.protected, self.answer, strict=True)
        out = set()
        for row, value, protected, i in cells:
            key = row.tobytes()
            if value is None and protected:
                first_hidden.setdefault(key, i)
            elif value is not None and first_hidden.get(key, i) < i:
                out.add(key)
        return out


def test_a_filter_on_a_union_of_codes_is_refused(client, analyst):
    groups = sorted(DIMENSIONS["drug_group"].leaves(YEAR) - {"alcohol"})
    for size in (1, 2, 3):
        for subset in itertools.combinations(groups, size):
            answer = _ask(client, analyst, ["region", "sex"], {"drug_group": ["alcohol", *subset]})
            assert answer.status_code == 422, answer.json
            assert "filters.drug_group" in answer.json["errors"]


def test_averaging_over_every_filter_the_api_accepts_narrows_no_hidden_cell(
    client, analyst, population, exact
):
    population(300, seed=22)
    adversary = Adversary(("region", "sex", "drug"))
    asked = [({}, ["region", "sex"]), ({}, ["sex", "drug_group"]), ({}, ["region", "drug"])]
    asked += [
        ({"drug_group": [g]}, ["region", "sex"]) for g in DIMENSIONS["drug_group"].codes(YEAR)
    ]
    asked += [({"drug": [d]}, ["region", "sex"]) for d in DIMENSIONS["drug"].codes(YEAR)]
    answered = refused = 0
    for filters, dims in asked:
        answer = _ask(client, analyst, dims, filters)
        assert answer.status_code in (200, 422), answer.json
        if answer.status_code == 422:  # the ledger refuses what would narrow a cell
            refused += 1
            continue
        answered += 1
        adversary.learn(answer.json)
    assert answered >= 20 and refused < answered
    intervals = adversary.intervals()
    assert len(intervals) >= 5  # small hidden cells exist: the attack has targets
    narrowed = [(n, lo, hi) for n, lo, hi in intervals if hi - lo < K - 1e-6]
    assert not narrowed
    assert not adversary.hidden_and_published()


TEN_TABLES = [
    ({}, ["region", "sex"]),
    ({}, ["sex", "age_band"]),
    ({}, ["region", "age_band"]),
    ({}, ["drug_group", "sex"]),
    ({}, ["drug_group", "age_band"]),
    ({}, ["region", "drug_group"]),
    ({"sex": ["male"]}, ["age_band"]),
    ({"drug_group": ["alcohol"]}, ["region", "sex"]),
    ({"region": ["750000000"]}, ["age_band", "sex"]),
    ({"region": ["710000000"]}, ["drug_group", "sex"]),
]


def test_ten_overlapping_tables_of_a_year_narrow_no_hidden_cell(
    client, analyst, make_user, population, exact
):
    population(250, seed=5)
    other = make_user("analyst")[1]  # two analysts pooling what they received
    adversary = Adversary(("region", "sex", "age_band", "drug_group"))
    answered = 0
    for i, (filters, dims) in enumerate(TEN_TABLES):
        answer = _ask(client, (analyst, other)[i % 2], dims, filters)
        assert answer.status_code in (200, 422), answer.json
        if answer.status_code == 200:
            answered += 1
            assert answer.json["protection"]["ledger"]["passed"]
            adversary.learn(answer.json)
    assert answered >= 8
    intervals = adversary.intervals()
    assert intervals
    assert not [(n, lo, hi) for n, lo, hi in intervals if hi - lo < K - 1e-6]
    assert not adversary.hidden_and_published()
