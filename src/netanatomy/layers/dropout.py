"""Gaussian dropout: multiplicative noise with Bernoulli dropout's mean and variance."""

from __future__ import annotations

import math

import torch
from torch import nn


class GaussianDropout(nn.Module):
    """Multiply by noise ~ N(1, p/(1−p)) in training; identity (no op) in eval mode.

    ``p`` is the drop probability of the Bernoulli dropout being matched: inverted dropout
    with keep probability 1−p multiplies by Bernoulli(1−p)/(1−p), whose mean is 1 and
    variance p/(1−p) (Srivastava et al. 2014, sec. 10).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"GaussianDropout needs 0 <= p < 1, got p={p!r}; "
                             "p is the drop probability of the matched Bernoulli dropout")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        std = math.sqrt(self.p / (1.0 - self.p))
        return x * (1.0 + std * torch.randn_like(x))

    def extra_repr(self) -> str:
        return f"p={self.p}"


__all__ = ["GaussianDropout"]
