"""conv-gradients: ∂L/∂W = X ⋆ ∂L/∂z and ∂L/∂X = convᵀ(∂L/∂z, W) against autograd; a
flipped kernel (convolution instead of correlation) fails."""

from __future__ import annotations

from collections.abc import Callable

import torch

from netanatomy import lab
from netanatomy.lab.base import LabResult
from netanatomy.lab.experiments.backprop_conv import weight_gradient
from tests.lab.helpers import check


def test_autograd_matches_correlation_and_transposed_conv(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("conv-gradients")
    assert result.passed
    assert result.data["z_shape"] == [2, 4, (7 + 2 * 1 - 3) // 1 + 1, 7]   # (n+2p−k)/s+1
    assert check(result, "max |∂L/∂W").measured <= 1e-12
    assert result.seconds < 10


def test_weight_gradient_of_ones_is_the_window_sums() -> None:
    # ∂L/∂z = 1 on a 2×2 output of a 2×2 kernel over x = 0..8 (3×3): ∂L/∂W[a,b] is the
    # sum of the 2×2 block of x starting at (a, b): 0+1+3+4 = 8, 1+2+4+5 = 12, 3+4+6+7 = 20,
    # 4+5+7+8 = 24.
    x = torch.arange(9, dtype=torch.float64).view(1, 1, 3, 3)
    g = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    assert weight_gradient(x, g, 2, 1, 0).flatten().tolist() == [8.0, 12.0, 20.0, 24.0]


def test_strided_and_padded_gradients_still_match() -> None:
    assert lab.run("conv-gradients", stride=2, padding=0, size=8).verdict == "pass"


def test_a_flipped_kernel_fails() -> None:
    result = lab.run("conv-gradients", flip_kernel=True)
    assert result.verdict == "fail"
    assert not check(result, "max |∂L/∂X").passed
