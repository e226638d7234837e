"""Example models used by the README and docs (and run by the test suite)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyUNet(nn.Module):
    """Two-level UNet: conv blocks, max-pool down, transposed-conv up, skip concatenation."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU())
        self.bottom = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(2 * channels, channels, 2, stride=2)
        self.out = nn.Conv2d(2 * channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)
        deep = self.up(self.bottom(F.max_pool2d(skip, 2)))
        return self.out(torch.cat([skip, deep], dim=1))          # functional ops are counted


class TinyTransformer(nn.Module):
    """Token embedding, one pre-norm encoder layer, and a language-model head."""

    def __init__(self, vocab: int = 1000, width: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.encoder = nn.TransformerEncoderLayer(width, heads, 4 * width, batch_first=True,
                                                  norm_first=True)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight                       # tied: counted once

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(ids)))


def build_unet() -> nn.Module:
    """A zero-argument factory, usable as a TARGET."""
    return TinyUNet(channels=16)


class TanhStack(nn.Module):
    """``depth`` Linear + tanh layers of one width; ``residual=True`` adds each layer's
    input back (x + tanh(W x)), the twin that keeps gradients alive."""

    def __init__(self, depth: int = 50, width: int = 32, residual: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.residual = residual
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = x + torch.tanh(layer(x)) if self.residual else torch.tanh(layer(x))
        return self.head(x)


def plain_tanh_stack() -> nn.Module:
    return TanhStack(residual=False)


def residual_tanh_stack() -> nn.Module:
    return TanhStack(residual=True)


class ConvBNNet(nn.Module):
    """Conv (with a redundant bias) → BN → ReLU, dropout before a second BN, and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)             # bias=True before BN: NA001
        self.bn1 = nn.BatchNorm2d(16)
        self.drop = nn.Dropout(0.2)                              # before BN: NA004
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(self.drop(x))))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8×8 digits: (N, 1, 8, 8) in [0, 1] → 10 logits.

    Two 3×3 convs with ReLU, a 2×2 max-pool and a linear head (the attribution demo,
    ``netanatomy attribute --demo``)."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.head = nn.Linear(2 * channels * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))
