"""Elementwise, activation, softmax, dropout and reduction rules against torch."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netanatomy.rules.elementwise import PER_ELEMENT_KINDS
from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols

BROADCAST_CASES = [
    [(2, 3)],
    [(2, 3), (2, 3)],
    [(2, 3), (3,)],
    [(4, 1, 3), (5, 1)],
    [(1,), (2, 1, 4)],
    [(), (2, 3)],
    [(3, 1), (1, 4), (2, 1, 1)],      # three operands, as torch.where
]


@pytest.mark.parametrize("kind", PER_ELEMENT_KINDS)
@pytest.mark.parametrize("shapes", BROADCAST_CASES)
def test_per_element_kinds_broadcast_like_torch(kind, shapes) -> None:
    expected = torch.broadcast_tensors(*(torch.zeros(s) for s in shapes))[0].shape
    outputs, macs, flops = evaluate(kind, tuple(shapes), {"op": "x"})
    assert outputs == (tuple(expected),)
    assert flops == math.prod(expected)       # one FLOP per output element
    assert macs == 0


def test_add_with_broadcast_counts_output_elements() -> None:
    a, b = torch.zeros(4, 1, 3), torch.zeros(5, 1)
    expected = (a + b).shape
    outputs, _, flops = evaluate("elementwise", ((4, 1, 3), (5, 1)), {"op": "add"})
    assert outputs == (tuple(expected),)
    assert flops == 4 * 5 * 3


@st.composite
def reduction_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    rank = len(shape)
    dims = draw(st.none() | st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank,
                                     unique_by=lambda d: d % rank).map(tuple))
    return shape, dims, draw(st.booleans())


@settings(max_examples=80, deadline=None)
@given(reduction_cases())
def test_reduction_shape_matches_torch_sum(case) -> None:
    shape, dims, keepdim = case
    x = torch.zeros(shape)
    expected = (x.sum(dim=dims, keepdim=keepdim) if dims is not None
                else torch.amax(x, dim=tuple(range(len(shape))), keepdim=keepdim)).shape
    outputs, macs, flops = evaluate("reduction", (shape,), {"dims": dims, "keepdim": keepdim})
    assert outputs == (tuple(expected),)
    assert flops == math.prod(shape)          # one FLOP per input element
    assert macs == 0


def test_reduction_hand_formula() -> None:
    # mean over H, W of 64 x 56 x 56 (squeeze-and-excitation)
    outputs, _, flops = evaluate("reduction", ((1, 64, 56, 56),),
                                 {"op": "mean", "dims": (-2, -1), "keepdim": True})
    assert outputs == ((1, 64, 1, 1),)
    assert flops == 64 * 56 * 56


def test_elementwise_symbolic_agrees_with_integers() -> None:
    n, c, h = symbols("N C H")
    values = {n: 2, c: 3, h: 4}
    assert_symbolic_agrees("elementwise", ((n, c, h), (c, 1), (1,)), {"op": "add"}, values)
    assert_symbolic_agrees("activation", ((n, c, h),), {"op": "relu"}, values)
    assert_symbolic_agrees("reduction", ((n, c, h),), {"dims": (1,), "keepdim": False},
                           values)
    assert_symbolic_agrees("reduction", ((n, c, h),), {"dims": None, "keepdim": True}, values)
