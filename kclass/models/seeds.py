"""The seeds of one model build: every random initializer and random layer gets its own, drawn in turn.

Keras seeds an initializer or SeedGenerator built without one from Python's global `random`
(`keras.src.random.seed_generator.make_default_seed`: `random.randint(1, int(1e9))`, drawn when the
object is constructed). `Seeds(s)` draws the same numbers from a private `random.Random(s)`, so a
factory that hands them out in construction order builds exactly the weights that
`keras.utils.set_random_seed(s)` followed by an unseeded build gives, and leaves the global RNGs alone.
"""

import random
from typing import Optional, Union

_LOW, _HIGH = 1, int(1e9)  # make_default_seed's range


class Seeds:
    """`seeds()` -> the next int seed; None for every call when built from None (Keras's default)."""

    def __init__(self, seed: Optional[int] = None):
        self._rng = None if seed is None else random.Random(seed)

    def __call__(self) -> Optional[int]:
        return None if self._rng is None else self._rng.randint(_LOW, _HIGH)


def seeds_from(seed: Union[None, int, Seeds]) -> Seeds:
    """A factory's `seed` argument as Seeds: an int starts a stream; a Seeds continues one (a second
    model drawing after the first, as two builds after one `set_random_seed` do)."""
    return seed if isinstance(seed, Seeds) else Seeds(seed)
