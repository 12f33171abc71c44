"""`registry import LEGACY.csv`: move the legacy register in (docs/import.md)."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from registry.errors import Conflict, ValidationFailed
from registry.imports.runner import report, run_import


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--batch", type=click.IntRange(100, 100_000), default=None, help="Rows per commit")
@with_appcontext
def import_command(path: str, batch: int | None) -> None:
    """Import a legacy register CSV; run it again to resume after a crash (it is idempotent)."""
    start = time.perf_counter()

    def progress(number: int) -> None:
        click.echo(f"batch {number} committed ({time.perf_counter() - start:.1f} s)", err=True)

    try:
        with open(path, "rb") as stream:
            run = run_import(
                stream,
                batch_size=batch,
                actor=(None, "cli"),
                after_batch=progress,
                sqlite_cache_kib=current_app.config["IMPORT_SQLITE_CACHE_KIB"],
            )
    except ValidationFailed as exc:
        problems = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.errors.items())
        raise click.ClickException(f"the file was not imported: {problems}") from None
    except Conflict as exc:
        raise click.ClickException(str(exc)) from None
    summary = report(run)
    click.echo(
        f"import {summary['status']}: {summary['rows']} rows, "
        f"{summary['persons_created']} persons new, {summary['persons_found']} found, "
        f"{summary['episodes_created']} episodes, {summary['episodes_skipped']} already there, "
        f"{summary['rejected_count']} rows refused"
    )
    for item in summary["rejected"]:
        click.echo(f"line {item['line']}: {item['rule']}")
    if summary["rejected_count"] > len(summary["rejected"]):
        click.echo(f"… {summary['rejected_count'] - len(summary['rejected'])} more refused rows")
