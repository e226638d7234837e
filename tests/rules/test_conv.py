"""Convolution rules, checked against brute-force loops, torch shapes and FlopCounterMode."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netanatomy.rules import AxisWindow
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols, torch_flops

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


# --- brute-force references --------------------------------------------------------------

def window_starts(size: int, kernel: int, stride: int, before: int, after: int,
                  dilation: int) -> int:
    """How many windows fit in the padded input, counted one by one."""
    count = 0
    while count * stride + dilation * (kernel - 1) <= before + size + after - 1:
        count += 1
    return count


def brute_conv(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups):
    """Direct convolution; returns (output, multiplications performed).

    Every kernel tap at every output position is one multiplication, padded taps included
    (dense counting, as in the rule's docstring); padded taps read 0.
    """
    n_batch, c_in, *size = x.shape
    c_out, c_per_group, *kernel = w.shape
    out_size = [window_starts(s, k, st_, b, a, d) for s, k, st_, (b, a), d
                in zip(size, kernel, stride, padding, dilation)]
    out = np.zeros((n_batch, c_out, *out_size))
    out_per_group = c_out // groups
    multiplications = 0
    for n, co in product(range(n_batch), range(c_out)):
        group = co // out_per_group
        for o in product(*map(range, out_size)):
            acc = 0.0
            for cj, k in product(range(c_per_group), product(*map(range, kernel))):
                multiplications += 1
                pos = tuple(oo * s - b + kk * d for oo, s, (b, _), kk, d
                            in zip(o, stride, padding, k, dilation))
                if all(0 <= p < sz for p, sz in zip(pos, size)):
                    acc += x[(n, group * c_per_group + cj, *pos)] * w[(co, cj, *k)]
            out[(n, co, *o)] = acc
    return out, multiplications


def brute_conv_transpose(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups,
                         out_size):
    """Direct transposed convolution (scatter from input positions); returns (output,
    multiplications). Every tap of every input element counts, also when it lands in the
    cropped border (the rule's convention)."""
    n_batch, c_in, *size = x.shape
    _, c_out_per_group, *kernel = w.shape
    in_per_group = c_in // groups
    out = np.zeros((n_batch, groups * c_out_per_group, *out_size))
    multiplications = 0
    for n, ci in product(range(n_batch), range(c_in)):
        group = ci // in_per_group
        for i in product(*map(range, size)):
            for cj, k in product(range(c_out_per_group), product(*map(range, kernel))):
                multiplications += 1
                pos = tuple(ii * s - p + kk * d for ii, s, p, kk, d
                            in zip(i, stride, padding, k, dilation))
                if all(0 <= q < sz for q, sz in zip(pos, out_size)):
                    out[(n, group * c_out_per_group + cj, *pos)] += (
                        x[(n, ci, *i)] * w[(ci, cj, *k)])
    return out, multiplications


def conv_attrs(rank, stride, padding, dilation, groups, output_padding=None):
    attrs = {"stride": stride, "padding": tuple((p, p) for p in padding),
             "dilation": dilation, "groups": groups}
    if output_padding is not None:
        attrs["output_padding"] = output_padding
    return attrs


# (x shape, weight shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 7), (4, 3, 3), (2,), (1,), (1,), 1),                       # 1-D strided
    ((1, 2, 9), (3, 2, 3), (1,), (2,), (2,), 1),                       # 1-D dilated
    ((1, 4, 6, 5), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),           # 2-D grouped
    ((1, 3, 5, 5), (3, 1, 3, 3), (1, 1), (1, 1), (1, 1), 3),           # depthwise
    ((1, 3, 5, 4), (6, 1, 2, 3), (2, 2), (0, 1), (1, 1), 3),           # depthwise ×2
    ((1, 2, 4, 4, 3), (2, 2, 2, 2, 2), (1, 2, 1), (0, 1, 1), (1, 1, 1), 1),  # 3-D
    ((1, 2, 5, 4, 4), (4, 1, 2, 3, 2), (2, 1, 1), (1, 1, 0), (2, 1, 1), 2),  # 3-D grouped
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV_CASES)
def test_conv_macs_equal_brute_force_count(x_shape, w_shape, stride, padding, dilation,
                                           groups) -> None:
    rank = len(x_shape) - 2
    torch.manual_seed(0)
    x, w = torch.randn(x_shape, dtype=torch.float64), torch.randn(w_shape, dtype=torch.float64)
    expected = CONV[rank](x, w, stride=stride, padding=padding, dilation=dilation,
                          groups=groups)
    out, multiplications = brute_conv(x.numpy(), w.numpy(), stride,
                                      [(p, p) for p in padding], dilation, groups)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)   # the loop is a conv

    outputs, macs, bias_flops = evaluate("conv", (x_shape, w_shape),
                                         conv_attrs(rank, stride, padding, dilation, groups))
    assert outputs == (tuple(expected.shape),)
    assert macs == multiplications
    assert bias_flops == 0                                          # no bias operand
    assert torch_flops(CONV[rank], x, w, stride=stride, padding=padding, dilation=dilation,
                       groups=groups) == 2 * macs


def test_conv_asymmetric_padding_matches_explicit_pad() -> None:
    # 'same'-style asymmetric padding: pad (2 before, 0 after) then a valid conv.
    torch.manual_seed(1)
    x, w = torch.randn(1, 2, 6, dtype=torch.float64), torch.randn(3, 2, 3, dtype=torch.float64)
    expected = F.conv1d(F.pad(x, (2, 0)), w, stride=2)
    out, multiplications = brute_conv(x.numpy(), w.numpy(), (2,), [(2, 0)], (1,), 1)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)
    attrs = {"stride": (2,), "padding": ((2, 0),), "dilation": (1,), "groups": 1}
    outputs, macs, _ = evaluate("conv", ((1, 2, 6), (3, 2, 3)), attrs)
    assert outputs == (tuple(expected.shape),)
    # (8 − 3)//2 + 1 = 3 outputs · C_out 3 · C_in 2 · k 3
    assert macs == multiplications == 3 * 3 * 2 * 3


def test_conv_bias_is_one_add_per_output_element() -> None:
    torch.manual_seed(2)
    x, w, b = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.randn(4)
    expected = F.conv2d(x, w, b, padding=1)
    attrs = conv_attrs(2, (1, 1), (1, 1), (1, 1), 1)
    outputs, macs, bias_flops = evaluate("conv", ((2, 3, 5, 5), (4, 3, 3, 3), (4,)), attrs)
    assert outputs == (tuple(expected.shape),)
    assert bias_flops == 2 * 4 * 5 * 5                  # N · C_out · H · W adds
    assert macs == 2 * 4 * 5 * 5 * 3 * 3 * 3            # outputs · C_in · 3·3
    assert torch_flops(F.conv2d, x, w, b, padding=1) == 2 * macs   # bias ignored by torch


def test_conv_published_size() -> None:
    # VGG16 conv2_1: 3x3, 64 -> 128 on 112x112, pad 1
    attrs = conv_attrs(2, (1, 1), (1, 1), (1, 1), 1)
    outputs, macs, bias_flops = evaluate(
        "conv", ((1, 64, 112, 112), (128, 64, 3, 3), (128,)), attrs)
    assert outputs == ((1, 128, 112, 112),)
    assert macs == 112 * 112 * 128 * 64 * 3 * 3
    assert bias_flops == 112 * 112 * 128


# (x shape, weight shape, stride, padding, dilation, groups, output_padding)
CONV_T_CASES = [
    ((1, 2, 4), (2, 3, 3), (2,), (1,), (1,), 1, (1,)),
    ((2, 2, 3), (2, 2, 3), (3,), (2,), (2,), 1, (2,)),
    ((1, 4, 3, 2), (4, 3, 3, 2), (2, 3), (1, 0), (1, 2), 2, (1, 2)),
    ((1, 3, 3, 3), (3, 1, 3, 3), (2, 2), (1, 1), (1, 1), 3, (0, 1)),    # depthwise
    ((1, 2, 2, 3, 2), (2, 2, 2, 2, 2), (2, 2, 2), (0, 1, 0), (1, 1, 1), 1, (1, 0, 1)),
    ((1, 4, 2, 2, 2), (4, 1, 2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1), 2, (1, 1, 0)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, output_padding",
                         CONV_T_CASES)
def test_conv_transpose_macs_equal_brute_force_count(x_shape, w_shape, stride, padding,
                                                     dilation, groups, output_padding) -> None:
    rank = len(x_shape) - 2
    torch.manual_seed(3)
    x, w = torch.randn(x_shape, dtype=torch.float64), torch.randn(w_shape, dtype=torch.float64)
    expected = CONV_T[rank](x, w, stride=stride, padding=padding,
                            output_padding=output_padding, groups=groups, dilation=dilation)
    out, multiplications = brute_conv_transpose(x.numpy(), w.numpy(), stride, padding,
                                                dilation, groups, expected.shape[2:])
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)

    attrs = conv_attrs(rank, stride, padding, dilation, groups, output_padding)
    outputs, macs, bias_flops = evaluate("conv_transpose", (x_shape, w_shape), attrs)
    assert outputs == (tuple(expected.shape),)
    assert macs == multiplications
    assert bias_flops == 0
    assert torch_flops(CONV_T[rank], x, w, stride=stride, padding=padding,
                       output_padding=output_padding, groups=groups,
                       dilation=dilation) == 2 * macs


def test_conv_transpose_hand_formula_with_bias() -> None:
    # UNet up-conv: 2x2 stride 2, 128 -> 64 on 28x28 (weight is (C_in, C_out, k, k))
    attrs = conv_attrs(2, (2, 2), (0, 0), (1, 1), 1, (0, 0))
    outputs, macs, bias_flops = evaluate(
        "conv_transpose", ((1, 128, 28, 28), (128, 64, 2, 2), (64,)), attrs)
    assert outputs == ((1, 64, 56, 56),)
    assert macs == 28 * 28 * 128 * 64 * 2 * 2           # input positions · C_in · C_out · k²
    assert bias_flops == 56 * 56 * 64


# --- torch as the reference for output shapes, over many combinations ----------------------

@st.composite
def conv_cases(draw, transposed: bool):
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(rank))
    size = tuple(draw(st.integers(1, 7)) for _ in range(rank))
    batch = draw(st.integers(1, 2))
    if transposed:
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                               for s, d in zip(stride, dilation))
        w_shape = (c_in, c_out // groups, *kernel)
    else:
        output_padding = None
        w_shape = (c_out, c_in // groups, *kernel)
    return (batch, c_in, *size), w_shape, stride, padding, dilation, groups, output_padding


@settings(max_examples=80, deadline=None)
@given(conv_cases(transposed=False))
def test_conv_output_shape_and_flops_match_torch(case) -> None:
    x_shape, w_shape, stride, padding, dilation, groups, _ = case
    rank = len(x_shape) - 2
    padded = [s + 2 * p for s, p in zip(x_shape[2:], padding)]
    assume(all(ps >= d * (k - 1) + 1 for ps, d, k in zip(padded, dilation, w_shape[2:])))
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = CONV[rank](x, w, **kwargs)
    outputs, macs, _ = evaluate("conv", (x_shape, w_shape),
                                conv_attrs(rank, stride, padding, dilation, groups))
    assert outputs == (tuple(expected.shape),)
    assert torch_flops(CONV[rank], x, w, **kwargs) == 2 * macs


@settings(max_examples=80, deadline=None)
@given(conv_cases(transposed=True))
def test_conv_transpose_output_shape_and_flops_match_torch(case) -> None:
    x_shape, w_shape, stride, padding, dilation, groups, output_padding = case
    rank = len(x_shape) - 2
    assume(all((s - 1) * st_ - 2 * p + d * (k - 1) + op + 1 >= 1 for s, st_, p, d, k, op
               in zip(x_shape[2:], stride, padding, dilation, w_shape[2:], output_padding)))
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  output_padding=output_padding)
    expected = CONV_T[rank](x, w, **kwargs)
    outputs, macs, _ = evaluate(
        "conv_transpose", (x_shape, w_shape),
        conv_attrs(rank, stride, padding, dilation, groups, output_padding))
    assert outputs == (tuple(expected.shape),)
    assert torch_flops(CONV_T[rank], x, w, **kwargs) == 2 * macs


# --- symbols ------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    dict(N=2, G=2, C=3, F=4, H=11, W=9, K=3, S=2, P=1, Q=0, D=2),
    dict(N=1, G=1, C=2, F=5, H=7, W=8, K=2, S=3, P=0, Q=2, D=1),
    dict(N=3, G=3, C=1, F=3, H=16, W=5, K=1, S=4, P=2, Q=1, D=3),
])
def test_conv_symbolic_agrees_with_integers(values) -> None:
    n, g, c, f, h, w, k, s, p, q, d = symbols("N G C F H W K S P Q D")
    subs = {n: values["N"], g: values["G"], c: values["C"], f: values["F"], h: values["H"],
            w: values["W"], k: values["K"], s: values["S"], p: values["P"], q: values["Q"],
            d: values["D"]}
    attrs = {"stride": (s, 1), "padding": ((p, q), (q, p)), "dilation": (d, 1), "groups": g}
    assert_symbolic_agrees("conv", ((n, g * c, h, w), (g * f, c, k, k), (g * f,)), attrs,
                           subs)


@pytest.mark.parametrize("values", [
    dict(N=2, G=2, C=3, F=4, H=5, W=3, K=3, S=2, P=1, D=2, O=1),
    dict(N=1, G=1, C=2, F=5, H=4, W=6, K=2, S=3, P=0, D=1, O=2),
])
def test_conv_transpose_symbolic_agrees_with_integers(values) -> None:
    n, g, c, f, h, w, k, s, p, d, o = symbols("N G C F H W K S P D O")
    subs = dict(zip((n, g, c, f, h, w, k, s, p, d, o), values.values()))
    attrs = {"stride": (s, 2), "padding": ((p, p), (0, 0)), "dilation": (d, 1), "groups": g,
             "output_padding": (o, 1)}
    assert_symbolic_agrees("conv_transpose", ((n, g * c, h, w), (g * c, f, k, k)), attrs,
                           subs)


def test_conv_symbolic_size_is_a_floor() -> None:
    h, k, s = symbols("H K S")
    attrs = {"stride": (s,), "padding": ((1, 1),), "dilation": (1,), "groups": 1}
    (shape,) = rule("conv", "output_shapes")(((1, 1, h), (1, 1, k)), attrs)
    # floor((H + 2 − K)/S) + 1 at H=10, K=3, S=4: floor(9/4) + 1 = 3
    assert shape[2].subs({h: 10, k: 3, s: 4}) == 3


# --- receptive-field windows --------------------------------------------------------------

@pytest.mark.parametrize("kernel, stride, dilation, before", [
    (3, 1, 1, 1), (3, 2, 1, 0), (2, 3, 2, 2), (5, 2, 3, 4)])
def test_conv_rf_window_is_the_set_of_input_indices_read(kernel, stride, dilation,
                                                         before) -> None:
    attrs = {"stride": (stride,), "padding": ((before, 0),), "dilation": (dilation,),
             "groups": 1}
    inputs = ((1, 1, 20), (1, 1, kernel))
    outputs = rule("conv", "output_shapes")(inputs, attrs)
    (window,) = rule("conv", "rf")(inputs, outputs, attrs)
    assert isinstance(window, AxisWindow)
    for o in range(outputs[0][2]):
        read = [o * stride - before + j * dilation for j in range(kernel)]   # brute force
        assert o * window.stride + window.start == min(read)
        assert o * window.stride + window.start + window.extent == max(read)


@pytest.mark.parametrize("kernel, stride, dilation, padding", [
    (3, 2, 1, 0), (3, 2, 1, 1), (4, 2, 1, 1), (2, 3, 1, 0), (5, 2, 1, 2), (3, 3, 2, 2),
    (5, 2, 2, 3)])
def test_conv_transpose_rf_extent_and_start(kernel, stride, dilation, padding) -> None:
    # Output o is fed by input i when o = i·s − p + j·d for a tap j (unbounded input).
    attrs = {"stride": (stride,), "padding": ((padding, padding),), "dilation": (dilation,),
             "groups": 1, "output_padding": (0,)}
    inputs = ((1, 1, 6), (1, 1, kernel))
    outputs = rule("conv_transpose", "output_shapes")(inputs, attrs)
    (window,) = rule("conv_transpose", "rf")(inputs, outputs, attrs)
    feeders: dict[int, list[int]] = {}
    for i in range(-20, 20):
        for j in range(kernel):
            feeders.setdefault(i * stride - padding + j * dilation, []).append(i)
    spread = max(max(f) - min(f) for f in feeders.values())
    assert window.stride * stride == 1
    if dilation == 1:      # contiguous taps: the documented bound is reached
        assert window.extent == spread
        assert window.start == min(feeders[0])
    else:                  # dilated taps: the docstring promises an upper bound only
        assert window.extent >= spread
        assert all(window.start <= min(f) for o, f in feeders.items() if 0 <= o < stride)
