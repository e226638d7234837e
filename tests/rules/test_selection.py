"""Selection rule (sort, topk, kthvalue, median, mode, aminmax): shapes against torch, the
comparison counts written out by hand, symbols, the field and capture."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.errors import RuleError
from netanatomy.rules import Mixes
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols

X = (2, 3, 8)

# (attrs, torch call, comparisons written out: T = 48 elements, slices of n along dim)
CASES = [
    ({"fn": "sort", "dim": -1}, lambda x: torch.sort(x, dim=-1), 48 * math.log2(8)),
    ({"fn": "sort", "dim": 1}, lambda x: torch.sort(x, dim=1), 48 * math.log2(3)),
    ({"fn": "argsort", "dim": 0}, lambda x: (torch.argsort(x, dim=0),), 48 * math.log2(2)),
    # one pass over 6 slices of 8, then the 3 winners of each slice sorted
    ({"fn": "topk", "k": 3, "dim": -1}, lambda x: torch.topk(x, 3, dim=-1),
     48 + math.ceil(6 * 3 * math.log2(3))),
    ({"fn": "topk", "k": 1, "dim": 1}, lambda x: torch.topk(x, 1, dim=1), 48 + 0),
    ({"fn": "kthvalue", "k": 2, "dim": 1, "keepdim": True},
     lambda x: torch.kthvalue(x, 2, dim=1, keepdim=True), 48),
    ({"fn": "median", "dim": None}, lambda x: (torch.median(x),), 48),
    ({"fn": "median", "dim": 2, "keepdim": False}, lambda x: torch.median(x, 2), 48),
    ({"fn": "nanmedian", "dim": 0, "keepdim": True},
     lambda x: torch.nanmedian(x, 0, keepdim=True), 48),
    ({"fn": "mode", "dim": -1, "keepdim": False}, lambda x: torch.mode(x, -1), 48 * 3),
    ({"fn": "aminmax", "dim": None, "keepdim": False}, lambda x: torch.aminmax(x), 2 * 48),
    ({"fn": "aminmax", "dim": 1, "keepdim": True},
     lambda x: torch.aminmax(x, dim=1, keepdim=True), 2 * 48),
]


@pytest.mark.parametrize("attrs, call, comparisons", CASES)
def test_shapes_match_torch_and_comparisons_are_counted(attrs, call, comparisons) -> None:
    expected = tuple(tuple(t.shape) for t in call(torch.rand(X)))
    outputs, macs, flops = evaluate("sort", (X,), attrs)
    assert outputs == expected
    assert macs == 0 and flops == math.ceil(comparisons)
    assert rule("sort", "params")((X,), attrs) == 0
    itemsizes = ((4,), (4, 8)[:len(outputs)])              # values float32, indices int64
    assert rule("sort", "bytes")((X,), outputs, attrs, itemsizes) == 4 * 48 + sum(
        size * math.prod(shape) for size, shape in zip(itemsizes[1], expected))


def test_field_mixes_the_selection_axis() -> None:
    assert rule("sort", "rf")((X,), (X, X), {"fn": "sort", "dim": 1}) == \
        Mixes(((0, (1,)),), rest="pass")
    assert rule("sort", "rf")((X,), ((),), {"fn": "median", "dim": None}) == \
        Mixes(((0, None),), rest="reshape")


@pytest.mark.parametrize("attrs", [
    {"fn": "sort", "dim": -1}, {"fn": "topk", "k": 3, "dim": 2}, {"fn": "mode", "dim": 1},
    {"fn": "kthvalue", "k": 2, "dim": 2, "keepdim": True}, {"fn": "aminmax", "dim": None},
    {"fn": "median", "dim": None},
])
def test_symbols_agree_with_ints(attrs) -> None:
    b, c, n = symbols("B C N")
    for values in ({b: 2, c: 3, n: 8}, {b: 1, c: 5, n: 6}):
        assert_symbolic_agrees("sort", ((b, c, n),), attrs, values)


def test_an_unknown_function_is_refused_not_guessed() -> None:
    with pytest.raises(RuleError, match="histc"):
        evaluate("sort", (X,), {"fn": "histc", "dim": None})


class Selections(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, _ = torch.sort(x, dim=-1)
        top, _ = torch.topk(x, 2, dim=1)
        low, high = torch.aminmax(x, dim=2, keepdim=True)
        kth, _ = torch.kthvalue(x, 1, dim=2, keepdim=True)
        middle, _ = torch.median(x, dim=2, keepdim=True)
        common, _ = torch.mode(x, 2, keepdim=True)
        order = torch.argsort(x, dim=-1, stable=True)
        return (values + top.sum(1, keepdim=True) + low + high + kth + middle + common
                + order + torch.median(x))


def test_capture_maps_every_selection_and_is_exact() -> None:
    report = netanatomy.analyze(Selections(), X)
    functions = sorted(node.attrs["fn"] for node in report.graph.nodes if node.kind == "sort")
    assert functions == sorted(["sort", "topk", "aminmax", "kthvalue", "median", "mode",
                                "sort", "median"])
    assert not report.uncounted
