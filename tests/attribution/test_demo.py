"""The demo's measured claim: a digits CNN trained for a few seconds reaches ≥ 0.9
held-out accuracy, and guided backprop puts ≥ 1.5× more of its |mass| on ink pixels than
a random map of the same shape does (whose share is about the ink pixels' fraction)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from netanatomy.attribution.api import attribute
from netanatomy.attribution.demo import (
    HELD_OUT,
    digits,
    foreground_fraction,
    random_fraction,
    run_demo,
)
from netanatomy.frontends.torch.target import load_target

MODELS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "models.py"


def test_guided_backprop_looks_at_the_ink() -> None:
    torch.manual_seed(0)
    model = load_target(f"{MODELS}:DigitsCNN")
    before = copy.deepcopy(model.state_dict())
    # all 20 seeded epochs (about 2 s): no time cap, so every run trains the same network
    result = run_demo(model, attribute, seconds=120.0)
    assert result.trained.accuracy >= 0.9
    assert result.guided_fraction >= 1.5 * result.random_fraction, result
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # private
    assert result.trained.model is not model


def test_the_random_share_is_the_ink_fraction() -> None:
    data = digits()
    assert len(data.test_x) == HELD_OUT and len(data.train_x) == 1797 - HELD_OUT  # sklearn
    ink = float((data.test_x >= 0.5).float().mean())
    assert abs(random_fraction(data.test_x) - ink) < 0.02      # uniform noise: E = ink share


def test_foreground_fraction_by_hand() -> None:
    images = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])       # one ink pixel of four
    maps = torch.tensor([[[[3.0, -1.0], [0.0, 0.0]]]])        # |mass| 3 of 4 on it
    assert foreground_fraction(maps, images) == 0.75
