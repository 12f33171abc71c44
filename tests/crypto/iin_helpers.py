"""Build valid IINs for tests from a date, sex and serial."""

from __future__ import annotations

import datetime as dt

W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def make_iin(birth: dt.date, male: bool, serial: int) -> str | None:
    """Return a valid IIN for these fields, or None when no check digit exists."""
    century = {18: 1, 19: 3, 20: 5}[birth.year // 100] + (0 if male else 1)
    head = f"{birth:%y%m%d}{century}{serial:04d}"
    values = [int(c) for c in head]
    for weights in (W1, W2):
        r = sum(d * w for d, w in zip(values, weights, strict=True)) % 11
        if r != 10:
            return head + str(r)
    return None
