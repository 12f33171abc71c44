"""Benchmark the disclosure-control pipeline on region × drug group × age band × sex.

Run: python bench/stats.py [--repeat N] [--baseline-cells N] [--skip-lp-only]
     [--tdi-database URL] [--tdi-persons N] [--tdi-instance DIR] [--tdi-only]
(--skip-lp-only drops the slow reference runs: uncertified audit, threshold-only audit and the
opt-in republishing of top-level margins.)

With a PostgreSQL URL (--tdi-database or REGISTRY_BENCH_STATS_URL), it also times the full set
of TDI standard tables on a synthetic population: the database is filled once with
`registry synth` (a keyring is kept in --tdi-instance) and reused while it holds enough persons.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from registry.stats.sdc import (
    CellStatus,
    ReleaseModel,
    SdcParams,
    TableSpec,
    audit_intervals,
    audit_release,
    protect_release,
)
from registry.stats.sdc.synthetic import dimensions, population, record_keys

PERSONS = 8000
TDI_TARGET = 10.0
TDI_YEAR = 2025
SUPPRESSION_TARGET = 1.0
AUDIT_TARGET = 10.0
R_GAUSS_SECONDS = 2.0  # quoted in the issue, not measured here


def plain_loop(model: ReleaseModel, counts: np.ndarray, hidden: np.ndarray, cells: np.ndarray):
    """Time the naive audit: two linprog calls per cell over the whole table."""
    a = model.constraints
    bounds = [(0, None) if h else (float(v), float(v)) for v, h in zip(counts, hidden, strict=True)]
    start = time.perf_counter()
    for c in cells:
        cost = np.zeros(model.n_cells)
        cost[c] = 1.0
        for sign in (1.0, -1.0):
            linprog(sign * cost, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
    return time.perf_counter() - start


def reference_audits(
    model: ReleaseModel, counts: np.ndarray, hidden: np.ndarray, naive: np.ndarray
) -> None:
    """Print the audit without certificates and the audit of threshold-only suppression."""
    start = time.perf_counter()
    lp_only = audit_intervals(model.constraints, counts, hidden, 10.0, narrowest_budget=0)
    print(
        f"audit without any certificates (decomposition + capped warm LPs only):"
        f" {time.perf_counter() - start:.2f} s, {lp_only.n_lps} LPs, passed={lp_only.passed}"
    )
    report = audit_release(model, counts, naive, 10.0, narrowest_budget=0)
    narrow, exact, n = len(report.failing), int((report.width < 1e-6).sum()), naive.sum()
    print(
        f"threshold-only suppression (cells 1..9 hidden, nothing else): audit"
        f" passed={report.passed}; {narrow} of {n} hidden cells ({narrow / n:.0%})"
        f" narrowed below 10, {exact} ({exact / n:.0%}) recovered exactly"
    )


def summary(model: ReleaseModel, counts: np.ndarray, release) -> str:
    """Return cells hidden and persons in hidden inner cells as one line."""
    hidden = release.status == CellStatus.SUPPRESSED
    inner = model.inner
    return (
        f"cells hidden {hidden.mean():.1%} ({hidden.sum()} of {model.n_cells}; inner"
        f" {hidden[inner].mean():.1%}, margins {hidden[~inner].mean():.1%}); persons in hidden"
        f" inner cells {counts[hidden & inner].sum() / counts[model.find()]:.1%}"
    )


def main() -> None:
    """Run the pipeline and print the figures the issue asks for."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="pipeline runs (median reported)")
    parser.add_argument("--baseline-cells", type=int, default=40, help="cells in plain-loop run")
    parser.add_argument("--skip-lp-only", action="store_true", help="skip the uncertified audit")
    parser.add_argument("--tdi-database", default=os.environ.get("REGISTRY_BENCH_STATS_URL", ""))
    parser.add_argument("--tdi-persons", type=int, default=1_000_000)
    parser.add_argument(
        "--tdi-instance", default=str(Path(tempfile.gettempdir()) / "registry-bench-stats")
    )
    parser.add_argument("--tdi-only", action="store_true", help="skip the 8,000-person figures")
    args = parser.parse_args()
    if not args.tdi_only:
        sdc_figures(args)
    if args.tdi_database:
        tdi_figures(args.tdi_database, args.tdi_persons, Path(args.tdi_instance))
    else:
        print("TDI set: skipped (give --tdi-database or REGISTRY_BENCH_STATS_URL)")


def sdc_figures(args) -> None:
    """Print the disclosure-control figures on 8,000 persons."""

    model = ReleaseModel(dimensions(20), [TableSpec("rdas", ("region", "drug", "age", "sex"))])
    counts, cell_keys = model.count(population(PERSONS), record_keys(PERSONS))
    runs = [protect_release(model, counts, cell_keys, SdcParams()) for _ in range(args.repeat)]
    release = runs[-1]
    assert all(np.array_equal(r.values, release.values) for r in runs), "not deterministic"
    supp_s = statistics.median(r.seconds["suppression"] for r in runs)
    audit_s = statistics.median(r.seconds["audit"] for r in runs)
    repair_s = statistics.median(r.seconds["repair"] for r in runs)
    hidden = release.status == CellStatus.SUPPRESSED
    audit = release.audit
    cell, lo, hi = audit.narrowest
    key = ", ".join(f"{k}={v}" for k, v in model.key(cell).items())
    scope = "global minimum" if audit.narrowest_is_global else "narrowest found within budget"

    print("region(20) × drug group(8) × age band(8) × sex(2) + all margins,", PERSONS, "persons")
    print(
        f"cells {model.n_cells} ({model.inner.sum()} inner), constraints"
        f" {model.constraints.shape[0]}, primary suppressed {release.primary.sum()} (1..9)"
    )
    print(f"default (cost = cells hidden):    {summary(model, counts, release)}")
    alt = protect_release(model, counts, cell_keys, SdcParams(cost="persons"))
    print(f"alternative (cost = persons + 1): {summary(model, counts, alt)}")
    print(
        f"audit: passed={audit.passed}, {len(audit.cells)} suppressed cells,"
        f" {audit.n_components} component(s), {audit.n_certified} proven by verified hypercube"
        f" certificates, {audit.n_lps} LPs"
    )
    print(
        f"narrowest audited interval: [{lo:g}, {hi:g}] width {hi - lo:g} at ({key}), {scope};"
        f" every suppressed cell proven >= {audit.width.min():g} wide (safety range 10)"
    )
    print(
        f"suppression: {supp_s:.3f} s, median of {args.repeat} (target {SUPPRESSION_TARGET} s:"
        f" {supp_s / SUPPRESSION_TARGET:.3f}x; R Gaussian elimination quoted at"
        f" {R_GAUSS_SECONDS} s, not measured here: {supp_s / R_GAUSS_SECONDS:.2f}x)"
    )
    print(f"LP repair:   {repair_s:.3f} s")
    print(
        f"audit:       {audit_s:.3f} s, median of {args.repeat} (target {AUDIT_TARGET} s:"
        f" {audit_s / AUDIT_TARGET:.3f}x)"
    )
    start = time.perf_counter()
    own = audit_release(model, counts, hidden, 10.0)
    print(
        f"independent audit (its own hypercube certificates, no hints from suppression):"
        f" {time.perf_counter() - start:.3f} s, {own.n_lps} LPs, passed={own.passed}"
    )
    if not args.skip_lp_only:
        reference_audits(model, counts, hidden, release.primary)
        relaxed = protect_release(model, counts, cell_keys, SdcParams(republish_levels=2))
        level = (model.codes == 0).sum(axis=1)
        top = relaxed.status[level >= 3] != CellStatus.SUPPRESSED
        print(
            f"opt-in republish_levels=2: {summary(model, counts, relaxed)}; grand total and"
            f" one-dimensional margins published: {top.sum()} of {top.size};"
            f" audit passed={relaxed.audit.passed}, audit {relaxed.seconds['audit']:.2f} s"
        )
    sample = np.random.default_rng(0).choice(
        np.flatnonzero(hidden), size=args.baseline_cells, replace=False
    )
    loop_s = plain_loop(model, counts, hidden, sample)
    projected = loop_s / len(sample) * hidden.sum()
    print(
        f"baseline plain loop, two linprog calls per cell: {loop_s:.2f} s measured on"
        f" {len(sample)} cells, EXTRAPOLATED to {hidden.sum()} cells: {projected:.1f} s"
        f" (our audit: {projected / audit_s:.0f}x faster)"
    )


def _cli(env: dict, *args: str) -> str:
    """Run a registry command on the bench database; return its output."""
    registry = str(Path(sys.executable).parent / "registry")
    done = subprocess.run([registry, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def tdi_figures(url: str, persons: int, instance: Path) -> None:
    """Fill the database once with `registry synth`, then time the full set of TDI tables."""
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_INSTANCE_PATH": str(instance)}
    app = _app(env)
    have = _persons(app)
    if have < persons:
        _cli(env, "init")
        out = _cli(env, "synth", "--persons", str(persons - have), "--seed", str(have + 1),
                   "--batch", "10000", "--year", str(TDI_YEAR))  # fmt: skip
        print(out.strip().splitlines()[-1])
        have = _persons(app)
    else:
        print(f"reusing the synthetic population in the bench database ({have} persons)")
    with app.app_context():
        from sqlalchemy import func, select

        from registry.episodes.models import Episode
        from registry.extensions import db
        from registry.stats.population import count_groups
        from registry.stats.tdi import SPLIT, TDI_TABLES, run_tdi_set

        episodes = db.session.execute(select(func.count()).select_from(Episode)).scalar()
        start = time.perf_counter()
        tables = run_tdi_set(TDI_YEAR)
        total = time.perf_counter() - start
        start = time.perf_counter()
        count_groups("persons", TDI_YEAR, [(*t.dims, SPLIT) for t in TDI_TABLES.values()])
        counting = time.perf_counter() - start
        db.session.rollback()
    cells = sum(len(answer["cells"]) for _, answer in tables)
    audited = all(answer["protection"].get("audit_passed") for _, answer in tables)
    print(
        f"TDI standard tables ({len(tables)} tables, {cells} cells, audits passed={audited}) for"
        f" {TDI_YEAR} on {have} persons / {episodes} episodes in PostgreSQL: {total:.2f} s"
        f" (target {TDI_TARGET} s); counting alone (one SQL round trip): {counting:.2f} s"
    )


def _app(env: dict):
    os.environ.update({k: env[k] for k in ("REGISTRY_DATABASE_URL", "REGISTRY_INSTANCE_PATH")})
    from registry import create_app

    return create_app({"ALLOW_MISSING_KEYRING": True})


def _persons(app) -> int:
    from sqlalchemy import func, inspect, select

    from registry.extensions import db
    from registry.patients.models import Person

    with app.app_context():
        if not inspect(db.engine).has_table("persons"):
            return 0
        return db.session.execute(select(func.count()).select_from(Person)).scalar()


if __name__ == "__main__":
    main()
