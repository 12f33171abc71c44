"""`registry stats`: statistics operations (differential-privacy analysts, scheduled releases)."""

import click
from flask.cli import with_appcontext

from registry.audit.log import record
from registry.auth.models import User
from registry.extensions import db
from registry.stats.dp_budget import to_micro
from registry.stats.output_models import StatsDpAnalyst


@click.group("stats")
def stats_group() -> None:
    """Operate the statistics service."""


@stats_group.command("dp-analyst")
@click.argument("user_id", type=int)
@click.option("--budget", type=click.FloatRange(min=0), help="Epsilon per month (default: set).")
@click.option("--remove", is_flag=True, help="Answer this analyst without DP again.")
@with_appcontext
def dp_analyst_command(user_id: int, budget: float | None, remove: bool) -> None:
    """Answer an analyst's queries under differential privacy (or stop with --remove)."""
    if db.session.get(User, user_id) is None:
        raise click.ClickException("no such user")
    current = db.session.get(StatsDpAnalyst, user_id)
    if remove:
        if current is not None:
            db.session.delete(current)
        record("stats.dp.analyst_removed", "user", user_id)
    else:
        current = current or StatsDpAnalyst(user_id=user_id)
        current.budget_micro = None if budget is None else to_micro(budget)
        db.session.add(current)
        record("stats.dp.analyst_set", "user", user_id)
    db.session.commit()
    click.echo("removed" if remove else "set")


@stats_group.command("release")
@click.option("--year", type=int, required=True)
@click.option("--month", type=click.IntRange(1, 12), required=True)
@with_appcontext
def release_command(year: int, month: int) -> None:
    """Produce the scheduled release of the standard tables of a year through a month."""
    from registry.stats.scheduled import covering_release, produce_release

    latest = covering_release(year)
    if latest is not None and latest.through_month == month:
        raise click.ClickException("this period is released already")
    scheduled = produce_release(year, month)
    db.session.commit()
    click.echo(f"released {scheduled.year}-{scheduled.through_month:02d}")
