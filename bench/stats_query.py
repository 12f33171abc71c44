"""Time ad hoc statistics queries through the API on a realistic synthetic population.

Run: python bench/stats_query.py [--instance DIR] [--persons N] [--year Y] [DIMS ...]

The instance (SQLite, or DATABASE_URL in its environment) is filled once with
`registry synth --persons N --seed 1` and reused. Each query prints its status, wall and CPU
seconds, the cost estimate (`registry.stats.cost`) and, for answers, whether republishing the
margins ran out of its time. The default query is issue 20's: persons by region, drug, age band
and referral source, which ran past gunicorn's 30 s timeout before queries had a budget.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ISSUE_QUERY = ["region", "drug", "age_band", "referral_source"]
OTHER_QUERIES = [["region", "drug", "age_band"], ["drug", "age_band", "referral_source"]]


def _registry(instance: Path, *args: str) -> None:
    env = {**os.environ, "REGISTRY_INSTANCE_PATH": str(instance)}
    registry = Path(sys.executable).with_name("registry")
    subprocess.run([str(registry), *args], env=env, check=True)


def fill(instance: Path, persons: int) -> None:
    """Initialise the instance and synthesise the population, unless done before."""
    marker = instance / f"synth-{persons}.done"
    if marker.exists():
        return
    _registry(instance, "init")
    _registry(instance, "synth", "--persons", str(persons), "--seed", "1")
    marker.touch()


def run(instance: Path, year: int, queries: list[list[str]]) -> None:
    """Ask each query as an analyst and print what it cost."""
    os.environ["REGISTRY_INSTANCE_PATH"] = str(instance)
    from registry import create_app
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user
    from registry.extensions import db
    from registry.stats.catalogue import DIMENSIONS
    from registry.stats.cost import table_cost
    from registry.stats.population import count_groups
    from registry.stats.query import parse_query, table_cells
    from registry.stats.sdc import ReleaseModel, TableSpec

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        user = create_user(f"bench-{uuid.uuid4().hex[:6]}", ["analyst"], None)
        token = issue_token(user, 1)[1]
        db.session.commit()
    client = app.test_client()
    budget = app.config["STATS_QUERY_SECONDS"]
    print(f"budget {budget} s, republishing at most {app.config['STATS_REPUBLISH_SECONDS']} s")
    for dims in queries:
        body = {"year": year, "measure": "persons", "dimensions": dims}
        with app.app_context():  # the service's estimate, made again
            cells = table_cells(parse_query(body))
            model = ReleaseModel(
                [DIMENSIONS[d].sdc_dimension(year) for d in dims], [TableSpec("q", tuple(dims))]
            )
            (groups,) = count_groups("persons", year, [tuple(dims)])
            estimate = table_cost(cells, int(model.inner.sum()), groups.total)
        wall, cpu = time.perf_counter(), time.process_time()
        answer = client.post(
            "/api/v1/stats/query", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        line = f"{' × '.join(dims)}: {answer.status_code} in {wall:.1f} s (CPU {cpu:.1f} s)"
        if answer.status_code == 200:
            protection = answer.json["protection"]
            hidden = sum(c["value"] is None for c in answer.json["cells"])
            line += (
                f", {hidden} suppressed, republishing"
                f" {'stopped' if protection.get('republish_stopped') else 'done'}"
            )
        else:
            line += f": {answer.json['errors']['dimensions'][0]}"
        line += f"; {cells} cells, {groups.total} persons, estimated {estimate.seconds:.1f} s"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default=os.path.join(tempfile.gettempdir(), "stats-query"))
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--year", type=int, default=None, help="reference year [last year]")
    parser.add_argument("dims", nargs="*")
    args = parser.parse_args()
    instance = Path(args.instance)
    instance.mkdir(parents=True, exist_ok=True)
    fill(instance, args.persons)
    year = args.year or time.gmtime().tm_year - 1
    run(instance, year, [args.dims] if args.dims else [ISSUE_QUERY, *OTHER_QUERIES])


if __name__ == "__main__":
    main()
