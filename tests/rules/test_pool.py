"""Pooling rules: brute-force window counts, torch shapes (ceil_mode, padding, dilation),
adaptive windows, and symbols."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netanatomy.rules import GLOBAL, AxisWindow
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
ADAPTIVE = {("avg", 1): F.adaptive_avg_pool1d, ("avg", 2): F.adaptive_avg_pool2d,
            ("avg", 3): F.adaptive_avg_pool3d, ("max", 1): F.adaptive_max_pool1d,
            ("max", 2): F.adaptive_max_pool2d, ("max", 3): F.adaptive_max_pool3d}


def pool_attrs(mode, kernel, stride, padding, dilation, ceil_mode):
    return {"mode": mode, "kernel": kernel, "stride": stride,
            "padding": tuple((p, p) for p in padding), "dilation": dilation,
            "ceil_mode": ceil_mode}


def brute_pool(x: np.ndarray, mode, kernel, stride, padding, dilation, out_size):
    """Max pool (padding = −inf) or avg pool (count_include_pad, divisor = kernel size) as
    loops; returns (output, window elements visited). Every tap of every window counts,
    padded or past the end (the rule's dense convention)."""
    lead, size = x.shape[:-len(kernel)], x.shape[-len(kernel):]
    out = np.zeros((*lead, *out_size))
    taps = 0
    for index in product(*map(range, lead)):
        for o in product(*map(range, out_size)):
            values = []
            for k in product(*map(range, kernel)):
                taps += 1
                pos = tuple(oo * s - p + kk * d for oo, s, p, kk, d
                            in zip(o, stride, padding, k, dilation))
                if all(0 <= q < sz for q, sz in zip(pos, size)):
                    values.append(x[(*index, *pos)])
            out[(*index, *o)] = max(values) if mode == "max" else sum(values) / math.prod(kernel)
    return out, taps


# (x shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 9), (3,), (2,), (1,), (1,), False),
    ((1, 2, 10), (2,), (3,), (1,), (2,), True),
    ((1, 2, 7, 6), (3, 2), (2, 2), (1, 1), (1, 1), True),
    ((1, 1, 8, 7), (2, 3), (2, 1), (0, 1), (2, 2), False),
    ((2, 5, 5), (2, 2), (2, 2), (1, 0), (1, 1), True),       # unbatched (C, H, W)
    ((1, 1, 5, 4, 6), (2, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1), True),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, ceil_mode", MAX_CASES)
def test_max_pool_flops_equal_brute_force_window_count(x_shape, kernel, stride, padding,
                                                       dilation, ceil_mode) -> None:
    torch.manual_seed(0)
    x = torch.randn(x_shape, dtype=torch.float64)
    expected = MAX_POOL[len(kernel)](x, kernel, stride, padding, dilation,
                                     ceil_mode=ceil_mode)
    out, taps = brute_pool(x.numpy(), "max", kernel, stride, padding, dilation,
                           expected.shape[-len(kernel):])
    np.testing.assert_allclose(out, expected.numpy())
    outputs, macs, flops = evaluate(
        "pool", (x_shape,), pool_attrs("max", kernel, stride, padding, dilation, ceil_mode))
    assert outputs == (tuple(expected.shape),)
    assert flops == taps
    assert macs == 0


@pytest.mark.parametrize("x_shape, kernel, stride, padding", [
    ((2, 3, 8), (3,), (2,), (1,)),
    ((1, 2, 7, 6), (3, 2), (2, 1), (1, 1)),
    ((1, 1, 4, 5, 6), (2, 3, 2), (2, 2, 1), (1, 1, 0)),
])
def test_avg_pool_flops_equal_brute_force_window_count(x_shape, kernel, stride,
                                                       padding) -> None:
    torch.manual_seed(1)
    x = torch.randn(x_shape, dtype=torch.float64)
    expected = AVG_POOL[len(kernel)](x, kernel, stride, padding, count_include_pad=True)
    dilation = (1,) * len(kernel)
    out, taps = brute_pool(x.numpy(), "avg", kernel, stride, padding, dilation,
                           expected.shape[-len(kernel):])
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-12)
    outputs, macs, flops = evaluate(
        "pool", (x_shape,), pool_attrs("avg", kernel, stride, padding, dilation, False))
    assert outputs == (tuple(expected.shape),)
    assert flops == taps
    assert macs == 0


def test_pool_hand_formula() -> None:
    # VGG16 pool1: 2x2 stride 2 max pool on 64 x 224 x 224
    outputs, macs, flops = evaluate(
        "pool", ((1, 64, 224, 224),), pool_attrs("max", (2, 2), (2, 2), (0, 0), (1, 1), False))
    assert outputs == ((1, 64, 112, 112),)
    assert flops == 64 * 112 * 112 * 2 * 2
    assert macs == 0


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (5, 2, 2, 1, 3),      # ceil gives 4 windows, the last would start in the right padding
    (6, 3, 2, 1, 4),
    (7, 3, 3, 0, 3),
])
def test_ceil_mode_drops_a_window_starting_in_the_right_padding(size, kernel, stride, padding,
                                                                expected) -> None:
    # expected: counted by hand from PyTorch's rule (the last window must start inside the
    # input or its left padding), and checked against torch below.
    x = torch.zeros(1, 1, size)
    assert F.max_pool1d(x, kernel, stride, padding, ceil_mode=True).shape[-1] == expected
    (shape,) = rule("pool", "output_shapes")(
        ((1, 1, size),), pool_attrs("max", (kernel,), (stride,), (padding,), (1,), True))
    assert shape == (1, 1, expected)


# --- torch as the reference for output shapes ---------------------------------------------

@st.composite
def pool_cases(draw, mode):
    """Only cases torch accepts, drawn directly (filtering torch's rejections with
    ``assume`` made hypothesis' filter_too_much health check fail at random): padding at
    most half the kernel (torch's pooling shape check, dilation not counted), and an input
    at least as large as the padded window (k − 1)·d + 1 (one output or more; avg_pool3d
    wants the unpadded window)."""
    rank = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = (tuple(draw(st.integers(1, 3)) for _ in range(rank)) if mode == "max"
                else (1,) * rank)
    window = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    padding = tuple(draw(st.integers(0, min(2, k // 2))) for k in kernel)
    unpadded = mode == "avg" and rank == 3       # avg_pool3d also wants input >= kernel
    smallest = [max(1, w if unpadded else w - 2 * p) for w, p in zip(window, padding)]
    size = tuple(draw(st.integers(low, max(9, low))) for low in smallest)
    ceil_mode = draw(st.booleans())
    return (1, 2, *size), kernel, stride, padding, dilation, ceil_mode


def torch_pool_shape(mode, x, kernel, stride, padding, dilation, ceil_mode):
    """torch's output shape, or None when torch rejects the combination."""
    try:
        if mode == "max":
            return MAX_POOL[len(kernel)](x, kernel, stride, padding, dilation,
                                         ceil_mode=ceil_mode).shape
        return AVG_POOL[len(kernel)](x, kernel, stride, padding, ceil_mode=ceil_mode).shape
    except RuntimeError:
        return None


@pytest.mark.parametrize("mode", ["max", "avg"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pool_output_shape_matches_torch(mode, data) -> None:
    x_shape, kernel, stride, padding, dilation, ceil_mode = data.draw(pool_cases(mode))
    expected = torch_pool_shape(mode, torch.zeros(x_shape), kernel, stride, padding,
                                dilation, ceil_mode)
    assert expected is not None, "pool_cases drew a case torch rejects"
    outputs, _, flops = evaluate(
        "pool", (x_shape,), pool_attrs(mode, kernel, stride, padding, dilation, ceil_mode))
    assert outputs == (tuple(expected),)
    assert flops == math.prod(expected) * math.prod(kernel)     # outputs · window size


# --- adaptive pooling ---------------------------------------------------------------------

def brute_adaptive(x: np.ndarray, mode, out_size):
    """PyTorch's adaptive windows, [floor(i·I/O), ceil((i+1)·I/O)) per axis (ATen
    AdaptivePooling.h start_index / end_index), as loops; returns (output, elements read)."""
    rank = len(out_size)
    lead, size = x.shape[:-rank], x.shape[-rank:]
    out = np.zeros((*lead, *out_size))
    elements = 0
    for index in product(*map(range, lead)):
        for o in product(*map(range, out_size)):
            ranges = [range(i * s // n, -(-(i + 1) * s // n)) for i, s, n in
                      zip(o, size, out_size)]
            values = [x[(*index, *pos)] for pos in product(*ranges)]
            elements += len(values)
            out[(*index, *o)] = max(values) if mode == "max" else sum(values) / len(values)
    return out, elements


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("x_shape, out_size", [
    ((2, 3, 7), (3,)),             # windows overlap: 7 is not a multiple of 3
    ((1, 2, 8), (4,)),             # disjoint windows
    ((1, 2, 3), (5,)),             # more outputs than inputs
    ((1, 2, 7, 5), (3, 2)),
    ((2, 6, 6), (4, 1)),           # unbatched (C, H, W)
    ((1, 1, 5, 4, 3), (2, 3, 2)),
])
def test_adaptive_pool_flops_equal_brute_force_window_count(mode, x_shape, out_size) -> None:
    torch.manual_seed(2)
    x = torch.randn(x_shape, dtype=torch.float64)
    expected = ADAPTIVE[mode, len(out_size)](x, out_size)
    expected = expected[0] if isinstance(expected, tuple) else expected
    out, elements = brute_adaptive(x.numpy(), mode, out_size)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-12)
    outputs, macs, flops = evaluate("adaptive_pool", (x_shape,),
                                    {"mode": mode, "output_size": out_size})
    assert outputs == (tuple(expected.shape),)
    assert flops == elements
    assert macs == 0


def test_adaptive_pool_none_keeps_the_input_size() -> None:
    x = torch.zeros(1, 2, 5, 7)
    expected = F.adaptive_avg_pool2d(x, (None, 3)).shape
    (shape,) = rule("adaptive_pool", "output_shapes")(
        ((1, 2, 5, 7),), {"mode": "avg", "output_size": (None, 3)})
    assert shape == tuple(expected)


def test_global_average_pool_hand_formula() -> None:
    # ResNet-50 head: 2048 x 7 x 7 -> 2048 x 1 x 1 reads every element once
    outputs, _, flops = evaluate("adaptive_pool", ((1, 2048, 7, 7),),
                                 {"mode": "avg", "output_size": (1, 1)})
    assert outputs == ((1, 2048, 1, 1),)
    assert flops == 2048 * 7 * 7


# --- receptive-field windows --------------------------------------------------------------

def test_pool_rf_window_is_the_set_of_input_indices_read() -> None:
    attrs = pool_attrs("max", (3,), (2,), (1,), (2,), False)
    inputs = ((1, 1, 15),)
    outputs = rule("pool", "output_shapes")(inputs, attrs)
    (window,) = rule("pool", "rf")(inputs, outputs, attrs)
    assert isinstance(window, AxisWindow)
    for o in range(outputs[0][-1]):
        read = [o * 2 - 1 + j * 2 for j in range(3)]          # brute force
        assert o * window.stride + window.start == min(read)
        assert o * window.stride + window.start + window.extent == max(read)


def test_adaptive_pool_rf() -> None:
    one = rule("adaptive_pool", "rf")(((1, 4, 6, 6),), ((1, 4, 1, 1),),
                                      {"mode": "avg", "output_size": (1, 1)})
    assert one == GLOBAL
    (window,) = rule("adaptive_pool", "rf")(((1, 4, 7),), ((1, 4, 3),),
                                            {"mode": "avg", "output_size": (3,)})
    # windows of 7 over 3: [0, 3), [2, 5), [4, 7) -> largest spans 3 inputs, extent 2
    assert window.extent == 2
    assert window.stride * 3 == 7


@pytest.mark.parametrize("size, out", [(7, 3), (5, 3), (8, 4), (3, 5), (10, 4)])
def test_adaptive_pool_rf_extent_is_the_largest_window(size, out) -> None:
    # brute force: PyTorch's windows [floor(i·I/O), ceil((i+1)·I/O))
    largest = max(-(-(i + 1) * size // out) - i * size // out for i in range(out))
    (window,) = rule("adaptive_pool", "rf")(((1, 1, size),), ((1, 1, out),),
                                            {"mode": "max", "output_size": (out,)})
    assert window.extent == largest - 1
    assert window.stride * out == size
    assert window.start == 0


# --- symbols ------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    dict(H=11, K=3, S=2, P=1, D=1), dict(H=10, K=2, S=3, P=0, D=2), dict(H=9, K=4, S=4, P=2, D=1)])
def test_pool_symbolic_agrees_with_integers(values) -> None:
    h, k, s, p, d = symbols("H K S P D")
    subs = dict(zip((h, k, s, p, d), values.values()))
    attrs = {"mode": "max", "kernel": (k, 2), "stride": (s, 2), "padding": ((p, p), (0, 0)),
             "dilation": (d, 1), "ceil_mode": False}
    assert_symbolic_agrees("pool", ((2, 3, h, 8),), attrs, subs)


@pytest.mark.parametrize("values", [
    dict(H=10, K=3, S=2, P=0),     # ceil 4.5 -> 5 windows, the last starts at 8 < 10
    dict(H=9, K=3, S=3, P=1),      # ceil(8/3) + 1 = 4 windows, the last starts at 9 < 9 + 1
])
def test_pool_ceil_mode_symbolic_agrees_when_no_window_is_dropped(values) -> None:
    h, k, s, p = symbols("H K S P")
    subs = dict(zip((h, k, s, p), values.values()))
    attrs = {"mode": "avg", "kernel": (k,), "stride": (s,), "padding": ((p, p),),
             "dilation": (1,), "ceil_mode": True}
    assert_symbolic_agrees("pool", ((1, 2, h),), attrs, subs)


def test_pool_ceil_mode_symbolic_agrees_when_a_window_is_dropped() -> None:
    h, k, s, p = symbols("H K S P")
    subs = {h: 5, k: 2, s: 2, p: 1}          # torch gives 3 (see the ceil_mode test above)
    attrs = {"mode": "max", "kernel": (k,), "stride": (s,), "padding": ((p, p),),
             "dilation": (1,), "ceil_mode": True}
    assert_symbolic_agrees("pool", ((1, 2, h),), attrs, subs)


def test_adaptive_pool_symbolic_agrees_when_output_divides_input() -> None:
    n, c, a, b = symbols("N C A B")
    subs = {n: 2, c: 3, a: 4, b: 5}
    attrs = {"mode": "avg", "output_size": (3, 2)}
    assert_symbolic_agrees("adaptive_pool", ((n, c, 3 * a, 2 * b),), attrs, subs)
