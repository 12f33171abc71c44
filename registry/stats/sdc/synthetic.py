"""Synthetic treatment population for benchmarks and tests (no real data involved)."""

from __future__ import annotations

import numpy as np

from registry.stats.sdc.dimensions import Dimension

DRUG_GROUPS = (
    "opioids",
    "cannabis",
    "stimulants",
    "cocaine",
    "alcohol",
    "hypnotics",
    "hallucinogens",
    "other",
)
AGE_BANDS = ("<18", "18-24", "25-29", "30-34", "35-39", "40-49", "50-59", "60+")
DRUG_SHARE = np.array([0.38, 0.22, 0.12, 0.10, 0.09, 0.05, 0.02, 0.02])
AGE_SHARE = np.array([0.04, 0.14, 0.18, 0.20, 0.17, 0.17, 0.08, 0.02])


def dimensions(n_regions: int = 20) -> list[Dimension]:
    """Return region, drug group, age band and sex dimensions."""
    return [
        Dimension.flat("region", [f"R{i:02d}" for i in range(n_regions)]),
        Dimension.flat("drug", DRUG_GROUPS),
        Dimension.flat("age", AGE_BANDS),
        Dimension.flat("sex", ("M", "F")),
    ]


def population(n: int = 8000, n_regions: int = 20, seed: int = 1) -> dict[str, np.ndarray]:
    """Return one leaf code index per person and dimension (node 0 is the total).

    Regions follow a Zipf-like weight (a capital and a long tail), drug groups and age bands are
    skewed, young people use cannabis more and older people opioids and alcohol, and three in
    four persons are men.
    """
    rng = np.random.default_rng(seed)
    region_w = 1.0 / np.arange(1, n_regions + 1) ** 0.9
    region = rng.choice(n_regions, size=n, p=region_w / region_w.sum())
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_SHARE)
    drug = np.empty(n, dtype=np.int64)
    for a in range(len(AGE_BANDS)):
        tilt = np.array([a / 3, 2 - a / 2, 1, 1, a / 4, 0.5, 1 - a / 8, 0.5]).clip(0.1)
        p = DRUG_SHARE * tilt
        sel = age == a
        drug[sel] = rng.choice(len(DRUG_GROUPS), size=sel.sum(), p=p / p.sum())
    sex = (rng.random(n) < 0.25).astype(np.int64)
    return {"region": region + 1, "drug": drug + 1, "age": age + 1, "sex": sex + 1}


def record_keys(n: int, seed: int = 2) -> np.ndarray:
    """Return fixed random integer record keys in [0, 2**32)."""
    return np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.uint64)


REFERENCE_SEED = 20260515
REFERENCE_CODES = {
    "region": tuple(f"R{i:02d}" for i in range(1, 13)),
    "substance": (
        "alcohol",
        "opioids",
        "cannabis",
        "cocaine",
        "amphet",
        "benzo",
        "halluc",
        "other",
    ),
    "age": ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "sex": ("F", "M"),
}
_REFERENCE_MEN = (0.72, 0.75, 0.8, 0.78, 0.7, 0.45, 0.85, 0.6)


def reference_dimensions() -> list[Dimension]:
    """Return the dimensions of the cell-suppression reference table (2,808 cells)."""
    return [Dimension.flat(name, codes) for name, codes in REFERENCE_CODES.items()]


def reference_population(n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return the persons of the GaussSuppression reference table and their record keys.

    The same draws, in the same order and from the same seed, as the reference's gen.py, so
    the counts equal the reference's `freq` column; its 8-bit record keys are scaled to 32 bits.
    """
    rng = np.random.default_rng(REFERENCE_SEED)

    def share(*w: float) -> np.ndarray:
        return np.array(w) / sum(w)

    codes = REFERENCE_CODES
    region = rng.choice(len(codes["region"]), n, p=share(30, 18, 12, 9, 7, 6, 5, 4, 3, 2.5, 2, 1.5))
    substance = rng.choice(len(codes["substance"]), n, p=share(40, 20, 15, 9, 7, 5, 1.5, 2.5))
    age = rng.choice(len(codes["age"]), n, p=share(4, 14, 26, 22, 17, 11, 6))
    men = rng.random(n) < np.array(_REFERENCE_MEN)[substance]
    keys = rng.integers(0, 256, n).astype(np.uint64) << np.uint64(24)
    records = {"region": region + 1, "substance": substance + 1, "age": age + 1, "sex": men + 1}
    return records, keys
