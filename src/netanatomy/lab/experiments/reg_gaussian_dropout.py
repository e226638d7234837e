"""Gaussian dropout multiplies by N(1, p/(1 − p)) noise: the mean and variance of inverted
Bernoulli dropout's factor m/(1 − p), m ~ Bernoulli(1 − p), with p the drop probability."""

from __future__ import annotations

import math

import torch
from torch import nn

from netanatomy.lab.base import Outcome, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure
from netanatomy.layers import GaussianDropout

F64 = torch.float64


def moment_errors(factors: torch.Tensor) -> tuple[float, float, float, float]:
    """(mean, variance, SE of the mean, SE of the variance) of a sample: SE(mean) = s/√n,
    SE(variance) = √((m₄ − s⁴)/n) with m₄ the sample's fourth central moment."""
    count = factors.numel()
    mean = float(factors.mean())
    centred = factors - mean
    variance = float((centred**2).mean()) * count / (count - 1)
    fourth = float((centred**4).mean())
    return mean, variance, math.sqrt(variance / count), math.sqrt(
        max(fourth - variance**2, 0.0) / count)


def gaussian_factors(p: float, p_gaussian_as: str, count: int) -> torch.Tensor:
    """The Gaussian layer's factors on a tensor of ones. ``drop`` is netanatomy's
    GaussianDropout(p) (variance p/(1 − p)); ``keep`` reads p as the keep probability, i.e.
    N(1, (1 − p)/p) with the same number p (the mixed-up convention, the failing premise)."""
    ones = torch.ones(count, dtype=F64)
    if p_gaussian_as == "drop":
        return GaussianDropout(p).train()(ones)
    return GaussianDropout(1 - p).train()(ones)


@experiment("gaussian-vs-bernoulli-dropout", topic="regularisation",
            title="Gaussian dropout matches Bernoulli's mean and variance",
            claim="With p the drop probability, inverted Bernoulli dropout multiplies by "
                  "m/(1 − p) (mean 1, variance p/(1 − p)); Gaussian dropout multiplies by "
                  "N(1, p/(1 − p)) noise, the course's N(1, (1 − p)/p) with its p read as the "
                  "keep probability: the same first two moments, a different shape.",
            setting="p = 0.25 (drop), 200 000 factors from netanatomy.layers.GaussianDropout "
                    "and from torch.nn.Dropout")
def gaussian_vs_bernoulli(p: float = 0.25, count: int = 200000, p_gaussian_as: str = "drop"
                          ) -> Outcome:
    """``p_gaussian_as="keep"`` gives the Gaussian layer the keep-probability reading of p
    (variance (1 − p)/p): the failing premise."""
    variance = p / (1 - p)
    gaussian = gaussian_factors(p, p_gaussian_as, count)
    bernoulli = nn.Dropout(p).train()(torch.ones(count, dtype=F64))
    checks = []
    for label, factors in (("Gaussian", gaussian), ("Bernoulli", bernoulli)):
        mean, var, mean_error, var_error = moment_errors(factors)
        checks += [
            close(f"{label} factor mean", mean, 1.0, atol=5 * mean_error,
                  reason=f"5 × the standard error s/√n = {mean_error:.3g}"),
            close(f"{label} factor variance", var, variance, atol=5 * var_error,
                  reason=f"5 × the standard error √((m₄ − s⁴)/n) = {var_error:.3g}"),
        ]
    values = sorted({round(float(v), 12) for v in bernoulli.unique()})
    checks.append(equal("Bernoulli factor values", values, [0.0, round(1 / (1 - p), 12)],
                        reason="m/(1 − p) takes only 0 and 1/(1 − p)"))
    figure = draw(gaussian, bernoulli, p, variance)
    return Outcome(checks, figure, data={
        "variance_theory": variance, "gaussian_mean": float(gaussian.mean()),
        "gaussian_variance": float(gaussian.var()), "bernoulli_mean": float(bernoulli.mean()),
        "bernoulli_variance": float(bernoulli.var()),
        "bernoulli_dropped_fraction": float((bernoulli == 0).double().mean())},
        notes=[f"p = {p:g} is the drop probability; variance p/(1 − p) = {variance:.6g}",
               "the course's N(1, (1 − p)/p) is the same law with p the keep probability"])


def draw(gaussian: torch.Tensor, bernoulli: torch.Tensor, p: float, variance: float) -> object:
    figure, (axis,) = new_figure(width=6.4)
    std = math.sqrt(variance)
    low, high = 1 - 4.5 * std, 1 + 4.5 * std
    axis.hist(gaussian.numpy(), bins=120, range=(low, high), density=True, color=MEASURED,
              alpha=0.55, label="Gaussian dropout factors (histogram)")
    grid = torch.linspace(low, high, 400, dtype=F64)
    density = torch.exp(-((grid - 1) ** 2) / (2 * variance)) / math.sqrt(2 * math.pi * variance)
    axis.plot(grid, density, color=THEORY, label=f"N(1, p/(1−p) = {variance:.3g})")
    kept = float((bernoulli != 0).double().mean())
    scale = float(axis.get_ylim()[1])
    spikes = [(0.0, 1 - kept), (1 / (1 - p), kept)]
    for index, (where, share) in enumerate(spikes):
        axis.vlines(where, 0, share * scale, color=OTHER, linewidth=4,
                    label="Bernoulli m/(1−p): mass at 0 and 1/(1−p) (height ∝ share)"
                    if index == 0 else None)
        axis.annotate(f"{share:.3f}", (where, share * scale), ha="center", va="bottom",
                      fontsize=8, color=OTHER)
    axis.axvline(1.0, color="black", linestyle=":", linewidth=1, label="common mean 1")
    axis.set_xlabel("multiplicative factor applied to an activation")
    axis.set_ylabel("density (Gaussian)")
    axis.legend(fontsize=7, loc="upper left", framealpha=0.9)
    axis.set_ylim(0, scale * 1.35)
    axis.set_title(f"p = {p:g}: same mean 1 and variance {variance:.3g}, different shapes")
    return figure
