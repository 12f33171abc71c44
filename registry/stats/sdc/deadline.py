"""A time budget for protecting a release: long loops check it, each LP gets what is left.

Disclosure control on a large sparse table can run for minutes; a web worker has seconds. A
caller sets a budget around the work; every stage checks it between steps and raises
DeadlinePassed, so the work stops cleanly instead of the worker being killed. Without a budget
(scheduled releases, standard tables, the command line), nothing is bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("sdc_deadline", default=None)


class DeadlinePassed(Exception):
    """The work ran past its time budget."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Bound the work inside to `seconds` from now, never past an enclosing budget's end.

    None adds no bound of its own.
    """
    ends = _deadline.get()
    if seconds is not None:
        mine = time.monotonic() + seconds
        ends = mine if ends is None else min(ends, mine)
    token = _deadline.set(ends)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float:
    """Return the seconds left in the budget (infinite without one)."""
    deadline = _deadline.get()
    return math.inf if deadline is None else deadline - time.monotonic()


def check() -> None:
    """Raise DeadlinePassed once the budget is spent."""
    if remaining() <= 0:
        raise DeadlinePassed()
