"""Valid random Kazakh IINs for benchmarks (the Lua script does the same for wrk)."""

import random

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def random_iin(rng: random.Random) -> str:
    """Return a random IIN with a valid date, century/sex digit and check digit."""
    while True:
        year = rng.randint(1950, 2005)
        century = rng.choice((5, 6)) if year >= 2000 else rng.choice((3, 4))
        text = (
            f"{year % 100:02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            f"{century}{rng.randint(0, 9999):04d}"
        )
        digits = [int(c) for c in text]
        for weights in (_W1, _W2):
            r = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
            if r != 10:
                return text + str(r)
