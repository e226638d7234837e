"""The automatic meta → CPU fallback never allocates past its limit: huge inputs are refused
with the figures, before anything is allocated."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.errors import CaptureError


class DataDependent(nn.Module):
    """Cannot run on meta: its branch reads a value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.sum() > 0 else x


def test_a_huge_input_is_not_run_on_the_cpu() -> None:
    # 2**31 float32 elements = 8 GiB, over the 8 GiB fallback limit with nothing else
    with pytest.raises(CaptureError, match="GiB of inputs"):
        netanatomy.analyze(DataDependent(), (2**16, 2**15 + 1))


def test_a_small_input_falls_back() -> None:
    report = netanatomy.analyze(DataDependent(), (2, 3))
    assert any("ran on cpu" in note for note in report.capture.notes)
