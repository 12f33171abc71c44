"""Scheduled monthly releases: one linked release of all standard tables, served unchanged."""

from collections import Counter

import pytest
from sqlalchemy import func, select

from registry.jobs import scheduled_jobs
from registry.stats.models import StatsRelease
from registry.stats.output_models import StatsScheduledRelease
from registry.stats.scheduled import produce_due_release, produce_release
from registry.stats.tdi import TDI_TABLES
from tests.conftest import bearer
from tests.stats.conftest import YEAR


def _get(client, token, table, year=YEAR, **params):
    query = "&".join(f"{k}={v}" for k, v in {"year": year, **params}.items())
    return client.get(f"/api/v1/stats/tdi/{table}?{query}", headers=bearer(token))


def _releases(session) -> int:
    return session.scalar(select(func.count()).select_from(StatsRelease))


def test_the_scheduler_runs_the_monthly_release(app):
    assert "stats-monthly-release" in [job.name for job in scheduled_jobs(app)]


def test_job_releases_last_month_once(session, population):
    population(300, seed=3)
    assert produce_due_release(None) == f"released {YEAR}-11"  # the clock is in December
    assert produce_due_release(None) == "unchanged"
    scheduled = session.scalars(select(StatsScheduledRelease)).one()
    assert set(scheduled.tables) == set(TDI_TABLES)
    assert scheduled.protection["audit_passed"]
    assert {t["name"] for t in scheduled.protection["tables"]} == set(TDI_TABLES)


def test_only_admissions_up_to_the_month_are_counted(app, session, population):
    rows = population(300, seed=4)
    first = {}
    for row in sorted(rows, key=lambda r: (r["person"], r["admitted_on"])):
        first.setdefault(row["person"], row)
    exact = Counter()
    for row in first.values():
        if row["admitted_on"].month <= 6:
            injecting = "last_30d" if row["primary_drug"] == "heroin" else "never"
            for part in ("Total", row["ever_treated"]):
                exact[(injecting, part)] += 1
                exact[("Total", part)] += 1
    app.config["STATS_PERTURB"] = False  # exact published values, to compare with the truth
    try:
        scheduled = produce_release(YEAR, 6)
    finally:
        app.config["STATS_PERTURB"] = True
    published = [c for c in scheduled.tables["injecting"] if c["status"] != "suppressed"]
    assert any(c["value"] for c in published)
    for cell in published:
        key = (cell["key"]["injecting"], cell["key"]["ever_treated"])
        assert cell["value"] == exact[key]


def test_pulls_serve_the_scheduled_release_unchanged(client, analyst, session, population):
    population(300, seed=5)
    produce_due_release(None)
    ref = session.scalars(select(StatsRelease.ref).where(StatsRelease.kind == "scheduled")).one()
    before = _releases(session)
    for table in TDI_TABLES:
        first, second = _get(client, analyst, table), _get(client, analyst, table)
        assert first.status_code == 200, first.json
        assert first.json == second.json
        assert first.json["release"] == ref
        assert first.json["definition"]["through"] == f"{YEAR}-11"
        for cell in (c for part in first.json["parts"].values() for c in part):
            assert cell["value"] is None or cell["value"] not in (1, 2)  # the pTable's promise
    assert _releases(session) == before  # a pull reads the release; it makes no new one


def test_a_past_year_without_december_release_is_computed_live(client, analyst, population):
    population(120, seed=6)
    produce_release(YEAR - 1, 6)  # covers only half of last year
    answer = _get(client, analyst, "injecting", year=YEAR - 1)
    assert answer.status_code == 200, answer.json
    assert "through" not in answer.json["definition"]


@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.parametrize("table", ["injecting", "drug_by_sex"])
def test_charts_of_standard_tables(client, analyst, population, fmt, table):
    population(200, seed=7)
    answer = _get(client, analyst, table, format=fmt)
    assert answer.status_code == 200
    assert answer.headers["X-Release"]
    if fmt == "png":
        assert answer.mimetype == "image/png" and answer.data.startswith(b"\x89PNG")
    else:
        assert answer.mimetype == "image/svg+xml" and b"<svg" in answer.data


def test_chart_marks_suppressed_cells_and_shows_only_protected_values(client, analyst, population):
    population(200, seed=8)
    table = _get(client, analyst, "drug_by_sex").json
    svg = _get(client, analyst, "drug_by_sex", format="svg").data.decode()
    hidden = [c for c in table["parts"]["all"] if c["status"] == "suppressed"]
    assert hidden  # a small population: some cells are suppressed
    assert "×" in svg or "&#215;" in svg or "suppressed" in svg


def test_bad_chart_format_is_422(client, analyst):
    answer = _get(client, analyst, "injecting", format="gif")
    assert answer.status_code == 422
    assert "format" in str(answer.json)


def test_chart_needs_an_analyst(client, make_user):
    _, token = make_user("clinician")
    assert _get(client, token, "injecting", format="png").status_code == 403


def test_job_skips_a_period_without_admissions(session):
    assert produce_due_release(None) == "no admissions to release"
    assert not session.scalars(select(StatsScheduledRelease)).first()
