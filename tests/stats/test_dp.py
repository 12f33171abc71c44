"""Differential-privacy mode: full-grid noise, the budget ledger, 429 once spent, audit."""

import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from registry.extensions import db
from registry.stats.dp import laplace, noisy_table
from registry.stats.dp_budget import MICRO, spend
from registry.stats.models import StatsRelease
from registry.stats.output_models import StatsDpAnalyst, StatsDpBudget
from registry.stats.sdc import Dimension, ReleaseModel, TableSpec
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10
QUERY = {"year": YEAR, "measure": "persons", "dimensions": ["sex", "drug_group"]}


@pytest.fixture()
def dp_analyst(session, make_user):
    """Return (user id, token) of an analyst flagged for DP with a budget of two queries."""
    user, token = make_user("analyst")
    session.add(StatsDpAnalyst(user_id=user.id, budget_micro=1 * MICRO))
    session.flush()
    return user.id, token


def _post(client, token, body=QUERY):
    return client.post("/api/v1/stats/query", headers=bearer(token), json=body)


def _actions(session, action):
    return session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def _spent(session, user_id):
    return session.scalar(select(StatsDpBudget.spent_micro).where(StatsDpBudget.user_id == user_id))


def test_flagged_analyst_gets_noisy_counts_over_the_full_grid(client, dp_analyst, population):
    population(200, seed=2)
    answer = _post(client, dp_analyst[1])
    assert answer.status_code == 200, answer.json
    protection = answer.json["protection"]
    assert protection["mechanism"] == "discrete_laplace" and protection["epsilon"] == 0.5
    cells = answer.json["cells"]
    groups = {c["key"]["drug_group"] for c in cells}
    assert {"cocaine", "hallucinogens"} <= groups  # declared categories nobody has still appear
    for cell in cells:
        assert cell["status"] in ("perturbed", "suppressed")
        assert cell["value"] is None or not 1 <= cell["value"] < K


def test_dp_margins_are_sums_of_noisy_inner_cells():
    sex = Dimension.flat("sex", ["m", "f"])
    drug = Dimension.tree("drug", {"Total": ["g1", "g2"], "g1": ["a", "b"], "g2": ["c"]})
    model = ReleaseModel([sex, drug], [TableSpec("t", ("sex", "drug"))])
    counts, _ = model.count(
        {"sex": np.array(["m"] * 50 + ["f"] * 30), "drug": np.array(["a", "b", "c", "a"] * 20)},
        np.arange(80, dtype=np.uint64),
    )
    values = noisy_table(model, counts, 0.5)
    assert np.all(np.abs(model.constraints @ values) == 0)  # the published table adds up
    assert not np.array_equal(values, counts)  # noise was added


def test_noise_covers_empty_cells_and_is_unbiased():
    region = Dimension.flat("region", [f"r{i}" for i in range(400)])
    model = ReleaseModel([region], [TableSpec("t", ("region",))])
    inner = model.grids[0][1:]
    empty = noisy_table(model, np.zeros(model.n_cells, dtype=np.int64), 0.5)[inner]
    assert (empty > 0).mean() > 0.2  # empty cells get noise too (clipped at zero)
    raw = np.array(laplace(0.5)([1000] * 4000)) - 1000
    assert abs(raw.mean()) < 0.3 and 6 < raw.var() < 10  # discrete Laplace, scale 2: var ≈ 8


def test_budget_is_charged_and_refused_with_429_once_spent(client, session, dp_analyst, population):
    user_id, token = dp_analyst
    population(120, seed=3)
    assert _post(client, token).status_code == 200
    second = _post(client, token)
    assert second.status_code == 200
    assert second.json["protection"]["budget"] == {
        "period": f"{YEAR}-12",
        "spent": 1.0,
        "budget": 1.0,
    }
    third = _post(client, token)
    assert third.status_code == 429
    assert third.mimetype == "application/problem+json"
    assert _spent(session, user_id) == 1 * MICRO
    assert len(_actions(session, "stats.dp.release")) == 2
    assert [e.outcome for e in _actions(session, "stats.dp.refused")] == ["refused:429"]
    kinds = session.scalars(select(StatsRelease.kind).where(StatsRelease.released_by == user_id))
    assert sorted(kinds) == ["dp", "dp"]


def test_a_new_month_opens_a_new_budget(client, dp_analyst, population):
    token = dp_analyst[1]
    population(60, seed=4)
    for _ in range(2):
        assert _post(client, token).status_code == 200
    assert _post(client, token).status_code == 429
    clock.freeze(datetime(YEAR + 1, 1, 2, tzinfo=UTC))
    assert _post(client, token, {**QUERY, "year": YEAR}).status_code == 200


@pytest.mark.parametrize(
    ("change", "path"),
    [({"measure": "admissions"}, "measure"), ({"dimensions": ["nope"]}, "dimensions.0")],
)
def test_bad_dp_queries_are_422_and_cost_nothing(client, session, dp_analyst, change, path):
    user_id, token = dp_analyst
    answer = _post(client, token, {**QUERY, **change})
    assert answer.status_code == 422
    assert path in answer.json["errors"]
    assert not _spent(session, user_id)


def test_other_analysts_get_the_suppression_pipeline(client, session, make_user, population):
    population(60, seed=5)
    user, token = make_user("analyst")
    answer = _post(client, token)
    assert answer.status_code == 200
    assert "mechanism" not in answer.json["protection"]
    assert (
        session.scalars(select(StatsRelease.kind).where(StatsRelease.released_by == user.id)).one()
        == "query"
    )


def test_deployment_mode_all_puts_every_analyst_under_dp(app, client, make_user, population):
    population(60, seed=6)
    _, token = make_user("analyst")
    app.config["STATS_DP_MODE"] = "all"
    try:
        answer = _post(client, token)
    finally:
        app.config["STATS_DP_MODE"] = "analysts"
    assert answer.status_code == 200
    assert answer.json["protection"]["mechanism"] == "discrete_laplace"


def test_dp_is_for_analysts_only(client, make_user):
    _, token = make_user("admin")
    assert _post(client, token).status_code == 403


def test_concurrent_queries_never_overspend(fresh_app):
    from registry.auth.users import create_user

    with fresh_app.app_context():
        user_id = create_user("dp-racer", ["analyst"], None).id
        db.session.commit()
    cost, outcomes, start = MICRO // 2, [], threading.Barrier(8)

    def racer():
        with fresh_app.app_context():
            start.wait()
            try:
                spend(user_id, cost)  # default budget 2.0: room for 4 of 8
                db.session.commit()
                outcomes.append("ok")
            except Exception as exc:
                db.session.rollback()
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["TooManyRequests"] * 4 + ["ok"] * 4
    with fresh_app.app_context():
        spent = db.session.scalar(select(StatsDpBudget.spent_micro))
        assert spent == 4 * cost


def test_operators_flag_and_unflag_dp_analysts_from_the_cli(fresh_app):
    from registry.auth.users import create_user

    with fresh_app.app_context():
        user_id = create_user("dp-cli", ["analyst"], None).id
        db.session.commit()
    runner = fresh_app.test_cli_runner()
    flagged = runner.invoke(args=["stats", "dp-analyst", str(user_id), "--budget", "1.5"])
    assert flagged.exit_code == 0, flagged.output
    with fresh_app.app_context():
        assert db.session.get(StatsDpAnalyst, user_id).budget_micro == 1_500_000
        assert (
            db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.idx)).all()[-1]
            == "stats.dp.analyst_set"
        )
    assert runner.invoke(args=["stats", "dp-analyst", str(user_id), "--remove"]).exit_code == 0
    with fresh_app.app_context():
        assert db.session.get(StatsDpAnalyst, user_id) is None
    unknown = runner.invoke(args=["stats", "dp-analyst", "999999"])
    assert unknown.exit_code != 0 and "no such user" in unknown.output


def test_an_empty_year_is_answered_with_noise_only(client, dp_analyst):
    answer = _post(client, dp_analyst[1], {**QUERY, "year": YEAR - 3})
    assert answer.status_code == 200, answer.json
    assert all(
        c["value"] is None or c["value"] == 0 or c["value"] >= K for c in answer.json["cells"]
    )


def test_standard_tables_are_charged_to_a_dp_analyst(client, session, dp_analyst, population):
    population(80, seed=4)
    user_id, token = dp_analyst
    url = f"/api/v1/stats/tdi/drug_by_sex?year={YEAR}"
    for spent in (1, 2):  # each read is a fresh noisy answer costing epsilon (0.5 of 1.0)
        answer = client.get(url, headers=bearer(token))
        assert answer.status_code == 200, answer.json
        assert answer.json["protection"]["mechanism"] == "discrete_laplace"
        assert _spent(session, user_id) == spent * MICRO // 2
        cells = [c for part in answer.json["parts"].values() for c in part]
        assert cells and all(c["value"] is None or not 1 <= c["value"] < K for c in cells)
    refused = client.get(url, headers=bearer(token))
    assert refused.status_code == 429
    assert _spent(session, user_id) == MICRO
    assert _actions(session, "stats.dp.refused")
    csv_read = client.get(url, headers={**bearer(token), "Accept": "text/csv"})
    assert csv_read.status_code == 429  # no format of the table slips past the budget
