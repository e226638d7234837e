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
