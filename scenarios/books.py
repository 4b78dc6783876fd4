"""Small bookkeeping helpers for a scenario's picture of its business, generic to every scenario."""

from __future__ import annotations

import random
from typing import Sequence, TypeVar

T = TypeVar("T")


def pick(rng: random.Random, items: Sequence[T]) -> T | None:
    """One of `items` at random, or None when there is none (then `rng` is not drawn from): so that
    an action waiting for something to act on reads `if not (x := pick(rng, xs)): return False`."""
    return rng.choice(items) if items else None
