"""Shape-only layers: cropping (UNet skip connections)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Crop(nn.Module):
    """Keep ``sizes[i]`` positions from ``starts[i]`` on spatial axis i (axes 2, 3, …);
    a view, no computation."""

    def __init__(self, starts: Sequence[int], sizes: Sequence[int]) -> None:
        super().__init__()
        if len(starts) != len(sizes):
            raise ValueError(f"Crop needs one start per size, got {starts} and {sizes}")
        self.starts, self.sizes = tuple(starts), tuple(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for axis, (start, size) in enumerate(zip(self.starts, self.sizes)):
            if start + size > x.shape[2 + axis]:
                raise ValueError(f"cannot crop {size} positions from {start} on axis "
                                 f"{2 + axis} of size {x.shape[2 + axis]}")
            x = x.narrow(2 + axis, start, size)
        return x

    def extra_repr(self) -> str:
        return f"starts={self.starts}, sizes={self.sizes}"


__all__ = ["Crop"]
