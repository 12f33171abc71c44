"""Counting in the database (exact), rate measures and the later TDI tables through the API."""

from collections import Counter
from datetime import date, timedelta

import pytest

from registry.stats.catalogue import first_use_band
from registry.stats.population import count_groups, leaf_codes
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10
TODAY = date(YEAR, 12, 20)  # the frozen clock's day


def _first_rows(rows):
    first = {}
    for row in sorted(rows, key=lambda r: (r["person"], r["admitted_on"])):
        first.setdefault(row["person"], row)
    return list(first.values())


def _counted(groups, name, year=YEAR):
    """Return exact counts by leaf code of the first dimension of a grouping."""
    out = Counter()
    for code, n in zip(leaf_codes(name, year, groups.values[name]), groups.counts, strict=True):
        out[code] += int(n)
    return out


@pytest.mark.parametrize(
    ("dimension", "item"),
    [
        ("frequency", "frequency"),
        ("hiv_tested", "hiv_tested"),
        ("hcv_tested", "hcv_tested"),
        ("ost_status", "ost_status"),
        ("age_first_use", "age_first_use"),
    ],
)
def test_persons_are_counted_once_by_first_admission(population, dimension, item):
    rows = population(150, seed=4)
    expected = Counter()
    for row in _first_rows(rows):
        value = row[item]
        expected[first_use_band(value) if item == "age_first_use" else value] += 1
    (groups,) = count_groups("persons", YEAR, [(dimension,)])
    assert _counted(groups, dimension) == expected


def test_several_groupings_come_from_one_query(population):
    rows = population(120, seed=6)
    pairs = Counter((r["hiv_tested"], r["sex"]) for r in _first_rows(rows))
    by_hiv, by_both = count_groups("persons", YEAR, [("hiv_tested",), ("hiv_tested", "sex")])
    assert by_hiv.total == by_both.total == len(_first_rows(rows))
    found = Counter()
    for hiv, sex, n in zip(
        by_both.values["hiv_tested"], by_both.values["sex"], by_both.counts, strict=True
    ):
        found[(hiv, sex)] += int(n)
    assert found == pairs


def test_retention_counts_stays_of_90_days_and_leaves_out_young_open_episodes(population):
    rows = population(200, seed=7)
    judged = [
        r for r in rows if r["discharged"] or (TODAY - r["admitted_on"]).days >= 90
    ]  # discharged the day of admission: a stay of 0 days
    retained = [r for r in judged if not r["discharged"]]
    (groups,) = count_groups("retention", YEAR, [("outcome",)])
    assert _counted(groups, "outcome") == {"yes": len(retained), "no": len(judged) - len(retained)}


def test_completion_counts_completed_discharges(population):
    rows = population(200, seed=8)
    (groups,) = count_groups("completion", YEAR, [("outcome",)])
    assert _counted(groups, "outcome") == {"yes": sum(r["discharged"] for r in rows)}


def test_adherence_needs_no_override_and_no_overdue_flag_in_the_year(population, session):
    from registry.episodes.models import ComplianceFlag, Episode

    rows = population(80, seed=9)
    episodes = session.query(Episode).order_by(Episode.id).all()
    episodes[0].override_count = 1
    for episode, day, status in (
        (episodes[1], date(YEAR, 12, 1), "overdue"),
        (episodes[2], date(YEAR - 1, 12, 31), "overdue"),  # another year: does not count
        (episodes[3], date(YEAR, 12, 1), "upcoming"),  # not overdue: does not count
    ):
        session.add(
            ComplianceFlag(
                episode_id=episode.id,
                computed_on=day,
                rule_id="review",
                event_type="review",
                status=status,
                due=day,
                grace_until=day + timedelta(days=3),
            )
        )
    session.flush()
    (groups,) = count_groups("adherence", YEAR, [("outcome",)])
    assert _counted(groups, "outcome") == {"yes": len(rows) - 2, "no": 2}


def _post(client, token, body):
    return client.post("/api/v1/stats/query", headers=bearer(token), json=body)


@pytest.mark.parametrize("measure", ["retention", "completion", "adherence"])
def test_rates_come_from_protected_counts(client, analyst, population, measure):
    population(400, seed=2)
    body = {"year": YEAR, "measure": measure, "dimensions": ["sex", "drug_group"]}
    answer = _post(client, analyst, body)
    assert answer.status_code == 200, answer.json
    rates = answer.json["rates"]
    assert len(rates) == 4 * 11  # (male, female, 99, Total) x (9 groups, 99, Total)
    assert all("outcome" not in r["key"] for r in rates)
    cells = {tuple(sorted(c["key"].items())): c for c in answer.json["cells"]}
    published = 0
    for rate in rates:
        units = cells[tuple(sorted({**rate["key"], "outcome": "Total"}.items()))]
        met = cells[tuple(sorted({**rate["key"], "outcome": "yes"}.items()))]
        if "suppressed" in (units["status"], met["status"]) or not units["value"]:
            assert rate["rate"] is None and rate["value"] is None and rate["denominator"] is None
            assert rate["status"] == "suppressed"
            continue
        published += 1
        assert (rate["value"], rate["denominator"]) == (met["value"], units["value"])
        assert rate["rate"] == round(min(1.0, met["value"] / units["value"]), 4)
    assert published
    assert all(c["value"] is None or c["value"] not in (1, 2) for c in answer.json["cells"])
    assert _post(client, analyst, body).json["rates"] == rates


def test_a_small_population_suppresses_rates_with_their_counts(client, analyst, population):
    population(12)
    body = {"year": YEAR, "measure": "completion", "dimensions": ["sex"]}
    answer = _post(client, analyst, body)
    assert answer.status_code == 200
    assert all(r["status"] == "suppressed" and r["rate"] is None for r in answer.json["rates"])


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"measure": "retention", "dimensions": ["sex", "shoe_size"]}, "dimensions.1"),
        ({"measure": "adherence", "dimensions": ["outcome"]}, "dimensions.0"),
        ({"measure": "completion", "dimensions": []}, "dimensions"),
        (
            {"measure": "completion", "dimensions": ["sex"], "filters": {"outcome": ["yes"]}},
            "filters.outcome",
        ),
        (
            {"measure": "retention", "dimensions": ["frequency"], "filters": {"hiv_tested": ["x"]}},
            "filters.hiv_tested.0",
        ),
        ({"measure": "retention_days", "dimensions": ["sex"]}, "measure"),
    ],
)
def test_bad_rate_queries_are_422_with_paths(client, analyst, body, path):
    answer = _post(client, analyst, {"year": YEAR, **body})
    assert answer.status_code == 422, answer.json
    assert path in answer.json["errors"]


@pytest.mark.parametrize("table", ["frequency", "age_first_use", "hiv_testing", "ost_status"])
def test_later_standard_tables_count_persons_once_and_are_protected(
    client, analyst, population, table
):
    from registry.stats.tdi import TDI_TABLES

    rows = _first_rows(population(400, seed=5))
    dims = TDI_TABLES[table].dims
    exact = Counter()
    for row in rows:
        codes = {
            "drug_group": row["drug_group"],
            "frequency": row["frequency"],
            "age_first_use": first_use_band(row["age_first_use"]),
            "hiv_tested": row["hiv_tested"],
            "injecting": "last_30d" if row["primary_drug"] == "heroin" else "never",
            "ost_status": row["ost_status"],
        }
        exact[tuple(codes[d] for d in dims)] += 1
    answer = client.get(f"/api/v1/stats/tdi/{table}?year={YEAR}", headers=bearer(analyst))
    assert answer.status_code == 200, answer.json
    compared = 0
    for cell in answer.json["parts"]["all"]:
        key = tuple(cell["key"][d] for d in dims)
        if "Total" in key or cell["status"] == "suppressed":
            continue
        assert not 1 <= exact[key] < K
        assert abs(cell["value"] - exact[key]) <= 3 and cell["value"] not in (1, 2)
        compared += 1
    assert compared


def test_the_whole_standard_set_is_counted_in_one_query_and_protected(population):
    from registry.stats.tdi import SPLIT, TDI_TABLES, run_tdi_set

    rows = _first_rows(population(300, seed=12))
    groupings = [(*t.dims, SPLIT) for t in TDI_TABLES.values()]
    assert [g.total for g in count_groups("persons", YEAR, groupings)] == [len(rows)] * len(
        groupings
    )
    tables = run_tdi_set(YEAR)
    assert [d["table"] for d, _ in tables] == list(TDI_TABLES)
    published = 0
    for definition, answer in tables:
        assert answer["protection"]["audit_passed"], definition["table"]
        total = next(c for c in answer["parts"]["all"] if set(c["key"].values()) == {"Total"})
        if total["status"] != "suppressed":
            assert abs(total["value"] - len(rows)) <= 3
            published += 1
    assert published
