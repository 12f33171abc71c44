"""The release ledger: every protected release of a year is audited with all earlier ones.

Each protected release (ad hoc answer, fully suppressed ones too, standard table, monthly linked
release) records which cells it published and which it hid: codes only, never counts. A new
release of the same year and measure is protected and audited together with every earlier one,
whoever asked it (analysts can pool what they received), in ledger_union.py:

1. its cells an earlier release hid are hidden as if primary; those published are kept;
2. every released cell is a sum of atoms of the variables' cliques (an atom nobody falls into
   may be fixed at 0: that only narrows intervals, so a union audit that passes with them fixed
   passes without); a cell published anywhere is fixed at its count;
3. every hidden or watched cell of 1..k-1 persons, of the new release and of all earlier ones,
   must keep a feasible interval at least the safety range wide;
4. otherwise the new release hides more of its own cells and the audit runs again; what still
   fails is refused (422), and so is a union audit that cannot finish within the time budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from registry.extensions import db
from registry.stats.ledger_union import Entry, Union, build_union, entry_of, repair_union
from registry.stats.output_models import StatsLedgerEntry
from registry.stats.sdc import ReleaseModel
from registry.stats.sdc.pipeline import PROTECTED_MARGIN_COST
from registry.stats.sdc.repair import Repairer

__all__ = ["Entry", "Ledgered", "earlier", "entry_of", "record", "start"]


def earlier(year: int, measure: str) -> list[Entry]:
    """Return every recorded release of a year and measure."""
    rows = db.session.scalars(
        select(StatsLedgerEntry.cells)
        .where(StatsLedgerEntry.year == year, StatsLedgerEntry.measure == measure)
        .order_by(StatsLedgerEntry.id)
    )
    return [Entry.from_json(r) for r in rows]


def record(release_id: int, year: int, measure: str, entry: Entry) -> None:
    """Store a release's entry; flush only (the caller commits with the release)."""
    db.session.add(
        StatsLedgerEntry(release_id=release_id, year=year, measure=measure, cells=entry.to_json())
    )
    db.session.flush()


@dataclass
class Ledgered:
    """A release being protected, with what the year's earlier releases fix for it."""

    year: int
    measure: str
    restrict: dict
    entries: list[Entry]
    threshold: int
    hide_all: bool = False  # scheduled releases: hide what fails rather than refuse
    union: Union | None = None
    entry: Entry | None = None
    summary: dict = field(default_factory=dict)

    def prior(self, model: ReleaseModel) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Return the model's cells to hide and to keep published (None: nothing earlier)."""
        if not self.entries:
            return None, None
        new = entry_of(model, np.zeros(model.n_cells, dtype=bool), self.restrict)
        self.union = build_union(self.year, self.measure, self.entries, new, self.threshold)
        return self.union.prior()

    def settle(
        self,
        model: ReleaseModel,
        counts: np.ndarray,
        hidden: np.ndarray,
        weights: np.ndarray,
        safety: float,
    ) -> np.ndarray:
        """Return the final hidden mask after the union audit; keep the entry and summary.

        `weights`: the cost of hiding each cell of the release (protected margins cost most).
        """
        self.summary = {"earlier_releases": len(self.entries), "passed": True}
        if self.union is not None:
            union = self.union
            # Cells published earlier stay known however hidden: moves avoid them.
            known = union.old_published[union.new_rows]
            steer = np.where(known, weights * 1e6, weights)
            repairer = Repairer(model.constraints, counts)

            def own_repair(hide: np.ndarray, cells: np.ndarray, lows: np.ndarray) -> np.ndarray:
                view = hide & ~known  # hidden here but published before: as costly as published
                for cell, low in zip(cells, lows, strict=True):
                    view, _ = repairer.repair(view, steer, int(cell), safety, float(low))
                return hide | view

            keep = weights >= PROTECTED_MARGIN_COST
            hidden, more = repair_union(union, hidden, keep, safety, self.hide_all, own_repair)
            self.summary.update(more)
        self.entry = entry_of(model, hidden, self.restrict)
        return hidden


def start(year: int, measure: str, threshold: int, restrict: dict | None = None) -> Ledgered:
    """Begin a ledgered release: load the year's earlier entries."""
    return Ledgered(year, measure, dict(restrict or {}), earlier(year, measure), threshold)
