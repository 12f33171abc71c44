"""Benchmark cell suppression on the GaussSuppression reference table, beside its figures.

Run: python bench/sdc.py [--persons 8000,40000,200000] [--reference DIR] [--repeat N]
     [--skip-independent]

The table: region(12) × substance(8) × age(7) × sex(2) with every margin, 2,808 cells, persons
drawn as the reference's gen.py draws them. Per population it prints, each beside its target:
hidden cells (ours vs GaussSuppression with interval protection 10), persons in hidden inner
cells (ours vs the reference's CSV, when DIR holds it), the grand total and one-dimension
margins hidden (target: none), the narrowest hidden interval found by an independent audit
(plain linprog, nothing shared with the library's audit; target ≥ 10), and the time of
suppression + audit (target ≤ 1 s; the reference takes 430 s with the interval guarantee).
DIR defaults to shared/sdc-reference beside the repository (or REGISTRY_SDC_REFERENCE).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from registry.stats.sdc import CellStatus, ReleaseModel, SdcParams, TableSpec, protect_release
from registry.stats.sdc.synthetic import reference_dimensions, reference_population

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the independent audit lives with the tests

from tests.stats.sdc_helpers import IndependentAudit  # noqa: E402

# GaussSuppression 1.2.3 with interval protection (rangeMin = 10): shared/sdc-reference/README.md
REFERENCE_HIDDEN = {8000: 1482, 40000: 1058, 200000: 483}
REFERENCE_SECONDS = {8000: 430, 40000: 629, 200000: 256}
TIME_TARGET = 1.0
SAFETY = 10.0
DIMS = ("region", "substance", "age", "sex")
SERVICE = SdcParams(margin_weight=3.0, republish_levels=2)  # registry/config.py defaults


def reference_dir(given: str) -> Path | None:
    """Return the folder of the reference CSVs, if there is one."""
    candidates = [given, os.environ.get("REGISTRY_SDC_REFERENCE", "")]
    candidates += [str(p / "shared" / "sdc-reference") for p in (ROOT.parent, ROOT.parent.parent)]
    return next((Path(c) for c in candidates if c and Path(c, "README.md").exists()), None)


def reference_cells(folder: Path | None, model: ReleaseModel, persons: int, counts: np.ndarray):
    """Return the reference's hidden mask, or None without its CSV; check its counts are ours."""
    path = folder / f"gauss_interval10_{persons}.csv" if folder else None
    if path is None or not path.exists():
        return None
    hidden = np.zeros(model.n_cells, dtype=bool)
    with path.open() as f:
        for row in csv.DictReader(f):
            cell = model.find(**{d: row[d] for d in DIMS if row[d] != "Total"})
            if int(float(row["freq"])) != counts[cell]:
                raise SystemExit(f"{path}: counts differ from gen.py's draws at {row}")
            hidden[cell] = row["suppressed"] == "TRUE"
    return hidden


def figures(persons: int, folder: Path | None, repeat: int, independent: bool) -> None:
    """Print the figures of one population under the library's and the service's settings."""
    model = ReleaseModel(reference_dimensions(), [TableSpec("t", DIMS)])
    records, keys = reference_population(persons)
    counts, cell_keys = model.count(records, keys)
    theirs = reference_cells(folder, model, persons, counts)
    level = (model.codes != 0).sum(axis=1)
    inner = model.inner
    ref_hidden = REFERENCE_HIDDEN[persons]
    ref_persons = "n/a (no CSV)" if theirs is None else f"{counts[theirs & inner].sum():,}"
    primary = int(((counts > 0) & (counts < 10)).sum())
    print(f"\n{persons:,} persons: {model.n_cells} cells, primary (1..9) {primary}")
    for name, params in (("library", SdcParams()), ("service", SERVICE)):
        runs = [protect_release(model, counts, cell_keys, params) for _ in range(repeat)]
        release = runs[-1]
        hidden = release.status == CellStatus.SUPPRESSED
        seconds = statistics.median(
            r.seconds["suppression"] + r.seconds["audit"] + r.seconds["repair"] for r in runs
        )
        record = release.record()
        big_margins = hidden & (level == 1) & (counts >= 10)
        print(f"  {name} settings:")
        print(
            f"    hidden cells: {hidden.sum():,} vs GaussSuppression {ref_hidden:,}"
            f" ({hidden.sum() - ref_hidden:+d}; target ≤ reference)"
        )
        print(
            f"    persons in hidden inner cells: {counts[hidden & inner].sum():,}"
            f" vs reference {ref_persons}"
        )
        print(
            f"    grand total hidden: {int(hidden[level == 0].sum())} (target 0);"
            f" one-dimension margins ≥ 10 hidden: {int(big_margins.sum())} (target 0)"
        )
        print(
            f"    record: narrowest {record['narrowest_width']}, global"
            f" {record['narrowest_is_global']}, audit passed {record['audit_passed']},"
            f" repair rounds {record['repair_rounds']}"
        )
        print(
            f"    suppression + audit + repair: {seconds:.2f} s, median of {repeat}"
            f" (target {TIME_TARGET} s: {seconds / TIME_TARGET:.1f}x; reference"
            f" {REFERENCE_SECONDS[persons]} s with intervals); suppression"
            f" {release.seconds['suppression']:.2f} s, audit {release.seconds['audit']:.2f} s,"
            f" repair {release.seconds['repair']:.2f} s"
        )
        if independent:
            start = time.perf_counter()
            oracle = IndependentAudit(model.constraints, counts, hidden)
            oracle.prove(SAFETY)
            cell, width = oracle.narrowest()
            key = ", ".join(f"{k}={v}" for k, v in model.key(cell).items())
            safe = bool((oracle.hi - oracle.lo).min() >= SAFETY - 1e-6)
            print(
                f"    independent audit: narrowest hidden interval {width:g} (target ≥ {SAFETY:g})"
                f" at ({key}); every hidden cell proven ≥ {SAFETY:g}: {safe}"
                f" ({oracle.lps} LPs, {time.perf_counter() - start:.0f} s)"
            )


def main() -> None:
    """Print the figures the issue asks for."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", default="8000,40000,200000")
    parser.add_argument("--reference", default="")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (median time)")
    parser.add_argument("--skip-independent", action="store_true")
    args = parser.parse_args()
    folder = reference_dir(args.reference)
    print(f"reference CSVs: {folder or 'not found (persons in hidden cells: n/a)'}")
    for persons in (int(p) for p in args.persons.split(",")):
        figures(persons, folder, args.repeat, not args.skip_independent)


if __name__ == "__main__":
    main()
