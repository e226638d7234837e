"""An op whose receptive-field transfer is unknown stops the field and is named; it is never
passed through as if it kept positions."""

from __future__ import annotations

import torch
from torch import nn

import netanatomy


@torch.library.custom_op("netanatomy_test::blackbox", mutates_args=())
def blackbox(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1).cumsum(-1)


@blackbox.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Opaque(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.before = nn.Conv2d(1, 1, 3)
        self.after = nn.Conv2d(1, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(blackbox(self.before(x)))


def test_unknown_transfer_stops_the_field_and_is_listed() -> None:
    report = netanatomy.analyze(Opaque(), (1, 1, 16, 16))
    assert report.layer("before").rf.size == (3, 3)         # one 3×3 conv
    assert report.layer("after").rf is None                 # not 5×5: the op between is opaque
    assert report.receptive_field.unknown_ops == ("netanatomy_test.blackbox.default",)
    assert [u.op for u in report.uncounted] == ["netanatomy_test.blackbox.default"]
