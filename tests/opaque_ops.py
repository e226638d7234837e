"""An op no rule will ever cover (a custom op of the tests' own library), for checking how
uncounted ops are reported: ``mystery(x)`` has x's shape and no cost rule, adapter or
decomposition."""

from __future__ import annotations

import torch
from torch import nn

OP_NAME = "netanatomy_opaque.mystery.default"


@torch.library.custom_op("netanatomy_opaque::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


@mystery.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Mystery(nn.Module):
    """Only the uncounted op."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mystery(x)


class HalfKnown(nn.Module):
    """``known``: a Linear (counted); ``unknown``: two uncounted ops; ``idle``: an
    identity module that runs no op."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.known = nn.Linear(width, width, bias=False)
        self.unknown = Mystery()
        self.idle = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.idle(self.unknown(self.unknown(self.known(x))))
