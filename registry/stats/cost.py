"""What protecting an ad hoc table will cost: refuse at once what cannot finish in time.

The disclosure control is the expensive part: every small inner cell (1 .. threshold-1 units)
needs a hypercube and its share of the interval audit, which grows with the table. The number
of small cells is data, so it is not used; its bound is: no more small cells than inner cells,
and no more than units counted. The units enter rounded up to a thousand, so that whether a
query is refused tells nothing about a person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Measured on 20,000 synthetic persons (`registry synth`, see bench/stats_query.py), in CPU
# seconds: per cell, to build, count, write out and hash a table (27 µs for 98,000 cells); per
# small inner cell, to protect it (hypercubes and audit: 160 µs in three dimensions, 310 µs in
# four).
SECONDS_PER_CELL = 30e-6
SECONDS_PER_SMALL_CELL = 3e-4
UNITS_ROUNDING = 1000


@dataclass(frozen=True)
class Cost:
    """A table's shape and the seconds it is estimated to take."""

    cells: int
    seconds: float


def output_seconds(cells: int) -> float:
    """Return the seconds a table of `cells` cells takes to build and write out."""
    return cells * SECONDS_PER_CELL


def table_cost(cells: int, inner_cells: int, units: int) -> Cost:
    """Estimate the seconds a table takes to protect and write out."""
    units = math.ceil(units / UNITS_ROUNDING) * UNITS_ROUNDING
    small = min(inner_cells, units)
    return Cost(cells, output_seconds(cells) + small * SECONDS_PER_SMALL_CELL)
