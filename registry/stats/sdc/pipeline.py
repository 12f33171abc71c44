"""One path for every number that leaves the service: counts → suppression → audit → noise."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
from scipy import sparse

from registry.stats.sdc import deadline
from registry.stats.sdc.audit import TOL, AuditReport, audit_intervals
from registry.stats.sdc.gauss import gauss_suppress
from registry.stats.sdc.model import ReleaseModel
from registry.stats.sdc.params import SdcParams
from registry.stats.sdc.primary import primary_mask
from registry.stats.sdc.release import CellStatus, ProtectedRelease
from registry.stats.sdc.repair import Repairer

# Hiding a protected margin costs this many ordinary cells: the repair takes one only when no
# other way exists (for instance a table too small to protect otherwise).
PROTECTED_MARGIN_COST = 1e4


def protected_margins(model: ReleaseModel) -> np.ndarray:
    """Return the cells published unless primary: the grand total and one-dimension margins.

    Not the categories of a one-dimension table: they are its inner cells, and protecting one
    of them takes hiding another.
    """
    level = (model.codes != 0).sum(axis=1)
    return (level <= 1) & ~model.inner


def cell_weights(model: ReleaseModel, counts: np.ndarray, params: SdcParams) -> np.ndarray:
    """Return the cost of hiding each cell."""
    if params.cost not in ("cells", "persons"):
        raise ValueError(f"unknown cost {params.cost!r}")
    weight = counts.astype(float) + 1.0 if params.cost == "persons" else np.ones(len(counts))
    weight = np.where(model.inner, weight, weight * params.margin_weight)
    protected = protected_margins(model) & ~primary_mask(counts, params.threshold)
    return np.where(protected, weight * PROTECTED_MARGIN_COST, weight)


def publish_order(model: ReleaseModel, counts: np.ndarray, params: SdcParams) -> np.ndarray:
    """Return the cells that may be hidden as secondaries, the most worth publishing first.

    Zero cells first: they describe nobody, and one is hidden only where a zero blocks every
    other way to protect a cell (sparse tables, where the alternative is a margin). Then big
    cells, so that small ones carry the protection (GaussSuppression's default); margins count
    `margin_weight` times their size; ties go to the margin, then the lower id.
    """
    primary = primary_mask(counts, params.threshold)
    candidates = np.flatnonzero(~primary & ~protected_margins(model))
    size = np.where(model.inner, counts, counts * params.margin_weight)[candidates]
    size = np.where(counts[candidates] == 0, np.inf, size)
    level = (model.codes != 0).sum(axis=1)[candidates]
    return candidates[np.lexsort((candidates, level, -size))]


def suppress(
    model: ReleaseModel,
    counts: np.ndarray,
    params: SdcParams,
    must_hide: np.ndarray | None = None,
    must_publish: np.ndarray | None = None,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Return the primary + secondary suppression mask and directions the hidden cells move in.

    `must_hide` cells are protected like primary ones (hidden by an earlier release of the same
    population); `must_publish` cells are published unless hidden (published earlier).
    """
    primary = primary_mask(counts, params.threshold)
    if must_hide is not None:
        primary = primary | must_hide
    forced = protected_margins(model) & ~primary
    if must_publish is not None:
        forced = forced | (must_publish & ~primary)
    order = publish_order(model, counts, params)
    order = order[~primary[order] & ~forced[order]]
    return gauss_suppress(model, counts, primary, forced, order)


def audit_and_repair(
    model: ReleaseModel,
    counts: np.ndarray,
    hidden: np.ndarray,
    params: SdcParams,
    directions: sparse.spmatrix | None = None,
) -> tuple[np.ndarray, AuditReport]:
    """Audit; while cells fail, extend the suppression by LP repair and audit again."""
    weights = cell_weights(model, counts, params)
    directions = sparse.csr_matrix((0, model.n_cells)) if directions is None else directions
    audit_seconds = 0.0
    report = None
    repairer = Repairer(model.constraints, counts)
    for rounds in range(params.max_repair_rounds):
        report = audit_intervals(
            model.constraints, counts, hidden, params.safety, directions, known=report
        )
        audit_seconds += report.seconds
        if report.passed:
            report.extra.update(audit_seconds_total=audit_seconds, repair_rounds=rounds)
            return hidden, report
        found: list[np.ndarray] = []
        # Narrowest first: their repairs often widen the others (measured: fewer cells hidden).
        narrow = report.width < params.safety - TOL
        failing = report.cells[narrow][np.argsort(report.width[narrow], kind="stable")]
        low = dict(zip(report.cells.tolist(), report.lower.tolist(), strict=True))
        for cell in failing:
            if any(m[cell] for m in found):
                continue  # widened by this round's repairs already; the next audit will tell
            deadline.check()
            hidden, move = repairer.repair(
                hidden, weights, int(cell), params.safety, low[int(cell)]
            )
            found.append(move)
        directions = sparse.vstack([directions, sparse.csr_matrix(np.array(found))]).tocsr()
    raise RuntimeError("secondary suppression did not converge")


def republish_margins(
    model: ReleaseModel,
    counts: np.ndarray,
    hidden: np.ndarray,
    params: SdcParams,
    report: AuditReport,
) -> tuple[np.ndarray, AuditReport]:
    """Publish top-level secondary margins again, level by level, while the audit passes.

    Each level's trial is audited in full, which on a large sparse table can take far longer
    than the protection itself: out of time, the last suppression that passed is kept (the
    hidden cells of every step contain the next one's, so no two steps tell more together).
    """
    level = (model.codes == 0).sum(axis=1)  # number of dimensions at their total
    secondary = hidden & ~primary_mask(counts, params.threshold)
    top = len(model.dimensions)
    report.extra["republish_stopped"] = False
    try:
        with deadline.time_budget(params.republish_seconds):
            for lvl in range(top, top - params.republish_levels, -1):
                back = secondary & (level == lvl)
                if not back.any():
                    continue
                trial = audit_intervals(model.constraints, counts, hidden & ~back, params.safety)
                report.extra["audit_seconds_total"] += trial.seconds
                if not trial.passed:
                    break
                trial.extra = report.extra
                hidden, report = hidden & ~back, trial
    except deadline.DeadlinePassed:
        report.extra["republish_stopped"] = True
    return hidden, report


def protect_release(
    model: ReleaseModel,
    counts: np.ndarray,
    cell_keys: np.ndarray,
    params: SdcParams | None = None,
    must_hide: np.ndarray | None = None,
    must_publish: np.ndarray | None = None,
) -> ProtectedRelease:
    """Protect the exact counts of a release and return what may be published.

    `must_hide` / `must_publish`: cells an earlier release of the same population hid or
    published (see registry/stats/ledger.py), so that no two releases disagree on a cell.
    """
    params = params or SdcParams()
    counts = np.asarray(counts, dtype=np.int64)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    primary = primary_mask(counts, params.threshold)
    if must_hide is not None:
        primary = primary | must_hide
    hidden, cubes = suppress(model, counts, params, must_hide, must_publish)
    t1 = time.perf_counter()
    hidden, report = audit_and_repair(model, counts, hidden, params, cubes)
    if params.republish_levels:
        hidden, report = republish_margins(model, counts, hidden, params, report)
    t2 = time.perf_counter()
    values = params.noise.perturb(counts, cell_keys) if params.perturb else counts.copy()
    status = np.full(model.n_cells, CellStatus.PUBLISHED.value, dtype="U10")
    status[params.perturb & (counts > 0)] = CellStatus.PERTURBED.value
    status[hidden] = CellStatus.SUPPRESSED.value
    values = np.where(hidden, -1, values)
    audit = report.extra["audit_seconds_total"]
    seconds.update(
        suppression=t1 - t0,
        audit=audit,
        repair=t2 - t1 - audit,
        perturbation=time.perf_counter() - t2,
    )
    return ProtectedRelease(model, values, status, primary, report, seconds, params)


def protect_records(
    model: ReleaseModel,
    records: Mapping[str, np.ndarray],
    record_keys: np.ndarray,
    params: SdcParams | None = None,
    weights: np.ndarray | None = None,
) -> ProtectedRelease:
    """Count persons (or weighted groups of them) into the release's cells, then protect."""
    counts, cell_keys = model.count(records, record_keys, weights)
    return protect_release(model, counts, cell_keys, params)
