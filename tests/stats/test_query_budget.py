"""An ad hoc query answers within STATS_QUERY_SECONDS, or is refused (422) saying why.

Disclosure control on a large sparse table can run for minutes, past the worker's timeout: the
query's cost is estimated before it is protected, and the counting (database), protection
(hypercubes, audit LPs) and republishing stages all stop at the time budget.
"""

import time

import numpy as np
import pytest
from sqlalchemy import select, text

from registry.database import StatementTimeout, time_limited
from registry.extensions import db
from registry.stats import cost
from registry.stats.dp_budget import MICRO
from registry.stats.models import StatsRelease
from registry.stats.output_models import StatsDpAnalyst
from registry.stats.query import parse_query, table_cells
from registry.stats.sdc import CellStatus, SdcParams, protect_release
from registry.stats.sdc.deadline import DeadlinePassed, time_budget
from tests.conftest import bearer
from tests.stats.conftest import YEAR
from tests.stats.sdc_helpers import exact_intervals, random_release

BIG = {"year": YEAR, "dimensions": ["region", "drug", "age_band", "sex"]}


def _post(client, token, body):
    return client.post("/api/v1/stats/query", headers=bearer(token), json=body)


def _releases(session) -> int:
    return len(session.scalars(select(StatsRelease)).all())


@pytest.mark.parametrize(
    ("per_small_cell", "budget"),
    [
        pytest.param(cost.SECONDS_PER_SMALL_CELL, 1, id="too-large-to-write-out"),
        pytest.param(0.01, 5, id="too-costly-to-protect"),
    ],
)
def test_a_table_estimated_over_the_budget_is_refused_before_it_is_protected(
    app, client, session, analyst, population, monkeypatch, per_small_cell, budget
):
    population(60, seed=3)
    monkeypatch.setattr(cost, "SECONDS_PER_SMALL_CELL", per_small_cell)
    monkeypatch.setitem(app.config, "STATS_QUERY_SECONDS", budget)
    started = time.perf_counter()
    answer = _post(client, analyst, BIG)
    assert answer.status_code == 422, answer.json
    assert "dimensions" in answer.json["errors"]
    assert answer.json["estimate"]["seconds"] > budget
    assert answer.json["estimate"]["cells"] == table_cells(parse_query(BIG))
    assert _releases(session) == 0
    assert time.perf_counter() - started < 5


def test_a_query_still_running_at_the_deadline_is_stopped(
    app, client, session, analyst, population, monkeypatch
):
    population(60, seed=3)
    body = {"year": YEAR, "dimensions": ["region", "drug", "age_band"]}
    # The estimate lets it through; the time left after writing out the table is ~nothing.
    monkeypatch.setattr(cost, "SECONDS_PER_SMALL_CELL", 0.0)
    cells = table_cells(parse_query(body))
    monkeypatch.setitem(app.config, "STATS_QUERY_SECONDS", cost.output_seconds(cells) + 1e-4)
    answer = _post(client, analyst, body)
    assert answer.status_code == 422, answer.json
    assert "dimensions" in answer.json["errors"]
    assert _releases(session) == 0
    monkeypatch.setitem(app.config, "STATS_QUERY_SECONDS", 15)
    assert _post(client, analyst, body).status_code == 200  # the session is usable again


def test_a_dp_query_is_bounded_too(app, client, session, make_user, population, monkeypatch):
    population(60, seed=3)
    user, token = make_user("analyst")
    session.add(StatsDpAnalyst(user_id=user.id, budget_micro=5 * MICRO))
    session.flush()
    monkeypatch.setitem(app.config, "STATS_QUERY_SECONDS", 0)
    answer = _post(client, token, {"year": YEAR, "dimensions": ["sex"]})
    assert answer.status_code == 422 and "dimensions" in answer.json["errors"]


def test_republishing_out_of_time_keeps_the_audited_suppression():
    # A release whose Gaussian suppression hides a margin that republishing can bring back.
    model, counts, keys = random_release({"a": 5, "b": 4, "c": 3}, [("a", "b", "c")], 150, 4)
    plain = protect_release(model, counts, keys, SdcParams(threshold=5))
    stopped = protect_release(
        model, counts, keys, SdcParams(threshold=5, republish_levels=2, republish_seconds=0)
    )
    assert stopped.record()["republish_stopped"] is True
    assert (stopped.status == plain.status).all()
    hidden = stopped.status == CellStatus.SUPPRESSED
    for lo, hi in exact_intervals(model, counts, hidden).values():
        assert hi - lo >= 5 - 1e-6
    full = protect_release(model, counts, keys, SdcParams(threshold=5, republish_levels=2))
    assert "republish_stopped" not in full.record()
    assert (full.status != plain.status).any()  # there was something to republish


def test_protection_stops_at_the_deadline():
    # Unbounded, this release takes about 10 s of CPU (most of it republishing margins).
    model, counts, keys = random_release({"a": 30, "b": 20, "c": 12}, [("a", "b", "c")], 3000, 2)
    started = time.perf_counter()
    with pytest.raises(DeadlinePassed), time_budget(0.05):
        protect_release(model, counts, keys, SdcParams(threshold=10, republish_levels=2))
    assert time.perf_counter() - started < 3.0


def test_nested_budgets_never_outlast_the_outer_one():
    with time_budget(0.0), time_budget(60), pytest.raises(DeadlinePassed):
        protect_release(*random_release({"a": 4, "b": 3}, [("a", "b")], 50, 0))


def _slow_statement() -> str:
    if db.session.get_bind().dialect.name == "postgresql":
        return "SELECT pg_sleep(5)"
    return (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
        " SELECT count(*) FROM n"
    )


def test_a_statement_past_its_time_limit_is_cancelled(session):
    started = time.perf_counter()
    with pytest.raises(StatementTimeout), time_limited(session, 0.2):
        session.execute(text(_slow_statement()))
    assert time.perf_counter() - started < 2.5
    session.rollback()
    assert session.execute(text("SELECT 1")).scalar() == 1


def test_statements_within_their_time_limit_run_and_the_limit_goes(session):
    with time_limited(session, 5):
        assert session.execute(text("SELECT 2")).scalar() == 2
    started = time.perf_counter()
    if db.session.get_bind().dialect.name == "postgresql":
        assert session.execute(text("SHOW statement_timeout")).scalar() == "0"
    else:
        rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)"
        assert session.execute(text(rows + " SELECT count(*) FROM n")).scalar() == 200000
    assert np.isfinite(time.perf_counter() - started)
