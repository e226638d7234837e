"""grouped_matmul: shapes from torch._grouped_mm run for real, MACs from a per-group loop."""

from __future__ import annotations

import pytest
import torch

from netanatomy.rules import METRICS, get_convention, get_formula
from netanatomy.rules.transfer import Mixes
from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols

K, N = 8, 8  # the CPU kernel wants strides of 16 bytes: 8 bfloat16


def offsets(sizes: list[int]) -> torch.Tensor:
    """``offs`` of torch._grouped_mm: the cumulative group sizes, int32."""
    return torch.tensor(sizes, dtype=torch.int32).cumsum(0, dtype=torch.int32)


def looped_2d_3d(a: torch.Tensor, b: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, int]:
    """Group g of a's rows times b[g], one torch.mm per group, multiplications counted."""
    parts, multiplications, start = [], 0, 0
    for group, rows in enumerate(sizes):
        parts.append(a[start:start + rows] @ b[group])
        multiplications += rows * b.shape[1] * b.shape[2]   # rows · K · N per group
        start += rows
    return torch.cat(parts), multiplications


@pytest.mark.parametrize("sizes", [[3, 3, 2], [8, 0, 0], [0, 1, 7], [2, 2, 2, 2]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_routed_rows_layout_matches_torch_and_a_per_group_loop(sizes, dtype) -> None:
    torch.manual_seed(0)
    rows, groups = sum(sizes), len(sizes)
    a, b = torch.randn(rows, K, dtype=dtype), torch.randn(groups, K, N, dtype=dtype)
    result = torch._grouped_mm(a, b, offs=offsets(sizes))
    expected, multiplications = looped_2d_3d(a.float(), b.float(), sizes)
    torch.testing.assert_close(result.float(), expected, rtol=2e-2, atol=5e-2)
    outputs, macs, flops = evaluate("grouped_matmul", ((rows, K), (groups, K, N), (groups,)), {})
    assert outputs == (tuple(result.shape),)
    assert macs == multiplications == rows * K * N       # independent of the split
    assert flops == 0


def test_split_columns_layout_matches_torch_and_a_loop() -> None:
    # a (G, M, K), b (K, N_total): group g of b's columns times a[g]
    torch.manual_seed(0)
    sizes, rows = [4, 8, 4], 5
    a, b = torch.randn(3, rows, K), torch.randn(K, sum(sizes))
    result = torch._grouped_mm(a, b.t().contiguous().t(), offs=offsets(sizes))
    starts = [0, 4, 12]
    expected = torch.cat([a[g] @ b[:, s:s + n] for g, (s, n) in enumerate(zip(starts, sizes))],
                         dim=1)
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-4)
    outputs, macs, _ = evaluate("grouped_matmul", ((3, rows, K), (K, 16), (3,)), {})
    assert outputs == (tuple(result.shape),)
    assert macs == sum(rows * K * n for n in sizes)          # Σ_g M · K · N_g


def test_split_contraction_layout_matches_torch_and_a_loop() -> None:
    # a (M, K_total), b (K_total, N): the weight-gradient layout, one (M, N) per group
    torch.manual_seed(0)
    sizes, m = [4, 4, 8], 8
    a = torch.randn(sum(sizes), m).t()          # column-major (M, K_total), as the kernel needs
    b = torch.randn(sum(sizes), N)
    result = torch._grouped_mm(a, b, offs=offsets(sizes))
    starts = [0, 4, 8]
    expected = torch.stack([a[:, s:s + k] @ b[s:s + k] for s, k in zip(starts, sizes)])
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-4)
    outputs, macs, _ = evaluate("grouped_matmul", ((m, 16), (16, N), (3,)), {})
    assert outputs == (tuple(result.shape),)
    assert macs == sum(m * k * N for k in sizes)             # Σ_g M · K_g · N


def test_batched_layout_matches_torch_bmm() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(3, 5, K), torch.randn(3, K, N)
    result = torch._grouped_mm(a, b)
    torch.testing.assert_close(result, torch.bmm(a, b), rtol=1e-4, atol=1e-4)
    outputs, macs, _ = evaluate("grouped_matmul", ((3, 5, K), (3, K, N)), {})
    assert outputs == (tuple(result.shape),)
    assert macs == 3 * 5 * K * N                             # G · M · K · N


def test_bias_is_one_add_per_output_element() -> None:
    _, macs, flops = evaluate("grouped_matmul", ((10, K), (2, K, N), (2,), (2, N)),
                              {"bias": True})
    assert macs == 10 * K * N
    assert flops == 10 * N


@pytest.mark.parametrize("inputs", [
    ("M K", "G K N", "G"),
    ("G M K", "K N", "G"),
    ("M K", "K N", "G"),
    ("G M K", "G K N", None),
])
def test_symbolic_agrees_with_ints(inputs) -> None:
    table = dict(zip("GMKN", symbols("G M K N")))
    shapes = tuple(tuple(table[name] for name in spec.split()) for spec in inputs if spec)
    values = dict(zip(table.values(), (3, 7, 5, 2)))
    assert_symbolic_agrees("grouped_matmul", shapes, {}, values)


def test_bundle_is_complete() -> None:
    assert all(get_formula("grouped_matmul", metric) is not None for metric in METRICS)
    assert get_convention("grouped_matmul")
    inputs, outputs = ((6, K), (2, K, N), (2,)), ((6, N),)
    assert get_formula("grouped_matmul", "params")(inputs, {}) == 0
    nbytes = get_formula("grouped_matmul", "bytes")(inputs, outputs, {}, ((2, 2, 4), (2,)))
    assert nbytes == 6 * K * 2 + 2 * K * N * 2 + 2 * 4 + 6 * N * 2  # read once, written once
    transfer = get_formula("grouped_matmul", "rf")(inputs, outputs, {})
    assert transfer == Mixes(((0, (-1,)), (1, (-2,))))
