"""Every measure by every dimension the catalogue declares, and region crossed with others.

A population query joins episodes, persons, clinics and merge chains, and which columns a
table needs changes the joins: each combination is asked once, with exact counts.
"""

import pytest

from registry.stats.catalogue import DIMENSIONS, MEASURES, RATE_DAYS, RATES
from registry.stats.dp_budget import MICRO
from registry.stats.output_models import StatsDpAnalyst
from registry.stats.query import OUTCOME, TOTAL
from tests.conftest import bearer
from tests.stats.conftest import YEAR
from tests.stats.test_measures import TODAY

# Region alone, first or after another column of the population used to break the joins.
QUERIES = [[name] for name in DIMENSIONS] + [["region", "sex"], ["age_band", "region"]]


def _units(rows: list[dict], measure: str) -> int:
    """Return the number of units a measure counts (the denominator of a rate)."""
    if measure == "persons":
        return len({r["person"] for r in rows})
    if measure in ("discharges", "completion"):
        return sum(r["discharged"] for r in rows)
    if measure == "retention":  # open episodes younger than 90 days have no outcome yet
        return sum(r["discharged"] or (TODAY - r["admitted_on"]).days >= RATE_DAYS for r in rows)
    return len(rows)


def _grand_total(cells: list[dict], dims: list[str], measure: str) -> int | None:
    key = dict.fromkeys(dims, TOTAL)
    if measure in RATES:
        key[OUTCOME] = TOTAL
    [cell] = [c for c in cells if c["key"] == key]
    return cell["value"]


@pytest.fixture()
def exact(app, monkeypatch):
    """Publish exact counts of small populations, so that each grand total can be checked."""
    monkeypatch.setitem(app.config, "STATS_PERTURB", False)
    monkeypatch.setitem(app.config, "STATS_MIN_POPULATION", 1)


@pytest.mark.parametrize("measure", list(MEASURES))
def test_every_dimension_answers_with_the_measure_total(
    client, analyst, population, exact, measure
):
    rows = population(60, seed=7)
    expected = _units(rows, measure)
    totals = []
    for dims in QUERIES:
        body = {"year": YEAR, "measure": measure, "dimensions": dims}
        answer = client.post("/api/v1/stats/query", headers=bearer(analyst), json=body)
        assert answer.status_code == 200, (dims, answer.json)
        totals.append(_grand_total(answer.json["cells"], dims, measure))
    # Secondary suppression may withhold a total (a year of small months); none may be wrong.
    assert {t for t in totals if t is not None} == {expected}


def test_every_dimension_answers_under_differential_privacy(client, session, make_user, population):
    population(60, seed=8)
    user, token = make_user("analyst")
    session.add(StatsDpAnalyst(user_id=user.id, budget_micro=len(QUERIES) * MICRO))
    session.flush()
    for dims in QUERIES:
        body = {"year": YEAR, "measure": "persons", "dimensions": dims}
        answer = client.post("/api/v1/stats/query", headers=bearer(token), json=body)
        assert answer.status_code == 200, (dims, answer.json)
        assert answer.json["protection"]["mechanism"] == "discrete_laplace"
