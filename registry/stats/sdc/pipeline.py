"""One path for every number that leaves the service: counts → suppression → audit → noise."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from scipy import sparse

from registry.stats.sdc.audit import AuditReport, audit_intervals
from registry.stats.sdc.hypercube import hypercube_suppress
from registry.stats.sdc.model import ReleaseModel
from registry.stats.sdc.perturb import PTable, default_ptable
from registry.stats.sdc.primary import primary_mask
from registry.stats.sdc.repair import repair


class CellStatus(StrEnum):
    """How a cell is released."""

    PUBLISHED = "published"  # exact (zeros, or perturbation switched off)
    SUPPRESSED = "suppressed"
    PERTURBED = "perturbed"  # passed through the pTable, whether or not the noise was 0


@dataclass(frozen=True)
class SdcParams:
    """Disclosure-control settings of a release."""

    threshold: int = 10
    safety_range: float | None = None  # default: the threshold
    # Cost of hiding a cell: "cells" (1 per cell) or "persons" (its count + 1). On sparse tables
    # "cells" hides fewer cells *and* fewer persons in inner cells (see bench/stats.py).
    cost: str = "cells"
    margin_weight: float = 1.0  # cost multiplier for hiding a margin instead of an inner cell
    perturb: bool = True
    ptable: PTable = field(default_factory=default_ptable)
    max_repair_rounds: int = 50
    # Opt-in: after protection, try to publish again the non-primary margins of the top N levels
    # (1 = grand total, 2 = also one-dimensional margins), each level kept only if the audit
    # still passes. Hypercubes hide these margins first on sparse tables; the LP audit often
    # proves them unnecessary, but without cube certificates that audit costs seconds.
    republish_levels: int = 0

    @property
    def safety(self) -> float:
        """Return the minimum width of a suppressed cell's feasible interval."""
        return float(self.threshold if self.safety_range is None else self.safety_range)


@dataclass(frozen=True)
class ProtectedCell:
    """One released cell."""

    key: dict[str, str]
    value: int | None
    status: CellStatus


@dataclass(frozen=True)
class ProtectedRelease:
    """Released values and statuses of every cell, with the audit and timings."""

    model: ReleaseModel
    values: np.ndarray  # published value, -1 where suppressed
    status: np.ndarray  # CellStatus per cell
    primary: np.ndarray
    audit: AuditReport
    seconds: dict[str, float]
    params: SdcParams

    def cells(self) -> Iterator[ProtectedCell]:
        """Yield every cell of the release."""
        for i in range(self.model.n_cells):
            value = None if self.status[i] == CellStatus.SUPPRESSED else int(self.values[i])
            yield ProtectedCell(self.model.key(i), value, CellStatus(self.status[i]))

    def value(self, **codes: str) -> int | None:
        """Return the released value of one cell (None when suppressed)."""
        i = self.model.find(**codes)
        return None if self.status[i] == CellStatus.SUPPRESSED else int(self.values[i])

    def to_dict(self) -> dict:
        """Return the release as JSON-ready data: the record and every cell's value and status."""
        cells = [{"key": c.key, "value": c.value, "status": c.status.value} for c in self.cells()]
        return {"record": self.record(), "cells": cells}

    def record(self) -> dict:
        """Return the release record: what was released and how it was protected."""
        hidden = self.status == CellStatus.SUPPRESSED
        narrow = self.audit.narrowest
        return {
            "tables": [{"name": t.name, "dims": list(t.dims)} for t in self.model.tables],
            "threshold": self.params.threshold,
            "safety_range": self.params.safety,
            "perturbed": self.params.perturb,
            "ptable_digest": self.params.ptable.digest(),
            "cells": int(self.model.n_cells),
            "primary_suppressed": int(self.primary.sum()),
            "secondary_suppressed": int((hidden & ~self.primary).sum()),
            "audit_passed": self.audit.passed,
            "repair_rounds": int(self.audit.extra.get("repair_rounds", 0)),
            "narrowest_width": None if narrow is None else narrow[2] - narrow[1],
            "seconds": dict(self.seconds),
            "digest": hashlib.sha256(self.values.tobytes() + self.status.tobytes()).hexdigest(),
        }


def cell_weights(model: ReleaseModel, counts: np.ndarray, params: SdcParams) -> np.ndarray:
    """Return the cost of hiding each cell."""
    if params.cost not in ("cells", "persons"):
        raise ValueError(f"unknown cost {params.cost!r}")
    weight = counts.astype(float) + 1.0 if params.cost == "persons" else np.ones(len(counts))
    return np.where(model.inner, weight, weight * params.margin_weight)


def suppress(
    model: ReleaseModel, counts: np.ndarray, params: SdcParams
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Return the primary + secondary suppression mask and the hypercubes behind it."""
    primary = primary_mask(counts, params.threshold)
    weights = cell_weights(model, counts, params)
    return hypercube_suppress(model, counts, primary, weights, params.safety)


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
    for rounds in range(params.max_repair_rounds):
        report = audit_intervals(model.constraints, counts, hidden, params.safety, directions)
        audit_seconds += report.seconds
        if report.passed:
            report.extra.update(audit_seconds_total=audit_seconds, repair_rounds=rounds)
            return hidden, report
        found: list[np.ndarray] = []
        for cell in report.failing:
            if any(m[cell] for m in found):
                continue  # widened by this round's repairs already; the next audit will tell
            hidden, moves = repair(
                model.constraints, counts, hidden, weights, int(cell), params.safety
            )
            found += moves
        directions = sparse.vstack([directions, sparse.csr_matrix(np.array(found))]).tocsr()
    raise RuntimeError("secondary suppression did not converge")


def republish_margins(
    model: ReleaseModel,
    counts: np.ndarray,
    hidden: np.ndarray,
    params: SdcParams,
    report: AuditReport,
) -> tuple[np.ndarray, AuditReport]:
    """Publish top-level secondary margins again, level by level, while the audit passes."""
    level = (model.codes == 0).sum(axis=1)  # number of dimensions at their total
    secondary = hidden & ~primary_mask(counts, params.threshold)
    top = len(model.dimensions)
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
    return hidden, report


def protect_release(
    model: ReleaseModel,
    counts: np.ndarray,
    cell_keys: np.ndarray,
    params: SdcParams | None = None,
) -> ProtectedRelease:
    """Protect the exact counts of a release and return what may be published."""
    params = params or SdcParams()
    counts = np.asarray(counts, dtype=np.int64)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    primary = primary_mask(counts, params.threshold)
    hidden, cubes = suppress(model, counts, params)
    t1 = time.perf_counter()
    hidden, report = audit_and_repair(model, counts, hidden, params, cubes)
    if params.republish_levels:
        hidden, report = republish_margins(model, counts, hidden, params, report)
    t2 = time.perf_counter()
    values = params.ptable.perturb(counts, cell_keys) if params.perturb else counts.copy()
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
) -> ProtectedRelease:
    """Count persons into the release's cells, then protect the counts."""
    counts, cell_keys = model.count(records, record_keys)
    return protect_release(model, counts, cell_keys, params)
