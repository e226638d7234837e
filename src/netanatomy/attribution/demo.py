"""The attribution demo: a small CNN trained for a few seconds on scikit-learn's 8×8
digits (``load_digits``, shipped with scikit-learn: nothing is downloaded), then held-out
digits explained, with one measured check of the maps.

The check: the share of a map's |attribution| mass that falls on *ink* pixels (intensity
≥ ``INK_THRESHOLD`` of full scale), against the same share for a random map of the same
shape (uniform values, seeded), whose expected share is just the ink pixels' fraction. A
map that looks at the digit scores well above the random one.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DEMO_TARGET", "DemoResult", "Digits", "TrainedDigits", "digits",
           "foreground_fraction", "random_fraction", "run_demo", "train_digits_cnn"]

DEMO_TARGET = "docs/examples/models.py:DigitsCNN"
"""The model ``netanatomy attribute --demo`` trains when no TARGET is given."""

INK_THRESHOLD = 0.5
"""A pixel is ink (foreground) when its intensity is at least half of full scale (8/16)."""

HELD_OUT = 360
"""Digits kept out of training (of 1797; 20 %), on which accuracy and maps are measured."""


@dataclass(frozen=True)
class Digits:
    """The 8×8 digits as ``(N, 1, 8, 8)`` float32 in [0, 1] (pixel / 16), split in a
    seeded permutation."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@dataclass(frozen=True)
class TrainedDigits:
    """A trained private copy, its held-out accuracy, and what training took."""

    model: nn.Module
    accuracy: float
    epochs: int
    seconds: float
    data: Digits


@dataclass(frozen=True)
class DemoResult:
    """The demo's measurement: held-out accuracy, the attributions of the explained digits
    (by method), and the ink share of guided backprop's |mass| against a random map's."""

    trained: TrainedDigits
    inputs: torch.Tensor
    attributions: dict[str, Any]
    guided_fraction: float
    random_fraction: float


def digits(seed: int = 0) -> Digits:
    """scikit-learn's digits, scaled to [0, 1], the last ``HELD_OUT`` of a seeded
    permutation held out."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    x = torch.tensor(loaded.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(loaded.target, dtype=torch.int64)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train, test = order[:-HELD_OUT], order[-HELD_OUT:]
    return Digits(x[train], y[train], x[test], y[test])


def train_digits_cnn(model: nn.Module, seconds: float = 5.0, seed: int = 0,
                     epochs: int = 20, data: Digits | None = None) -> TrainedDigits:
    """Train a private copy of ``model`` (the caller's is untouched) on the digits: Adam
    (lr 3e-3), batches of 32 in a seeded order, ``epochs`` passes or until ``seconds``
    have passed, whichever comes first (at least one pass). Uses no global RNG."""
    data = digits(seed) if data is None else data
    trained = copy.deepcopy(model).train()
    optimiser = torch.optim.Adam(trained.parameters(), lr=3e-3)
    shuffle = torch.Generator().manual_seed(seed)
    start, done = time.perf_counter(), 0
    while done < epochs and (done == 0 or time.perf_counter() - start < seconds):
        one_epoch(trained, optimiser, data, shuffle)
        done += 1
    trained.eval()
    return TrainedDigits(trained, accuracy(trained, data.test_x, data.test_y), done,
                         time.perf_counter() - start, data)


def one_epoch(model: nn.Module, optimiser: torch.optim.Optimizer, data: Digits,
              shuffle: torch.Generator, batch: int = 32) -> None:
    order = torch.randperm(len(data.train_x), generator=shuffle)
    for start in range(0, len(order), batch):
        chosen = order[start:start + batch]
        optimiser.zero_grad()
        F.cross_entropy(model(data.train_x[chosen]), data.train_y[chosen]).backward()
        optimiser.step()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def foreground_fraction(maps: torch.Tensor, images: torch.Tensor,
                        threshold: float = INK_THRESHOLD) -> float:
    """The mean over samples of (|map| mass on ink pixels) / (|map| mass); ink: image
    intensity ≥ ``threshold``. ``maps`` and ``images`` are ``(N, 1, H, W)``."""
    mass = maps.detach().abs().flatten(1)
    ink = (images >= threshold).flatten(1).to(mass.dtype)
    total = mass.sum(1).clamp_min(torch.finfo(mass.dtype).tiny)
    return float(((mass * ink).sum(1) / total).mean())


def random_fraction(images: torch.Tensor, seed: int = 0,
                    threshold: float = INK_THRESHOLD) -> float:
    """:func:`foreground_fraction` of a uniform random map of the images' shape."""
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed))
    return foreground_fraction(noise, images, threshold)


def run_demo(model: nn.Module, attribute: Callable[..., Any], methods: str = "guided",
             seconds: float = 5.0, seed: int = 0, count: int = 8) -> DemoResult:
    """Train ``model``'s private copy, explain the first ``count`` held-out digits with
    ``attribute(model, x, method=methods)`` (a method name or "all"), and measure guided
    backprop's ink share against a random map's on all held-out digits."""
    trained = train_digits_cnn(model, seconds=seconds, seed=seed)
    inputs = trained.data.test_x[:count]
    found = attribute(trained.model, inputs, method=methods)
    attributions = found if isinstance(found, dict) else {found.method: found}
    guided = attribute(trained.model, trained.data.test_x, method="guided")
    return DemoResult(trained, inputs, attributions,
                      foreground_fraction(guided.maps, trained.data.test_x),
                      random_fraction(trained.data.test_x, seed))
