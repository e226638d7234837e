"""Shared fixtures: small models whose costs are easy to count by hand."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings
from torch import nn

# Property tests run the same examples on every run (CI stays deterministic); set
# HYPOTHESIS_PROFILE=explore to draw new ones.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


class TwoLayerMLP(nn.Module):
    """x (N, 8) → Linear 8→16 → ReLU → Linear 16→4."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@pytest.fixture
def mlp() -> TwoLayerMLP:
    torch.manual_seed(0)
    return TwoLayerMLP()
