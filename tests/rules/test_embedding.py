"""Embedding rule: a gather, shaped like torch's and costing nothing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.rules.helpers import assert_symbolic_agrees, evaluate, symbols


@pytest.mark.parametrize("index_shape", [(), (5,), (2, 5), (2, 3, 4)])
def test_embedding_shape_matches_torch_and_costs_nothing(index_shape) -> None:
    weight, indices = torch.randn(10, 3), torch.zeros(index_shape, dtype=torch.long)
    expected = F.embedding(indices, weight).shape
    outputs, macs, flops = evaluate("embedding", ((10, 3), index_shape), {})
    assert outputs == (tuple(expected),)
    assert macs == 0           # a lookup multiplies nothing
    assert flops == 0


def test_embedding_symbolic_agrees_with_integers() -> None:
    v, d, n, t = symbols("V D N T")
    assert_symbolic_agrees("embedding", ((v, d), (n, t)), {}, {v: 100, d: 8, n: 2, t: 5})
