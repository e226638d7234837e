"""Test-time weight scaling (inverted dropout's identity at test) gives the training-time
expectation exactly when what follows the dropout is linear, and only approximately when a
nonlinearity follows: E[f(W(m⊙x)/q)] = f(Wx) needs f affine (Jensen's gap otherwise)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from netanatomy.errors import UsageError
from netanatomy.lab.base import Check, Outcome, at_least, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid,
    "square": lambda z: z**2,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise UsageError(f"lab weight-scaling: activation {name!r} is not one of "
                         f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def exact_expectation(layer: nn.Linear, f: Callable[[torch.Tensor], torch.Tensor],
                      x: torch.Tensor, p: float) -> float:
    """E over all 2^d keep-masks m (probability q^|m| p^(d−|m|)) of f(layer(m⊙x/q))."""
    features = x.numel()
    bits = torch.tensor([[(index >> j) & 1 for j in range(features)]
                         for index in range(2**features)], dtype=F64)
    kept = bits.sum(dim=1)
    probability = (1 - p) ** kept * p ** (features - kept)
    with torch.no_grad():
        outputs = f(layer(bits * x / (1 - p))).flatten()
    return float((probability * outputs).sum())


def monte_carlo(model: nn.Sequential, x: torch.Tensor, samples: int) -> torch.Tensor:
    """``samples`` train-mode outputs of torch's dropout → linear → f."""
    with torch.no_grad():
        return model.train()(x.expand(samples, -1)).flatten()


@experiment("weight-scaling", topic="regularisation",
            title="Test-time weight scaling is exact only for linear layers",
            claim="With inverted dropout before a linear layer, the test-time output W·x + b "
                  "(dropout off; equivalently, standard dropout with weights scaled by 1 − p) "
                  "equals the training expectation E[W(m⊙x)/(1 − p) + b] exactly; with a "
                  "nonlinearity f after the layer E[f(·)] ≠ f(E[·]) (Jensen), and the gap "
                  "exceeds the Monte-Carlo tolerance.",
            setting="p = 0.5, one input of 10 features, Linear(10, 1), 40 000 masks; "
                    "contrast sigmoid (or relu), and a square whose gap has a closed form")
def weight_scaling(p: float = 0.5, features: int = 10, samples: int = 40000,
                   activation_name: str = "identity", nonlinear: str = "sigmoid",
                   seed: int = 0) -> Outcome:
    """``activation_name`` follows the linear layer in the case claimed exact (``relu`` there
    is the failing premise); ``nonlinear`` is the contrast case that must show a gap."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, features, generator=generator, dtype=F64)
    layer = nn.Linear(features, 1).double()
    with torch.no_grad():
        layer.weight.copy_(torch.randn(1, features, generator=generator, dtype=F64)
                           / math.sqrt(features))
        layer.bias.zero_()
    cases = {}
    for role, name in (("claimed exact", activation_name), ("contrast", nonlinear)):
        f = activation(name)
        model = nn.Sequential(nn.Dropout(p), layer, Lambda(f))
        draws = monte_carlo(model, x, samples)
        with torch.no_grad():
            test_time = float(model.eval()(x))
        cases[role] = (name, draws, test_time, exact_expectation(layer, f, x, p))
    checks = case_checks(cases, samples)
    if nonlinear == "square":
        w = layer.weight.detach().flatten()
        gap = p / (1 - p) * float((w**2 * x.flatten() ** 2).sum())   # Var of W(m⊙x)/q
        name, _, test_time, exact = cases["contrast"]
        checks.append(close("square: E[z²] − (E z)²", exact - test_time, gap, rtol=1e-10,
                            reason="closed form (p/q)·Σ w_j² x_j², float64 rounding"))
    figure = draw(cases, p)
    return Outcome(checks, figure, data={
        role: {"activation": name, "test_time": test_time, "exact_expectation": exact,
               "mc_mean": float(draws.mean()),
               "mc_standard_error": float(draws.std()) / math.sqrt(samples)}
        for role, (name, draws, test_time, exact) in cases.items()},
        notes=["inverted dropout: kept inputs scaled by 1/(1 − p) in training, identity at "
               "test (the same as scaling the weights by 1 − p at test without the 1/(1 − p))"])


def case_checks(cases: dict[str, tuple[str, torch.Tensor, float, float]],
                samples: int) -> list[Check]:
    name, draws, test_time, exact = cases["claimed exact"]
    error = float(draws.std()) / math.sqrt(samples)
    contrast, contrast_draws, contrast_test, contrast_exact = cases["contrast"]
    contrast_error = float(contrast_draws.std()) / math.sqrt(samples)
    return [
        close(f"{name}: exact E over 2^d masks vs test-time output", exact, test_time,
              atol=1e-12 * (1 + abs(test_time)),
              reason="linearity of expectation; float64 rounding of 2^d terms"),
        close(f"{name}: MC mean vs test-time output", float(draws.mean()), test_time,
              atol=5 * error, reason=f"5 × MC standard error {error:.3g}"),
        close(f"{contrast}: MC mean vs exact E (Monte Carlo is sound)",
              float(contrast_draws.mean()), contrast_exact, atol=5 * contrast_error,
              reason=f"5 × MC standard error {contrast_error:.3g}"),
        at_least(f"{contrast}: |exact E − test-time output|", abs(contrast_exact - contrast_test),
                 5 * contrast_error,
                 reason="the gap must exceed the MC tolerance (5 standard errors) to be seen"),
    ]


class Lambda(nn.Module):
    """A function as a module (the activation after the linear layer)."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


def draw(cases: dict[str, tuple[str, torch.Tensor, float, float]], p: float) -> object:
    figure, axes = new_figure(2, 1, width=4.6)
    for axis, (name, draws, test_time, exact) in zip(axes, cases.values()):
        axis.hist(draws.numpy(), bins=80, density=True, color=OTHER, alpha=0.45,
                  label="training outputs (dropout on)")
        axis.axvline(float(draws.mean()), color=MEASURED, linewidth=2,
                     label=f"MC mean {float(draws.mean()):.4f}")
        axis.axvline(exact, color=MEASURED, linestyle=":", linewidth=2,
                     label=f"exact E (2^d masks) {exact:.4f}")
        axis.axvline(test_time, color=THEORY, linestyle="--", linewidth=2,
                     label=f"test-time output {test_time:.4f}")
        axis.set_xlabel(f"output of dropout(p={p:g}) → Linear → {name}")
        axis.set_ylabel("density")
        axis.legend(fontsize=7, loc="best", framealpha=0.85)
        gap = exact - test_time
        axis.set_title(f"{name}: E − test = {gap:.2g}" + (" (exact)" if abs(gap) < 1e-10
                                                          else " (Jensen gap)"), fontsize=10)
    figure.suptitle("Weight scaling matches the training mean only for a linear layer",
                    fontsize=11)
    return figure
