"""Primary suppression: which cells are sensitive on their own."""

from __future__ import annotations

import numpy as np


def primary_mask(counts: np.ndarray, threshold: int) -> np.ndarray:
    """Return cells with 1 … threshold-1 persons.

    Zeros are published: an empty cell describes no person, and both structural zeros (a
    combination that cannot occur) and sampling zeros carry no individual information. Group
    disclosure (everyone in a row sharing one category) is out of scope of this rule.
    """
    counts = np.asarray(counts)
    return (counts >= 1) & (counts < threshold)
