"""Data-movement rules: reshape, concat and pad shapes against torch; zero cost."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from netanatomy.errors import RuleError
from netanatomy.rules import get_formula
from netanatomy.rules.shape import DATA_MOVEMENT_KINDS
from tests.rules.helpers import assert_symbolic_agrees, evaluate, rule, symbols


@pytest.mark.parametrize("kind", DATA_MOVEMENT_KINDS)
def test_data_movement_costs_nothing(kind) -> None:
    inputs, outputs = ((2, 3, 4),), ((2, 3, 4),)
    assert rule(kind, "macs")(inputs, outputs, {}) == 0
    assert rule(kind, "elementwise_flops")(inputs, outputs, {}) == 0


@pytest.mark.parametrize("x_shape, wanted", [
    ((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (2, -1)), ((2, 3, 4), (-1, 3, 2, 2)),
    ((6,), (1, -1, 1)),
])
def test_reshape_matches_torch(x_shape, wanted) -> None:
    expected = torch.zeros(x_shape).reshape(wanted).shape
    outputs, _, _ = evaluate("reshape", (x_shape,), {"shape": wanted})
    assert outputs == (tuple(expected),)


@pytest.mark.parametrize("shapes, dim", [
    ([(2, 3), (2, 5)], 1), ([(2, 3), (4, 3), (1, 3)], 0), ([(1, 2, 3), (1, 2, 4)], -1),
    ([(2, 3)], 0),
])
def test_concat_matches_torch(shapes, dim) -> None:
    expected = torch.cat([torch.zeros(s) for s in shapes], dim=dim).shape
    outputs, _, _ = evaluate("concat", tuple(shapes), {"dim": dim})
    assert outputs == (tuple(expected),)


@pytest.mark.parametrize("x_shape, torch_pad", [
    ((1, 2, 5), (1, 2)), ((1, 2, 5, 4), (1, 0, 2, 3)), ((2, 5, 4), (0, 1, 1, 1)),
    ((1, 1, 6, 6), (-1, -2, 1, 0)),            # negative padding crops
    ((1, 1, 3, 3, 3), (1, 1, 0, 2, 2, 0)),
])
def test_pad_matches_torch(x_shape, torch_pad) -> None:
    expected = F.pad(torch.zeros(x_shape), torch_pad).shape
    # torch lists (before, after) last axis first; the rule wants first axis first
    pairs = tuple((torch_pad[i], torch_pad[i + 1]) for i in range(0, len(torch_pad), 2))[::-1]
    outputs, _, _ = evaluate("pad", (x_shape,), {"padding": pairs})
    assert outputs == (tuple(expected),)


def test_pad_rf_maps_output_to_shifted_input() -> None:
    x = torch.arange(6.0).reshape(1, 1, 6)
    padded = F.pad(x, (2, 1), value=-1.0)
    (window,) = rule("pad", "rf")(((1, 1, 6),), ((1, 1, 9),), {"padding": ((2, 1),)})
    for o in range(9):
        i = o * window.stride + window.start
        assert window.extent == 0
        assert padded[0, 0, o] == (x[0, 0, i] if 0 <= i < 6 else -1.0)


def test_data_dependent_kinds_take_the_shape_the_front_end_recorded() -> None:
    # view / copy / create shapes depend on arguments the rules do not model (expand,
    # gather, arange): the front-end records the op's own shape
    for kind in ("view", "copy", "create"):
        shape_of = get_formula(kind, "output_shapes")
        assert shape_of(((2, 3),), {"shape": (3, 2)}) == ((3, 2),)
        with pytest.raises(RuleError, match="attrs\\['shape'\\]"):
            shape_of(((2, 3),), {})


def test_shape_rules_symbolic_agree_with_integers() -> None:
    n, c, h, w = symbols("N C H W")
    values = {n: 2, c: 3, h: 4, w: 5}
    assert_symbolic_agrees("reshape", ((n, c, h, w),), {"shape": (n, -1)}, values)
    assert_symbolic_agrees("reshape", ((n, c, h, w),), {"shape": (n, c, h * w)}, values)
    assert_symbolic_agrees("concat", ((n, c, h), (n, w, h)), {"dim": 1}, values)
    assert_symbolic_agrees("pad", ((n, c, h, w),), {"padding": ((1, c), (0, 2))}, values)
