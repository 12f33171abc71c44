"""`registry oversight`: run the oversight check of linked registrations now."""

import json

import click
from flask.cli import with_appcontext

from registry.extensions import db
from registry.oversight.check import check_registrations
from registry.oversight.models import OversightFinding


@click.group("oversight")
def oversight_group() -> None:
    """Oversee linked registration, the registry's answer to "is this person known?"."""


@oversight_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the new findings as JSON.")
@with_appcontext
def check_command(as_json: bool) -> None:
    """Run the oversight check over the period ending now; print its new findings."""
    found = check_registrations()
    db.session.commit()
    if as_json:
        click.echo(json.dumps([_described(finding) for finding in found], indent=2))
        return
    if not found:
        click.echo("no new findings")
    for finding in found:
        click.echo(
            f"finding {finding.id}: user {finding.user_id} (clinic {finding.clinic_id}) "
            f"{finding.kind} {finding.count}/{finding.total}"
        )


def _described(finding: OversightFinding) -> dict:
    """Return a finding as JSON values (ids, kind, period and counts: no identity)."""
    return {
        "id": finding.id,
        "kind": finding.kind,
        "user_id": finding.user_id,
        "clinic_id": finding.clinic_id,
        "period_start": finding.period_start.isoformat(),
        "period_end": finding.period_end.isoformat(),
        "count": finding.count,
        "total": finding.total,
        "pool_count": finding.pool_count,
        "pool_total": finding.pool_total,
    }
