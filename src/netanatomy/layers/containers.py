"""Containers the spec front-end builds: a network, branches, residual and dense blocks.

Children are applied in registration order (``self._modules``), so a module registered
twice under two names runs twice, as it does in the spec.
"""

from __future__ import annotations

import torch
from torch import nn


class SpecNetwork(nn.Module):
    """A network built from a spec: children (added with ``add_module``) run in order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            if module is not None:
                x = module(x)
        return x


class Branch(nn.Module):
    """Parallel paths ``"0"``, ``"1"``, … on the same input, concatenated on channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = [module for module in self._modules.values() if module is not None]
        return torch.cat([path(x) for path in paths], dim=1)


class Residual(nn.Module):
    """``body(x) + shortcut(x)``, or ``body(x) + x`` without a shortcut (one add).

    The shortcut is registered only when given, so ``"shortcut" in residual._modules``
    tells the two forms apart.
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        shortcut = self._modules.get("shortcut")
        return out + (shortcut(x) if shortcut is not None else x)


class DenseBlock(nn.Module):
    """DenseNet block: layer ``i`` sees the concatenation of the input and all earlier
    outputs; the block returns that concatenation (``c₀ + n·k`` channels for growth k)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            if module is not None:
                x = torch.cat([x, module(x)], dim=1)
        return x


class InceptionV1(Branch):
    """GoogLeNet's Inception module with 1×1 reductions (Szegedy et al. 2014): branches
    1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3 max-pool (stride 1) → 1×1 pool projection, each conv
    followed by ReLU, concatenated to c1 + c3 + c5 + pool_proj channels at the same size.
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int,
                 c5: int, pool_proj: int) -> None:
        super().__init__()

        def conv(cin: int, cout: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU()]

        self.add_module("0", nn.Sequential(*conv(in_channels, c1, 1)))
        self.add_module("1", nn.Sequential(*conv(in_channels, c3_reduce, 1),
                                           *conv(c3_reduce, c3, 3)))
        self.add_module("2", nn.Sequential(*conv(in_channels, c5_reduce, 1),
                                           *conv(c5_reduce, c5, 5)))
        self.add_module("3", nn.Sequential(nn.MaxPool2d(3, 1, 1),
                                           *conv(in_channels, pool_proj, 1)))


__all__ = ["Branch", "DenseBlock", "InceptionV1", "Residual", "SpecNetwork"]
