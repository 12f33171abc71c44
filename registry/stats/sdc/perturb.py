"""Consistent cell-key perturbation (ABS / Eurostat cell-key method).

Every person carries a fixed random integer record key in [0, 2**32). A cell's key is the sum of
its contributors' record keys modulo 2**32, read as a fraction u in [0, 1). The published value is
looked up in a perturbation table (pTable) by (exact count n, u): row n gives a distribution over
published values, and u picks the value by inverse CDF. The same contributors therefore always
give the same published value, whatever query or table the cell appears in, so repeating or
overlapping queries cannot average or difference the noise away.

Default pTable design (max noise D = 3):

* n = 0 is published as 0 (zeros are not sensitive and stay exact).
* n ≥ D + 3: a fixed symmetric distribution over n-3 … n+3 with probabilities
  0.08, 0.16, 0.16, 0.20, 0.16, 0.16, 0.08 (mean n, variance 3.04). It is deliberately flat: the
  chance that two different cells get the same noise, which is what a differencing attacker needs
  to recover a small cell exactly, is Σp² ≈ 0.155; a variance-1 table would give ≈ 0.27.
* 1 ≤ n < D + 3: a small linear programme picks probabilities over {0} ∪ {max(3, n-D) … n+D}
  with mean exactly n, the variance as close as possible to the base one and P(n) ≤ 0.2, so 1
  and 2 are never published and small counts are rarely published unchanged. These counts may
  jump to 0 by more than D; with the default threshold they are suppressed anyway.

With a floor k (the release's threshold, 3 or more), no count of k or more is published below k:
rows k … k+D-1 draw from {k … n+D} only. Their mean cannot stay exactly n (the row of k would
have to publish k always), so those rows keep the variance as near the base one as the support
allows and the upward bias as small as that leaves (on 10 with D = 3, 10 or 11 with even odds:
+0.5; 11 and 12 stay unbiased). Counts 1 … k-1 are suppressed by the pipeline, never published.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import linprog

from registry.stats.sdc.model import KEY_MODULUS

BASE_PROBS = (0.08, 0.16, 0.16, 0.20, 0.16, 0.16, 0.08)
FORBIDDEN = (1, 2)


@dataclass(frozen=True)
class PTable:
    """Perturbation table: row n lists published values and their cumulative probabilities."""

    values: np.ndarray  # rows × width, published value for count n = row (last row shifts)
    cumulative: np.ndarray  # rows × width, padded with 1.0

    @property
    def top(self) -> int:
        """Return the first count that uses the shifted generic row."""
        return len(self.values) - 1

    def digest(self) -> str:
        """Return a fingerprint of the table for the release record."""
        raw = self.values.tobytes() + np.round(self.cumulative, 12).tobytes()
        return hashlib.sha256(raw).hexdigest()[:16]

    def probabilities(self, n: int) -> dict[int, float]:
        """Return the distribution of published values for an exact count."""
        row = min(n, self.top)
        cum = np.concatenate([[0.0], self.cumulative[row]])
        shift = n - row
        out: dict[int, float] = {}
        for v, p in zip(self.values[row], np.diff(cum), strict=True):
            if p > 0:
                out[int(v) + shift] = out.get(int(v) + shift, 0.0) + float(p)
        return out

    def perturb(self, counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
        """Return published values for exact counts and their integer cell keys."""
        counts = np.asarray(counts, dtype=np.int64)
        u = (np.asarray(cell_keys, dtype=np.uint64) % KEY_MODULUS) / float(KEY_MODULUS)
        rows = np.minimum(counts, self.top)
        pick = (u[:, None] >= self.cumulative[rows]).sum(axis=1)
        pick = np.minimum(pick, self.values.shape[1] - 1)
        return self.values[rows, pick] + (counts - rows)


def new_record_keys(n: int) -> np.ndarray:
    """Draw fresh record keys for new persons (store them; never redraw for a person)."""
    rng = np.random.default_rng(secrets.randbits(128))
    return rng.integers(0, KEY_MODULUS, size=n, dtype=np.uint64)


@cache
def default_ptable(
    max_noise: int = 3, base_probs: tuple[float, ...] = BASE_PROBS, floor: int = 0
) -> PTable:
    """Build the default pTable (see module docstring); no count ≥ floor is published below it."""
    if len(base_probs) != 2 * max_noise + 1 or abs(sum(base_probs) - 1) > 1e-12:
        raise ValueError("base_probs must have 2 * max_noise + 1 entries summing to 1")
    offsets = np.arange(-max_noise, max_noise + 1)
    variance = float(np.dot(base_probs, offsets**2))
    low = max(FORBIDDEN) + 1
    floor = floor if floor >= low else 0  # a floor of 3 too: its rows would publish 0
    top = max_noise + max(floor, low)
    rows = [({0: 1.0})] + [
        _floored_row(n, floor, max_noise, variance)
        if floor and n >= floor
        else _small_row(n, max_noise, variance)
        for n in range(1, top)
    ]
    rows.append({top + int(o): p for o, p in zip(offsets, base_probs, strict=True)})
    width = max(map(len, rows))
    values = np.zeros((len(rows), width), dtype=np.int64)
    cumulative = np.ones((len(rows), width))
    for i, row in enumerate(rows):
        vals = sorted(row)
        values[i, : len(vals)] = vals
        values[i, len(vals) :] = vals[-1]
        cumulative[i, : len(vals)] = np.cumsum([row[v] for v in vals])
        cumulative[i, len(vals) - 1 :] = 1.0
    return PTable(values, cumulative)


def _floored_row(n: int, floor: int, max_noise: int, variance: float) -> dict[int, float]:
    """Return published values ≥ floor for a count just above it: least bias, then variance."""
    support = np.arange(max(floor, n - max_noise), n + max_noise + 1)
    k = len(support)
    sq = (support - n).astype(float) ** 2
    # Variables: p_j, then bias, then slack above and below the target variance. The bias weighs
    # most; the tiny cubic penalty prefers small jumps among equally good rows.
    cost = np.concatenate([1e-3 * np.abs(support - n) ** 3, [10.0, 1.0, 1.0]])
    a_eq = np.vstack(
        [
            np.concatenate([np.ones(k), [0, 0, 0]]),
            np.concatenate([support.astype(float), [-1, 0, 0]]),
            np.concatenate([sq, [0, -1.0, 1.0]]),
        ]
    )
    stay = 0.5 if n == floor else 0.2  # the floor's own row cannot move down at all
    bounds = [(0, stay if j == n else 1) for j in support] + [(0, None)] * 3
    res = linprog(cost, A_eq=a_eq, b_eq=[1, n, variance], bounds=bounds, method="highs")
    if res.status != 0:
        raise ValueError(f"no valid pTable row for n={n}")
    p = np.clip(res.x[:k], 0, None)
    p /= p.sum()
    return {int(j): float(q) for j, q in zip(support, p, strict=True) if q > 1e-12}


def _small_row(n: int, max_noise: int, variance: float, max_stay: float = 0.2) -> dict[int, float]:
    """Solve for an unbiased distribution of published values for a small count."""
    support = [j for j in range(max(0, n - max_noise), n + max_noise + 1) if j not in FORBIDDEN]
    if n - max_noise <= max(FORBIDDEN) and 0 not in support:
        support.insert(0, 0)  # the low side is cut off by 1 and 2: allow 0 to stay unbiased
    sq = np.array([(j - n) ** 2 for j in support], dtype=float)
    k = len(support)
    # Variables: p_j, then slack above and below the target variance.
    # Tiny cubic penalty: among rows with the target variance, prefer small jumps.
    cost = np.concatenate([1e-3 * np.abs(np.array(support) - n) ** 3, [1.0, 1.0]])
    a_eq = np.vstack(
        [
            np.concatenate([np.ones(k), [0, 0]]),
            np.concatenate([np.array(support, dtype=float), [0, 0]]),
            np.concatenate([sq, [-1.0, 1.0]]),
        ]
    )
    bounds = [(0, max_stay if j == n else 1) for j in support] + [(0, None), (0, None)]
    res = linprog(cost, A_eq=a_eq, b_eq=[1, n, variance], bounds=bounds, method="highs")
    if res.status != 0:
        raise ValueError(f"no valid pTable row for n={n}")
    p = np.clip(res.x[:k], 0, None)
    p /= p.sum()
    return {j: float(q) for j, q in zip(support, p, strict=True) if q > 1e-12}
