"""Bilinear and distance rules: explicit loops that count their operations, torch's numerics
and shapes, torch's own decomposition under FlopCounterMode, and symbols."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._decomp import decomposition_table

from netanatomy.rules import Mixes
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols, torch_flops

# --- bilinear -----------------------------------------------------------------------------


def brute_bilinear(x1: np.ndarray, x2: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, int]:
    """y[n, k] = Σ_j (Σ_i x1[n, i]·A[k, i, j])·x2[n, j]: the row vector x1ᵀ·A_k first, then
    its dot product with x2 (ATen's order), every multiplication counted."""
    rows, (out_features, in1, in2) = x1.shape[0], weight.shape
    y = np.zeros((rows, out_features))
    multiplications = 0
    for n, k in product(range(rows), range(out_features)):
        row = np.zeros(in2)
        for j, i in product(range(in2), range(in1)):
            row[j] += x1[n, i] * weight[k, i, j]
            multiplications += 1
        for j in range(in2):
            y[n, k] += row[j] * x2[n, j]
            multiplications += 1
    return y, multiplications


@pytest.mark.parametrize("rows, in1, in2, out", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 5, 2, 4)])
def test_bilinear_macs_equal_the_multiplications_of_a_loop(rows, in1, in2, out) -> None:
    torch.manual_seed(0)
    x1, x2 = torch.randn(rows, in1, dtype=torch.float64), torch.randn(rows, in2,
                                                                      dtype=torch.float64)
    weight = torch.randn(out, in1, in2, dtype=torch.float64)
    expected = F.bilinear(x1, x2, weight)
    y, multiplications = brute_bilinear(x1.numpy(), x2.numpy(), weight.numpy())
    np.testing.assert_allclose(y, expected.numpy(), atol=1e-9)
    outputs, macs, flops = evaluate("bilinear", ((rows, in1), (rows, in2), (out, in1, in2)), {})
    assert outputs == (tuple(expected.shape),)
    assert macs == multiplications
    assert flops == 0                                   # no bias operand
    assert torch_flops(F.bilinear, x1, x2, weight) == 0  # FlopCounterMode has no formula


@pytest.mark.parametrize("batch", [(7,), (2, 3), ()])
def test_bilinear_shape_bias_and_params_match_nn_bilinear(batch) -> None:
    layer = nn.Bilinear(3, 4, 6)
    x1, x2 = torch.randn(*batch, 3), torch.randn(*batch, 4)
    expected = layer(x1, x2)
    inputs = ((*batch, 3), (*batch, 4), (6, 3, 4), (6,))
    outputs, macs, flops = evaluate("bilinear", inputs, {})
    assert outputs == (tuple(expected.shape),)
    assert macs == math.prod(batch) * 6 * (3 * 4 + 4)     # rows · out · (in1·in2 + in2)
    assert flops == math.prod(batch) * 6                  # one bias add per output
    params = rule("bilinear", "params")(inputs, {})
    assert params == sum(p.numel() for p in layer.parameters()) == 6 * 3 * 4 + 6


def test_bilinear_bytes_read_operands_and_write_output() -> None:
    inputs, outputs = ((2, 3), (2, 4), (6, 3, 4), (6,)), ((2, 6),)
    traffic = rule("bilinear", "bytes")(inputs, outputs, {}, ((4, 4, 4, 4), (4,)))
    assert traffic == 4 * (2 * 3 + 2 * 4 + 6 * 3 * 4 + 6) + 4 * 2 * 6


def test_bilinear_transfer_mixes_the_feature_axes() -> None:
    transfer = rule("bilinear", "rf")(((2, 3), (2, 4), (6, 3, 4)), ((2, 6),), {})
    assert transfer == Mixes(((0, (-1,)), (1, (-1,))))


def test_bilinear_symbolic_agrees_with_integers() -> None:
    n, t, i, j, o = symbols("N T I J O")
    values = {n: 2, t: 3, i: 4, j: 5, o: 6}
    inputs = ((n, t, i), (n, t, j), (o, i, j), (o,))
    assert_symbolic_agrees("bilinear", inputs, {}, values)
    params = rule("bilinear", "params")
    assert params(inputs, {}).subs(values) == params(((2, 3, 4), (2, 3, 5), (6, 4, 5), (6,)), {})


# --- distance -----------------------------------------------------------------------------


def brute_cdist_direct(x1: np.ndarray, x2: np.ndarray, p: float) -> tuple[np.ndarray, int, int]:
    """The direct cdist kernel as loops (map |x − y|, reduce, finish; DistanceOpsKernel.cpp);
    returns (distances, multiply-accumulates, other operations). For p = 2 the square and
    its add are one multiply-accumulate, the subtract another operation."""
    batch, rows, width = x1.shape
    cols = x2.shape[1]
    out = np.zeros((batch, rows, cols))
    macs = others = 0
    for b, i, j in product(range(batch), range(rows), range(cols)):
        acc = 0.0
        for m in range(width):
            diff = x1[b, i, m] - x2[b, j, m]
            others += 1                                      # subtract
            if p == 2:
                acc += diff * diff
                macs += 1
            elif p == 0:
                acc += float(diff != 0)
                others += 2                                  # compare, add
            elif math.isinf(p):
                acc = max(acc, abs(diff))
                others += 2                                  # abs, max
            elif p == 1:
                acc += abs(diff)
                others += 2                                  # abs, add
            else:
                acc += abs(diff) ** p
                others += 3                                  # abs, pow, add
        if p == 2:
            acc = math.sqrt(acc)
            others += 1
        elif p not in (0, 1) and not math.isinf(p):
            acc = acc ** (1 / p)
            others += 1
        out[b, i, j] = acc
    return out, macs, others


def brute_cdist_mm(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, int, int]:
    """ATen's _euclidean_dist as loops: ‖x‖², ‖y‖², −2·x, the products, the two norm adds,
    clamp at 0 and the root; returns (distances, multiply-accumulates, other operations)."""
    batch, rows, width = x1.shape
    cols = x2.shape[1]
    others = 0
    x_norm, y_norm = np.zeros((batch, rows)), np.zeros((batch, cols))
    scaled = np.zeros_like(x1)
    for b, i, m in product(range(batch), range(rows), range(width)):
        x_norm[b, i] += x1[b, i, m] ** 2
        scaled[b, i, m] = -2 * x1[b, i, m]
        others += 3                                          # square, add, scale
    for b, j, m in product(range(batch), range(cols), range(width)):
        y_norm[b, j] += x2[b, j, m] ** 2
        others += 2                                          # square, add
    out = np.zeros((batch, rows, cols))
    macs = 0
    for b, i, j in product(range(batch), range(rows), range(cols)):
        acc = 0.0
        for m in range(width):
            acc += scaled[b, i, m] * x2[b, j, m]
            macs += 1
        acc = acc + x_norm[b, i] + y_norm[b, j]
        out[b, i, j] = math.sqrt(max(acc, 0.0))
        others += 4                                          # two adds, clamp, sqrt
    return out, macs, others


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, 0.5, math.inf])
def test_direct_distance_counts_equal_the_kernel_loop(p) -> None:
    torch.manual_seed(3)
    x1, x2 = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 4, 3,
                                                                     dtype=torch.float64)
    expected = torch.cdist(x1, x2, p=p)
    out, loop_macs, loop_others = brute_cdist_direct(x1.numpy(), x2.numpy(), p)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)
    order = "inf" if math.isinf(p) else (int(p) if p.is_integer() else p)
    outputs, macs, flops = evaluate("distance", ((2, 5, 3), (2, 4, 3)),
                                    {"p": order, "form": "direct"})
    assert outputs == (tuple(expected.shape),)
    assert (macs, flops) == (loop_macs, loop_others)


def test_mm_distance_counts_equal_the_euclidean_loop() -> None:
    torch.manual_seed(4)
    x1, x2 = torch.randn(2, 30, 3, dtype=torch.float64), torch.randn(2, 27, 3,
                                                                      dtype=torch.float64)
    expected = torch.cdist(x1, x2)                           # P, R > 25: the mm route
    out, loop_macs, loop_others = brute_cdist_mm(x1.numpy(), x2.numpy())
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)
    outputs, macs, flops = evaluate("distance", ((2, 30, 3), (2, 27, 3)), {"p": 2, "form": "mm"})
    assert outputs == (tuple(expected.shape),)
    assert (macs, flops) == (loop_macs, loop_others)


def test_mm_distance_against_torch_decomposition_under_flop_counter() -> None:
    # torch._decomp's _euclidean_dist pads the operands with the two squared norms and a
    # column of ones, so its one matmul contracts M + 2: FlopCounterMode counts
    # 2·B·P·R·(M + 2). The rule counts B·P·R·M MACs and the two norm adds per output apart.
    x1, x2 = torch.randn(3, 6, 5), torch.randn(3, 7, 5)
    decomposition = decomposition_table[torch.ops.aten._euclidean_dist.default]
    _, macs, _ = evaluate("distance", ((3, 6, 5), (3, 7, 5)), {"p": 2, "form": "mm"})
    assert torch_flops(decomposition, x1, x2) == 2 * (macs + 2 * 3 * 6 * 7)
    assert macs == 3 * 6 * 7 * 5                                  # B·P·R·M


def test_distance_hand_formulas_and_broadcast_batch() -> None:
    # x1 (2, 1, P=4, M=8), x2 (3, R=5, M=8): batch broadcasts to (2, 3)
    expected = torch.cdist(torch.randn(2, 1, 4, 8), torch.randn(3, 5, 8)).shape
    outputs, macs, flops = evaluate("distance", ((2, 1, 4, 8), (3, 5, 8)),
                                    {"p": 1, "form": "direct"})
    assert outputs == (tuple(expected),) == (((2, 3, 4, 5)),)
    assert macs == 0                                              # p = 1: no products
    assert flops == 2 * 3 * 4 * 5 * 8 * 3                         # sub, abs, add per component


def test_distance_params_bytes_and_transfer() -> None:
    inputs, outputs = ((2, 5, 3), (2, 4, 3)), ((2, 5, 4),)
    assert rule("distance", "params")(inputs, {"p": 2}) == 0
    traffic = rule("distance", "bytes")(inputs, outputs, {"p": 2}, ((4, 4), (4,)))
    assert traffic == 4 * (2 * 5 * 3 + 2 * 4 * 3) + 4 * 2 * 5 * 4
    assert rule("distance", "rf")(inputs, outputs, {"p": 2}) == Mixes(((0, (-1,)), (1, (-1,))))


@pytest.mark.parametrize("attrs", [{"p": 2, "form": "mm"}, {"p": 2, "form": "direct"},
                                   {"p": 1, "form": "direct"}, {"p": "inf", "form": "direct"},
                                   {"p": 3, "form": "direct"}])
def test_distance_symbolic_agrees_with_integers(attrs) -> None:
    b, p, r, m = symbols("B P R M")
    assert_symbolic_agrees("distance", ((b, p, m), (b, r, m)), attrs, {b: 2, p: 5, r: 4, m: 3})
