"""Differential-privacy settings and the per-analyst, per-period privacy budget ledger.

Spending is one conditional UPDATE (spent + cost <= budget): PostgreSQL re-checks it under the
row lock after a concurrent spender commits, SQLite runs writers one at a time, so two queries
racing for the last of a budget can never both pass.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from registry import clock
from registry.errors import AuditNote, TooManyRequests
from registry.extensions import db
from registry.stats.output_models import StatsDpAnalyst, StatsDpBudget

MICRO = 1_000_000
MODES = ("off", "analysts", "all")


def to_micro(epsilon: float) -> int:
    """Return epsilon in integer millionths."""
    return round(epsilon * MICRO)


def current_period() -> str:
    """Return the budget period (calendar month, UTC) now."""
    return clock.now().strftime("%Y-%m")


def applies_to(user_id: int) -> bool:
    """Tell whether this analyst's queries are answered under differential privacy."""
    mode = current_app.config["STATS_DP_MODE"]
    if mode not in MODES:
        raise RuntimeError("STATS_DP_MODE must be one of off, analysts, all")
    if mode == "all":
        return True
    return mode == "analysts" and db.session.get(StatsDpAnalyst, user_id) is not None


def budget_of(user_id: int) -> int:
    """Return the analyst's budget per period in millionths of epsilon."""
    own = db.session.scalar(
        select(StatsDpAnalyst.budget_micro).where(StatsDpAnalyst.user_id == user_id)
    )
    return own if own is not None else to_micro(current_app.config["STATS_DP_BUDGET"])


def _ensure_row(user_id: int, period: str) -> None:
    """Create the analyst's ledger row for the period if it is missing, race-free."""
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(StatsDpBudget).values(user_id=user_id, period=period, spent_micro=0)
    db.session.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "period"]))


def spend(user_id: int, cost: int) -> dict:
    """Charge `cost` to the analyst's budget of this period or refuse with 429; flush only."""
    period, budget = current_period(), budget_of(user_id)
    _ensure_row(user_id, period)
    row = StatsDpBudget
    charged = db.session.execute(
        update(row)
        .where(row.user_id == user_id, row.period == period, row.spent_micro + cost <= budget)
        .values(spent_micro=row.spent_micro + cost)
        .execution_options(synchronize_session=False)
    ).rowcount
    if charged != 1:
        raise TooManyRequests(
            "the privacy budget of this period is spent",
            audit=AuditNote("stats.dp.refused", "stats_dp_budget", period),
            extra={"period": period},
        )
    spent = db.session.scalar(
        select(row.spent_micro).where(row.user_id == user_id, row.period == period)
    )
    return {"period": period, "spent": spent / MICRO, "budget": budget / MICRO}
