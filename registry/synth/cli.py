"""`registry synth --persons N --seed S`: fill the database with a synthetic population."""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import click
import numpy as np
from flask.cli import with_appcontext
from sqlalchemy import select, text

from registry import clock
from registry.access.models import Clinic, Region
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.synth import generate
from registry.synth.bulk import write_batch

CLINIC_PREFIX = "Synthetic clinic"
CLINICS = 60
CENTRE_TYPES = {"outpatient": 0.55, "inpatient": 0.3, "low_threshold": 0.08, "prison": 0.04}
CENTRE_TYPES |= {"gp": 0.03}


def synthetic_clinics(seed: int) -> generate.Clinics:
    """Return the synthetic clinics, creating them (weighted by region population) if missing."""
    rows = db.session.execute(
        select(Clinic.id, Clinic.region_code, Clinic.centre_type)
        .where(Clinic.name.startswith(CLINIC_PREFIX))
        .order_by(Clinic.id)
    ).all()
    if not rows:
        regions = sorted(db.session.scalars(select(Region.code)))
        if not regions:
            raise click.ClickException("no regions: run `registry init` first")
        rng = np.random.default_rng([seed, 0xC11])
        weights = generate.region_weights(regions)
        types = list(CENTRE_TYPES)
        p = np.array(list(CENTRE_TYPES.values()))
        for region, w in zip(regions, weights, strict=True):
            for k in range(max(1, round(CLINICS * w))):
                kind = types[rng.choice(len(types), p=p / p.sum())]
                db.session.add(
                    Clinic(
                        name=f"{CLINIC_PREFIX} {region}-{k + 1}",
                        region_code=region,
                        centre_type=kind,
                    )
                )
        db.session.commit()
        return synthetic_clinics(seed)
    ids, regions, types = zip(*rows, strict=True)
    return generate.Clinics(np.array(ids), np.array(regions), np.array(types, dtype=object))


@click.command("synth")
@click.option("--persons", type=click.IntRange(1, 20_000_000), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--batch", type=click.IntRange(100, 100_000), default=5000, show_default=True)
@click.option("--year", type=int, default=None, help="Year of first admissions [last year]")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Batches written at once, each by its own process (PostgreSQL only)",
)
@with_appcontext
def synth_command(persons: int, seed: int, batch: int, year: int | None, jobs: int) -> None:
    """Fill the database with a synthetic population through the services' validation."""
    today = clock.now().date()
    year = year or today.year - 1
    if not 1990 <= year <= today.year:
        raise click.BadParameter("must be between 1990 and this year", param_hint="--year")
    if jobs > 1 and db.session.get_bind().dialect.name != "postgresql":
        raise click.BadParameter("SQLite has one writer at a time", param_hint="--jobs")
    clinics = synthetic_clinics(seed)
    plan = _Plan(seed, batch, persons, year, today, clinics)
    start, made = time.perf_counter(), [0, 0]
    for n_persons, n_episodes in _batches(plan, jobs):
        made[0] += n_persons
        made[1] += n_episodes
        rate = made[0] / (time.perf_counter() - start)
        click.echo(f"{made[0]} persons, {made[1]} episodes, {rate:.0f} persons/s", err=True)
    seconds = time.perf_counter() - start
    _analyze()
    click.echo(
        f"synth: {made[0]} persons, {made[1]} episodes in {seconds:.1f} s"
        f" ({made[0] / seconds:.0f} persons/s)"
    )


@dataclass(frozen=True)
class _Plan:
    """What every batch needs: the seed, sizes, the year of first admissions and the clinics."""

    seed: int
    batch: int
    persons: int
    year: int
    today: date
    clinics: generate.Clinics

    def numbers(self) -> range:
        return range(-(-self.persons // self.batch))


def _write(plan: _Plan, number: int) -> tuple[int, int]:
    """Draw batch `number` from its own seeded generator and store it in one transaction."""
    rng = np.random.default_rng([plan.seed, number])
    size = min(plan.batch, plan.persons - number * plan.batch)
    regions = sorted(set(plan.clinics.regions.tolist()))
    people = generate.persons(rng, size, regions)
    columns = generate.episodes(rng, people, plan.clinics, plan.year, plan.today)
    audit_id = f"{plan.seed}:{number}"
    try:
        done = write_batch(people, columns, plan.clinics.ids.tolist(), audit_id, _quiet)
    except ValidationFailed as exc:
        db.session.rollback()
        raise click.ClickException(f"invalid synthetic record: {exc.errors}") from None
    db.session.commit()
    return done


def _quiet(_persons: int, _episodes: int) -> None:
    """Report nothing from inside a batch: the caller reports each batch when it is stored."""


def _batches(plan: _Plan, jobs: int) -> Iterator[tuple[int, int]]:
    """Write every batch, in order or by `jobs` forked processes; yield each one's counts."""
    if jobs == 1:
        for number in plan.numbers():
            yield _write(plan, number)
        return
    # Forked workers inherit the app and its context; each opens its own connections (never
    # the parent's) and writes whole batches, each one transaction with its audit entry.
    db.session.commit()
    db.session.close()
    db.engine.dispose(close=False)
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_worker_start) as pool:
        yield from pool.imap_unordered(functools.partial(_write, plan), plan.numbers())


def _worker_start() -> None:
    """Drop the connections a forked worker inherited (the parent's), without closing them."""
    db.engine.dispose(close=False)


def _analyze() -> None:
    """Refresh PostgreSQL's planner statistics: a bulk load leaves them far behind."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("persons", "episodes", "episode_events", "pseudonyms", "care_cards"):
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()
