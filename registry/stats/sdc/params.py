"""Settings of a release's disclosure control."""

from __future__ import annotations

from dataclasses import dataclass

from registry.stats.sdc.perturb import PTable, default_ptable

MIN_THRESHOLD = 3


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
    ptable: PTable | None = None  # default: default_ptable with the threshold as its floor
    max_repair_rounds: int = 50
    # Opt-in: after protection, try to publish again the non-primary margins of the top N levels
    # (1 = grand total, 2 = also one-dimensional margins, 3 = also two-dimensional ones), each
    # level kept only if the audit still passes. The suppression already keeps levels 1 and 2
    # published unless nothing else protects a cell, so only 3 and up can still change much.
    republish_levels: int = 0
    # Most seconds republishing may take (None: no limit of its own). Republishing only adds
    # cells back; stopped early, the release keeps the last suppression its audit passed.
    republish_seconds: float | None = None

    def __post_init__(self) -> None:
        """Refuse a threshold the pTable cannot keep published values above."""
        if self.threshold < MIN_THRESHOLD:
            # 1 and 2 are never published (FORBIDDEN): a count of 1 or 2 at or above the
            # threshold would be published as 0 or 3+, so a threshold below 3 means nothing.
            raise ValueError(f"the threshold must be at least {MIN_THRESHOLD}")

    @property
    def noise(self) -> PTable:
        """Return the pTable: never publishes a count of threshold or more below the threshold."""
        return self.ptable if self.ptable is not None else default_ptable(floor=self.threshold)

    @property
    def safety(self) -> float:
        """Return the minimum width of a suppressed cell's feasible interval."""
        return float(self.threshold if self.safety_range is None else self.safety_range)
