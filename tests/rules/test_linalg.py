"""Linear, matmul and attention rules: brute-force loops, torch shapes, FlopCounterMode."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols, torch_flops

# --- linear -------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape", [(5,), (3, 5), (2, 3, 5), (2, 1, 3, 5)])
@pytest.mark.parametrize("bias", [False, True])
def test_linear_shape_macs_and_bias(x_shape, bias) -> None:
    torch.manual_seed(0)
    x, w, b = torch.randn(x_shape), torch.randn(4, 5), torch.randn(4)
    expected = F.linear(x, w, b if bias else None)
    inputs = (x_shape, (4, 5), (4,)) if bias else (x_shape, (4, 5))
    outputs, macs, bias_flops = evaluate("linear", inputs, {})
    assert outputs == (tuple(expected.shape),)
    rows = math.prod(x_shape[:-1])
    assert macs == rows * 5 * 4                          # rows · in 5 · out 4
    assert bias_flops == (rows * 4 if bias else 0)       # one add per output element
    assert torch_flops(F.linear, x, w, b if bias else None) == 2 * macs


def test_linear_published_size() -> None:
    # AlexNet fc6: 9216 -> 4096, batch 1
    outputs, macs, bias_flops = evaluate("linear", ((1, 9216), (4096, 9216), (4096,)), {})
    assert outputs == ((1, 4096),)
    assert macs == 9216 * 4096
    assert bias_flops == 4096


# --- matmul with broadcasting -------------------------------------------------------------

def brute_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """torch.matmul by its documented rules (promote 1-D, broadcast batch dims, squeeze),
    with the multiplications counted one by one."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a3 = np.broadcast_to(a2, (*batch, *a2.shape[-2:]))
    b3 = np.broadcast_to(b2, (*batch, *b2.shape[-2:]))
    m, k, n = a3.shape[-2], a3.shape[-1], b3.shape[-1]
    out = np.zeros((*batch, m, n))
    multiplications = 0
    for index in product(*map(range, batch)):
        for i, j in product(range(m), range(n)):
            acc = 0.0
            for kk in range(k):
                acc += a3[(*index, i, kk)] * b3[(*index, kk, j)]
                multiplications += 1
            out[(*index, i, j)] = acc
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out, multiplications


@pytest.mark.parametrize("a_shape, b_shape", [
    ((5,), (5,)),                 # dot
    ((4, 5), (5,)),               # matrix · vector
    ((5,), (5, 6)),               # vector · matrix
    ((5,), (2, 5, 6)),            # vector · batched
    ((2, 3, 5), (5,)),            # batched · vector
    ((4, 5), (5, 6)),             # mm
    ((2, 4, 5), (2, 5, 6)),       # bmm
    ((3, 1, 4, 5), (2, 5, 6)),    # broadcast batch (3, 2)
    ((4, 5), (3, 5, 2)),          # 2-D left, batched right
    ((1, 4, 5), (3, 5, 2)),       # batch 1 stretches
])
def test_matmul_macs_equal_brute_force_count(a_shape, b_shape) -> None:
    torch.manual_seed(1)
    a, b = torch.randn(a_shape, dtype=torch.float64), torch.randn(b_shape, dtype=torch.float64)
    expected = torch.matmul(a, b)
    out, multiplications = brute_matmul(a.numpy(), b.numpy())
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)
    outputs, macs, flops = evaluate("matmul", (a_shape, b_shape), {})
    assert outputs == (tuple(expected.shape),)
    assert macs == multiplications
    assert flops == 0


@pytest.mark.parametrize("a_shape, b_shape, op", [
    ((4, 5), (5, 6), torch.mm), ((2, 4, 5), (2, 5, 6), torch.bmm),
    ((3, 1, 4, 5), (2, 5, 6), torch.matmul)])
def test_matmul_flop_counter_is_twice_the_macs(a_shape, b_shape, op) -> None:
    a, b = torch.randn(a_shape), torch.randn(b_shape)
    _, macs, _ = evaluate("matmul", (a_shape, b_shape), {})
    assert torch_flops(op, a, b) == 2 * macs


def test_addmm_counts_bias_apart() -> None:
    # The aten front-end hands addmm(bias, a, b) over as (a, b, bias).
    bias, a, b = torch.randn(6), torch.randn(4, 5), torch.randn(5, 6)
    expected = torch.addmm(bias, a, b)
    outputs, macs, bias_flops = evaluate("matmul", ((4, 5), (5, 6), (6,)), {})
    assert outputs == (tuple(expected.shape),)
    assert macs == 4 * 6 * 5                 # m · n · k
    assert bias_flops == 4 * 6               # one add per output element
    assert torch_flops(torch.addmm, bias, a, b) == 2 * macs


def test_baddbmm_counts_bias_apart() -> None:
    bias, a, b = torch.randn(2, 4, 6), torch.randn(2, 4, 5), torch.randn(2, 5, 6)
    expected = torch.baddbmm(bias, a, b)
    outputs, macs, bias_flops = evaluate("matmul", ((2, 4, 5), (2, 5, 6), (2, 4, 6)), {})
    assert outputs == (tuple(expected.shape),)
    assert macs == 2 * 4 * 6 * 5
    assert bias_flops == 2 * 4 * 6


# --- attention ----------------------------------------------------------------------------

def brute_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None
                    ) -> tuple[np.ndarray, int]:
    """softmax(Q·Kᵀ/√E + mask)·V with both products as explicit loops; returns (output,
    multiplications in Q·Kᵀ and P·V). Key/value heads are shared by groups of query heads."""
    batch, heads, length, e = q.shape
    kv_heads, source, e_v = k.shape[1], k.shape[2], v.shape[-1]
    group = heads // kv_heads
    out = np.zeros((batch, heads, length, e_v))
    multiplications = 0
    for n, h in product(range(batch), range(heads)):
        hk = h // group
        scores = np.zeros((length, source))
        for i, j in product(range(length), range(source)):
            for c in range(e):
                scores[i, j] += q[n, h, i, c] * k[n, hk, j, c]
                multiplications += 1
        scores = scores / math.sqrt(e) + (0 if mask is None else mask)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        for i, c in product(range(length), range(e_v)):
            for j in range(source):
                out[n, h, i, c] += weights[i, j] * v[n, hk, j, c]
                multiplications += 1
    return out, multiplications


@pytest.mark.parametrize("q_shape, k_shape, v_shape, masked", [
    ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7), False),
    ((1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3), True),
    ((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3), False),     # grouped-query attention
])
def test_attention_macs_equal_brute_force_count(q_shape, k_shape, v_shape, masked) -> None:
    torch.manual_seed(2)
    q, k, v = (torch.randn(s, dtype=torch.float64) for s in (q_shape, k_shape, v_shape))
    mask = torch.randn(q_shape[-2], k_shape[-2], dtype=torch.float64) if masked else None
    gqa = q_shape[1] != k_shape[1]
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
    out, multiplications = brute_attention(q.numpy(), k.numpy(), v.numpy(),
                                           None if mask is None else mask.numpy())
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-9)

    inputs = (q_shape, k_shape, v_shape) + ((tuple(mask.shape),) if masked else ())
    outputs, macs, flops = evaluate("attention", inputs, {"is_causal": False})
    assert outputs == (tuple(expected.shape),)
    assert macs == multiplications
    scores = math.prod(q_shape[:-1]) * k_shape[-2]
    assert flops == scores * (3 if masked else 2)       # scale + softmax (+ mask add)
    # FlopCounterMode has no formula for the CPU flash kernel: count the math path.
    with sdpa_kernel(SDPBackend.MATH):
        counted = torch_flops(F.scaled_dot_product_attention, q, k, v, attn_mask=mask,
                              enable_gqa=gqa)
    assert counted == 2 * macs


def test_attention_hand_formula() -> None:
    # BERT-base self-attention, 12 heads of 64, sequence 128, batch 1
    q = (1, 12, 128, 64)
    outputs, macs, flops = evaluate("attention", (q, q, q), {"is_causal": True})
    assert outputs == (q,)
    assert macs == 12 * 128 * 128 * 64 * 2             # Q·Kᵀ and P·V, causal counted densely
    assert flops == 12 * 128 * 128 * 2


# --- symbols ------------------------------------------------------------------------------

def test_linear_symbolic_agrees_with_integers() -> None:
    n, t, i, o = symbols("N T I O")
    assert_symbolic_agrees("linear", ((n, t, i), (o, i), (o,)), {},
                           {n: 2, t: 3, i: 5, o: 7})


@pytest.mark.parametrize("a, b", [("B M K", "B K N"), ("M K", "B K N"), ("K", "B K N"),
                                  ("B M K", "K")])
def test_matmul_symbolic_agrees_with_integers(a, b) -> None:
    names = {name: symbol for name, symbol in zip("BMKN", symbols("B M K N"))}
    a_shape = tuple(names[x] for x in a.split())
    b_shape = tuple(names[x] for x in b.split())
    values = {names["B"]: 3, names["M"]: 4, names["K"]: 5, names["N"]: 6}
    assert_symbolic_agrees("matmul", (a_shape, b_shape), {}, values)
    assert_symbolic_agrees("matmul", (a_shape, b_shape, (names["N"],)), {}, values)


def test_matmul_symbolic_broadcast_of_batch_one() -> None:
    b, m, k, n = symbols("B M K N")
    assert_symbolic_agrees("matmul", ((1, m, k), (b, k, n)), {}, {b: 3, m: 2, k: 4, n: 5})


def test_attention_symbolic_agrees_with_integers() -> None:
    n, h, tgt, s, e, f = symbols("N H L S E F")
    values = {n: 2, h: 3, tgt: 4, s: 5, e: 6, f: 7}
    assert_symbolic_agrees("attention", ((n, h, tgt, e), (n, h, s, e), (n, h, s, f)), {},
                           values)
    assert_symbolic_agrees("attention",
                           ((n, h, tgt, e), (n, h, s, e), (n, h, s, f), (tgt, s)), {}, values)
