"""Upsample and grid-sample rules: shapes against torch, the per-neighbour convention by
hand, and symbols."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.rules import GLOBAL
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

# 2 FLOPs (multiply, add) per neighbour; neighbours = taps per axis ** spatial rank
NEIGHBOURS = {("nearest", 1): 0, ("nearest", 2): 0, ("nearest", 3): 0, ("linear", 1): 2,
              ("bilinear", 2): 2 * 2, ("bicubic", 2): 4 * 4, ("trilinear", 3): 2 * 2 * 2}


@pytest.mark.parametrize("mode, x_shape, scale", [
    ("nearest", (1, 2, 5), 2.0), ("linear", (1, 2, 5), 1.5), ("nearest", (1, 2, 3, 5), 3.0),
    ("bilinear", (2, 3, 4, 5), 2.0), ("bilinear", (1, 1, 7, 5), 0.5),
    ("bicubic", (1, 2, 4, 3), 2.5), ("trilinear", (1, 2, 3, 4, 2), 2.0),
    ("nearest", (1, 1, 2, 3, 4), 1.5),
])
def test_upsample_shape_matches_torch_and_hand_flops(mode, x_shape, scale) -> None:
    rank = len(x_shape) - 2
    expected = F.interpolate(torch.zeros(x_shape), scale_factor=scale, mode=mode).shape
    # nn.Upsample docs: out = floor(in · scale_factor)
    output_size = tuple(math.floor(s * scale) for s in x_shape[2:])
    outputs, macs, flops = evaluate("upsample", (x_shape,),
                                    {"mode": mode, "output_size": output_size})
    assert outputs == (tuple(expected),)
    assert flops == math.prod(expected) * 2 * NEIGHBOURS[mode, rank]
    assert macs == 0


@pytest.mark.parametrize("mode, x_shape, size", [
    ("bilinear", (1, 2, 4, 4), (7, 3)), ("nearest", (1, 2, 5), (9,)),
    ("trilinear", (1, 1, 2, 2, 2), (3, 4, 5))])
def test_upsample_attrs_from_capture_give_torch_shape(mode, x_shape, size) -> None:
    module = nn.Upsample(size=size, mode=mode)
    expected = module(torch.zeros(x_shape)).shape
    (node,) = [n for n in netanatomy.analyze(module, x_shape).graph.nodes
               if n.kind == "upsample"]
    (shape,) = rule("upsample", "output_shapes")(
        tuple(t.shape for t in node.inputs), node.attrs)
    assert shape == tuple(expected)


def test_bilinear_upsample_hand_formula() -> None:
    # FCN-style 2x bilinear upsampling of 21 x 32 x 32: 4 neighbours, multiply + add each
    outputs, _, flops = evaluate("upsample", ((1, 21, 32, 32),),
                                 {"mode": "bilinear", "output_size": (64, 64)})
    assert outputs == ((1, 21, 64, 64),)
    assert flops == 21 * 64 * 64 * 4 * 2


@pytest.mark.parametrize("mode, flops_per_output", [
    ("bilinear", 2 * 4), ("nearest", 0), ("bicubic", 2 * 16)])
def test_grid_sample_shape_matches_torch(mode, flops_per_output) -> None:
    x, grid = torch.randn(2, 3, 5, 6), torch.rand(2, 4, 7, 2) * 2 - 1
    expected = F.grid_sample(x, grid, mode=mode, align_corners=False).shape
    outputs, macs, flops = evaluate("sample", ((2, 3, 5, 6), (2, 4, 7, 2)), {"mode": mode})
    assert outputs == (tuple(expected),)
    assert flops == 2 * 3 * 4 * 7 * flops_per_output
    assert macs == 0
    assert rule("sample", "rf")(((2, 3, 5, 6), (2, 4, 7, 2)), outputs, {"mode": mode}) == GLOBAL


def test_grid_sample_3d_shape_matches_torch() -> None:
    x, grid = torch.randn(1, 2, 3, 4, 5), torch.rand(1, 2, 3, 4, 3) * 2 - 1
    expected = F.grid_sample(x, grid, mode="bilinear", align_corners=False).shape
    outputs, _, flops = evaluate("sample", ((1, 2, 3, 4, 5), (1, 2, 3, 4, 3)),
                                 {"mode": "trilinear"})
    assert outputs == (tuple(expected),)
    assert flops == 2 * 2 * 3 * 4 * 2 * 8      # outputs · 2 · 8 neighbours


def test_upsample_rf_of_nearest_integer_scale() -> None:
    # nearest, 2x: output o reads input floor(o / 2) (PyTorch's nearest rule)
    (window,) = rule("upsample", "rf")(((1, 1, 4),), ((1, 1, 8),),
                                       {"mode": "nearest", "output_size": (8,)})
    assert window.extent == 0
    assert window.stride * 2 == 1
    source = F.interpolate(torch.arange(4.0).reshape(1, 1, 4), size=8, mode="nearest")
    for o in range(8):
        assert source[0, 0, o] == math.floor(o * window.stride + window.start)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_upsample_symbolic_agrees_with_integers(mode) -> None:
    n, c, h, w = symbols("N C H W")
    attrs = {"mode": mode, "output_size": (2 * h, 3 * w)}
    assert_symbolic_agrees("upsample", ((n, c, h, w),), attrs, {n: 2, c: 3, h: 4, w: 5})


def test_grid_sample_symbolic_agrees_with_integers() -> None:
    n, c, h, w, p, q = symbols("N C H W P Q")
    assert_symbolic_agrees("sample", ((n, c, h, w), (n, p, q, 2)), {"mode": "bilinear"},
                           {n: 2, c: 3, h: 4, w: 5, p: 6, q: 7})
