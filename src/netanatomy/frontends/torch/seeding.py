"""Seeded model building: the same seed gives the same weights, and the caller's RNG state
is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch's RNG seeded by ``seed``; restore the previous state after."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield
