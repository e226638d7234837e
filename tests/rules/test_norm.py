"""Normalisation rule: shapes against torch, the per-element convention by hand, symbols."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols


@pytest.mark.parametrize("module, x_shape, norm_type, stats, affine", [
    (nn.BatchNorm2d(3).train(), (2, 3, 4, 5), "batch", True, 2),
    (nn.BatchNorm2d(3).eval(), (2, 3, 4, 5), "batch", False, 2),
    (nn.BatchNorm1d(3, affine=False).eval(), (4, 3), "batch", False, 0),
    (nn.GroupNorm(2, 4), (2, 4, 3, 3), "group", True, 2),
    (nn.InstanceNorm3d(2), (1, 2, 3, 3, 2), "instance", True, 0),
    (nn.LayerNorm(6), (2, 3, 6), "layer", True, 2),
    (nn.LayerNorm(6, bias=False), (2, 3, 6), "layer", True, 1),
    (nn.RMSNorm(6), (2, 6), "rms", True, 1),
])
def test_norm_shape_and_elementwise_convention(module, x_shape, norm_type, stats,
                                               affine) -> None:
    expected = module(torch.randn(x_shape)).shape
    inputs = (x_shape,) + ((x_shape[1],),) * affine       # affine tensors: any shape
    outputs, macs, flops = evaluate("norm", inputs, {"type": norm_type, "stats": stats})
    assert outputs == (tuple(expected),)
    elements = torch.Size(x_shape).numel()
    # per element: subtract + divide, + mean and variance when computed, + 1 per affine
    assert flops == elements * (2 + (2 if stats else 0) + affine)
    assert macs == 0


def test_batch_norm_hand_formula() -> None:
    # ResNet-50 bn1 in training: 64 x 112 x 112, scale and shift
    outputs, macs, flops = evaluate("norm", ((1, 64, 112, 112), (64,), (64,)),
                                    {"type": "batch", "stats": True})
    assert outputs == ((1, 64, 112, 112),)
    assert flops == 64 * 112 * 112 * (2 + 2 + 2)
    assert macs == 0


@pytest.mark.parametrize("stats", [True, False])
def test_norm_symbolic_agrees_with_integers(stats) -> None:
    n, c, h, w = symbols("N C H W")
    assert_symbolic_agrees("norm", ((n, c, h, w), (c,), (c,)), {"type": "batch", "stats": stats},
                           {n: 2, c: 3, h: 5, w: 7})
