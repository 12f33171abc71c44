"""What a protected release publishes: values, statuses, audit and the release record."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from registry.stats.sdc.audit import AuditReport
from registry.stats.sdc.model import ReleaseModel
from registry.stats.sdc.params import SdcParams


class CellStatus(StrEnum):
    """How a cell is released."""

    PUBLISHED = "published"  # exact (zeros, or perturbation switched off)
    SUPPRESSED = "suppressed"
    PERTURBED = "perturbed"  # passed through the pTable, whether or not the noise was 0


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

    def hide(self, hidden: np.ndarray) -> ProtectedRelease:
        """Return the release with these cells suppressed too (hiding more never narrows)."""
        hidden = np.asarray(hidden, dtype=bool) | (self.status == CellStatus.SUPPRESSED)
        status = np.where(hidden, CellStatus.SUPPRESSED.value, self.status)
        return replace(self, values=np.where(hidden, -1, self.values), status=status)

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
            "ptable_digest": self.params.noise.digest(),
            "cells": int(self.model.n_cells),
            "primary_suppressed": int(self.primary.sum()),
            "secondary_suppressed": int((hidden & ~self.primary).sum()),
            "audit_passed": self.audit.passed,
            "repair_rounds": int(self.audit.extra.get("repair_rounds", 0)),
            # The narrowest exact interval over every hidden cell, when the search was complete;
            # otherwise the narrowest one made exact, and every hidden cell is only proven as
            # wide as proven_min_width.
            "narrowest_width": _width(narrow),
            **({"republish_stopped": True} if self.audit.extra.get("republish_stopped") else {}),
            "narrowest_is_global": self.audit.narrowest_is_global,
            "proven_min_width": _finite(self.audit.proven_min_width),
            "seconds": dict(self.seconds),
            "digest": hashlib.sha256(self.values.tobytes() + self.status.tobytes()).hexdigest(),
        }


def _finite(width: float | None) -> float | None:
    """Return a width for JSON, to the solver's precision: None when unbounded or absent."""
    return round(width, 6) if width is not None and math.isfinite(width) else None


def _width(narrow: tuple[int, float, float] | None) -> float | None:
    """Return the narrowest interval's width; None when none is bounded (JSON has no Infinity)."""
    return None if narrow is None else _finite(narrow[2] - narrow[1])
