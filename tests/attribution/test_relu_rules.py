"""The ReLU-family backward override, checked element by element against the rules
written out by hand: gradient g·f'(x), deconvnet g·[g > 0], guided g·[g > 0]·f'(x)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netanatomy.attribution.relu_rules import relu_backward_rule
from netanatomy.errors import UsageError

X = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0, 7.0])
G = torch.tensor([1.0, -1.0, 2.0, -3.0, 0.5, -0.25])

# f'(x) at X, by hand
RELU_D = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])          # [x > 0]
LEAKY_D = torch.tensor([0.1, 0.1, 0.1, 1.0, 1.0, 1.0])         # 1 for x > 0, else 0.1
RELU6_D = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 0.0])         # [0 < x < 6]
THRESHOLD_D = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])     # [x > 1]
G_POS = torch.tensor([1.0, 0.0, 2.0, 0.0, 0.5, 0.0])           # g · [g > 0]

OPS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]] = {
    "F.relu": (F.relu, RELU_D),
    "torch.relu": (torch.relu, RELU_D),
    "Tensor.relu": (lambda t: t.relu(), RELU_D),
    "relu_": (lambda t: t.clone().relu_(), RELU_D),
    "nn.ReLU(inplace)": (lambda t: nn.ReLU(inplace=True)(t.clone()), RELU_D),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), LEAKY_D),
    "nn.LeakyReLU(inplace)": (lambda t: nn.LeakyReLU(0.1, inplace=True)(t * 1), LEAKY_D),
    "relu6": (F.relu6, RELU6_D),
    "nn.ReLU6": (nn.ReLU6(), RELU6_D),
    "hardtanh(0, 6)": (lambda t: F.hardtanh(t, 0.0, 6.0), RELU6_D),
    "threshold": (lambda t: F.threshold(t, 1.0, 0.0), THRESHOLD_D),
    "nn.Threshold": (nn.Threshold(1.0, 0.0), THRESHOLD_D),
}


def input_grad(op: Callable[[torch.Tensor], torch.Tensor], rule: str) -> torch.Tensor:
    x = X.clone().requires_grad_(True)
    with relu_backward_rule(rule):
        y = op(x)
    (grad,) = torch.autograd.grad(y, x, grad_outputs=G)
    return grad


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_rule_matches_its_formula(name: str) -> None:
    op, derivative = OPS[name]
    assert torch.equal(input_grad(op, "gradient"), G * derivative)
    assert torch.equal(input_grad(op, "deconvnet"), G_POS)
    assert torch.equal(input_grad(op, "guided"), G_POS * derivative)


def test_the_forward_values_are_unchanged_in_and_out_of_place() -> None:
    for op, _ in OPS.values():
        expected = op(X.clone())
        with relu_backward_rule("guided"):
            assert torch.equal(op(X.clone().requires_grad_(True)).detach(), expected)
    x = X.clone()
    with relu_backward_rule("deconvnet"):
        y = (x.requires_grad_(True) * 1).relu_()
    assert torch.equal(y.detach(), X.clamp(min=0))           # still in place, same values


def test_outside_the_block_autograd_is_its_own() -> None:
    with relu_backward_rule("deconvnet") as mode:
        pass
    assert mode is not None and mode.overridden == 0
    assert torch.equal(input_grad(lambda t: t, "gradient"), G)
    x = X.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.relu(x), x, grad_outputs=G)
    assert torch.equal(grad, G * RELU_D)


def test_smooth_activations_and_other_hardtanh_ranges_keep_autograd() -> None:
    for op in (torch.tanh, torch.sigmoid, F.gelu, F.silu, F.elu, F.hardtanh):
        expected = input_grad(op, "gradient")
        assert torch.equal(input_grad(op, "guided"), expected)
        assert torch.equal(input_grad(op, "deconvnet"), expected)


def test_an_unknown_rule_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="gradient, deconvnet, guided"):
        with relu_backward_rule("backwards"):
            pass
