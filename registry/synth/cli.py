"""`registry synth --persons N --seed S`: fill the database with a synthetic population."""

from __future__ import annotations

import time

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
@with_appcontext
def synth_command(persons: int, seed: int, batch: int, year: int | None) -> None:
    """Fill the database with a synthetic population through the services' validation."""
    today = clock.now().date()
    year = year or today.year - 1
    if not 1990 <= year <= today.year:
        raise click.BadParameter("must be between 1990 and this year", param_hint="--year")
    clinics = synthetic_clinics(seed)
    regions = sorted(set(clinics.regions.tolist()))
    start, made = time.perf_counter(), [0, 0]

    def progress(n_persons: int, n_episodes: int) -> None:
        made[0] += n_persons
        made[1] += n_episodes
        rate = made[0] / (time.perf_counter() - start)
        click.echo(f"{made[0]} persons, {made[1]} episodes, {rate:.0f} persons/s", err=True)

    for number, first in enumerate(range(0, persons, batch)):
        rng = np.random.default_rng([seed, number])
        people = generate.persons(rng, min(batch, persons - first), regions)
        columns = generate.episodes(rng, people, clinics, year, today)
        try:
            write_batch(people, columns, clinics.ids.tolist(), f"{seed}:{number}", progress)
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException(f"invalid synthetic record: {exc.errors}") from None
        db.session.commit()
    seconds = time.perf_counter() - start
    _analyze()
    click.echo(
        f"synth: {made[0]} persons, {made[1]} episodes in {seconds:.1f} s"
        f" ({made[0] / seconds:.0f} persons/s)"
    )


def _analyze() -> None:
    """Refresh PostgreSQL's planner statistics: a bulk load leaves them far behind."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("persons", "episodes", "episode_events", "pseudonyms", "care_cards"):
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()
