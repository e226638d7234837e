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


__all__ = ["Branch", "DenseBlock", "Residual", "SpecNetwork"]
