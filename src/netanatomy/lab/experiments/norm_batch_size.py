"""Batch norm with a tiny batch: with two samples each output is ±1 (the sign of the
difference from the companion), so a sample's output depends on who shares its batch;
GroupNorm and InstanceNorm normalise within one sample and do not depend on the batch."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64
SIZES = (2, 3, 4, 6, 8, 16, 32, 64, 128)
NEAR = 1e-3
"""An output counts as a sign when ||y| − 1| ≤ NEAR."""


def phi(value: float) -> float:
    """Standard normal CDF."""
    return 0.5 * (1 + math.erf(value / math.sqrt(2)))


@torch.no_grad()
def first_output(norm: nn.Module, x0: torch.Tensor, companions: torch.Tensor
                 ) -> torch.Tensor:
    """The norm's output (training mode) for sample x0 in a batch with ``companions``."""
    return norm(torch.cat([x0, companions]))[0]


def spread_of_first(norm: nn.Module, x0: torch.Tensor, size: int, draws: int,
                    generator: torch.Generator) -> float:
    """Largest std, over ``draws`` batches of ``size`` with fresh companions, of x0's
    output entries: how much x0's output depends on the rest of its batch."""
    outputs = torch.stack([first_output(norm, x0, torch.randn(
        size - 1, *x0.shape[1:], generator=generator, dtype=F64)) for _ in range(draws)])
    return float(outputs.std(dim=0).max())


@experiment("bn-tiny-batch", topic="normalisation",
            title="Batch norm with a batch of 2 outputs only signs",
            claim="With a batch of two, BN maps each feature to (d/2)/√(d²/4 + ε) = ±1 "
                  "(d = x₀ − x₁): the output keeps only the sign, set by the companion; "
                  "the dependence on the batch shrinks as the batch grows, and "
                  "GroupNorm / InstanceNorm do not depend on the batch at all.",
            setting="BatchNorm1d(400): x₀ = 1 in all 400 features (400 independent draws "
                    "of a companion x₁ ~ N(0, 1)), batch 2, ε = 1e-5; GroupNorm(2, 4) and "
                    "InstanceNorm1d(4) on 4 channels × 100")
def bn_tiny_batch(batch: int = 2, features: int = 400, x0: float = 1.0, eps: float = 1e-5,
                  seed: int = 0) -> Outcome:
    if batch < 2:
        raise UsageError(f"lab bn-tiny-batch: batch={batch}; batch norm needs at least 2")
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(features, eps=eps, dtype=F64)
    first = torch.full((1, features), x0, dtype=F64)
    companions = torch.randn(batch - 1, features, generator=generator, dtype=F64)
    y0 = first_output(bn, first, companions)
    d = (first - companions[0]).flatten()
    closed = (d / 2) / torch.sqrt(d**2 / 4 + eps)
    # ||y₀| − 1| ≤ NEAR ⇔ |d| ≥ t, t = 2√(ε/((1 − NEAR)⁻² − 1)); P(|x₀ − x₁| ≥ t) from Φ.
    t = 2 * math.sqrt(eps / ((1 - NEAR) ** -2 - 1))
    p_sign = 1 - (phi(x0 + t) - phi(x0 - t))
    p_plus = phi(x0)                      # P(y₀ > 0) = P(x₁ < x₀) at batch 2
    signs = float(((y0.abs() - 1).abs() <= NEAR).double().mean())
    plus = float((y0 > 0).double().mean())
    # Rounding: x₀ − μ carries an error of u·(|x₀| + |x₁|), which the output amplifies by
    # ∂y/∂d = (ε/2)/(d²/4 + ε)^(3/2) (largest, 1/(2√ε), where d → 0).
    sensitivity = (eps / 2) / (d**2 / 4 + eps) ** 1.5
    size = float((sensitivity * (abs(x0) + companions[0].abs())).max()) + 1.0
    checks = [
        close("max |y₀ − (d/2)/√(d²/4+ε)| (batch-2 closed form)",
              float((y0 - closed).abs().max()), 0.0, atol=two_methods(4, size),
              reason=reason(4, "rounded operations") + ", amplified by ∂y/∂d"),
        close(f"share of features with ||y₀| − 1| ≤ {NEAR:g} (a sign)", signs, p_sign,
              atol=5 * math.sqrt(p_sign * (1 - p_sign) / features) + 1 / features,
              reason=f"5 binomial standard errors over {features} features (+1/{features})"),
        close("share of features with y₀ > 0", plus, p_plus,
              atol=5 * math.sqrt(p_plus * (1 - p_plus) / features),
              reason=f"5 binomial standard errors over {features} features; P = Φ(x₀)"),
    ]
    sample = torch.randn(1, 4, 100, generator=generator, dtype=F64)
    others = {"GroupNorm(2, 4)": nn.GroupNorm(2, 4, dtype=F64),
              "InstanceNorm1d(4)": nn.InstanceNorm1d(4, affine=True, dtype=F64)}
    for name, norm in others.items():
        alone = first_output(norm, sample, sample[:0])
        crowd = first_output(norm, sample, torch.randn(63, 4, 100, generator=generator,
                                                       dtype=F64))
        checks.append(close(f"max |{name} output of x₀ alone − in a batch of 64|",
                            float((alone - crowd).abs().max()), 0.0,
                            atol=two_methods(200, float(alone.abs().max())),
                            reason=reason(200, "entries of one sample's group")))
    curves = dependence(bn, others, first, sample, generator)
    big = first_output(bn, first, torch.randn(63, features, generator=generator, dtype=F64))
    figure = draw(y0, big, curves, x0, batch)
    data: dict[str, Any] = {"share_signs": signs, "theory_share_signs": p_sign,
                            "share_plus": plus, "theory_share_plus": p_plus,
                            "sizes": list(SIZES), "curves": curves}
    notes = [f"batch {batch}: {signs:.1%} of the outputs are ±1 within {NEAR:g} "
             f"(theory {p_sign:.1%} at batch 2); {plus:.1%} are +1 (Φ({x0:g}) = "
             f"{p_plus:.1%})"]
    return Outcome(checks, figure, data=data, notes=notes)


def dependence(bn: nn.Module, others: dict[str, nn.Module], first: torch.Tensor,
               sample: torch.Tensor, generator: torch.Generator) -> dict[str, list[float]]:
    """Std of x₀'s output over fresh companions, per batch size: for BN over its
    features (each an independent draw), for the others over 4 redrawn batches."""
    curves: dict[str, list[float]] = {"BatchNorm1d": []}
    for size in SIZES:
        companions = torch.randn(size - 1, first.shape[1], generator=generator, dtype=F64)
        curves["BatchNorm1d"].append(float(first_output(bn, first, companions).std()))
    for name, norm in others.items():
        curves[name] = [spread_of_first(norm, sample, size, 4, generator) for size in SIZES]
    return curves


def draw(y0: torch.Tensor, big: torch.Tensor, curves: dict[str, list[float]], x0: float,
         batch: int) -> Any:
    figure, axes = new_figure(2, 1)
    axis = axes[0]
    axis.hist(y0.numpy(), bins=60, range=(-3, 3), color=MEASURED,
              label=f"BN output of x₀, batch {batch}")
    axis.hist(big.numpy(), bins=60, range=(-3, 3), histtype="step", color=OTHER,
              linewidth=1.5, label="batch 64")
    axis.set_xlabel("y₀ (one bar per 0.1)")
    axis.set_ylabel("features")
    axis.axvline(1, color=THEORY, linestyle="--", label="±1 (theory, batch 2)")
    axis.axvline(-1, color=THEORY, linestyle="--")
    axis.legend(fontsize=8)
    axis.set_title(f"x₀ = {x0:g} in every feature: its output", fontsize=10)
    axis = axes[1]
    sizes = list(SIZES)
    axis.plot(sizes, curves["BatchNorm1d"], "o", color=MEASURED, label="BatchNorm1d")
    delta = [math.sqrt((n - 1) / n**2 + x0**2 / (2 * n)) for n in sizes]
    axis.plot(sizes, delta, color=THEORY, label="delta method √((N−1)/N² + x₀²/2N)")
    sign_std = 2 * math.sqrt(phi(x0) * (1 - phi(x0)))
    axis.plot([2], [sign_std], "*", markersize=12, color=THEORY,
              label="batch 2: 2√(Φ(x₀)(1−Φ(x₀)))")
    for (name, values), marker in zip(list(curves.items())[1:], ("s", "^"), strict=True):
        axis.plot(sizes, [max(v, 1e-17) for v in values], marker, color=OTHER,
                  fillstyle="none", label=f"{name} (exactly 0 shown at 1e-17)")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("batch size N")
    axis.set_ylabel("std of x₀'s output over companions")
    axis.legend(fontsize=7, loc="center right")
    axis.set_title("Dependence on the batch: BN shrinks with N, GN/IN none", fontsize=10)
    return figure
