"""σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4: a sigmoid layer passes at most a quarter of the gradient,
and far less where it saturates."""

from __future__ import annotations

import torch

from netanatomy.lab.base import Outcome, at_most, close, experiment
from netanatomy.lab.figures import MEASURED, THEORY, new_figure


@experiment("sigmoid-saturation", topic="initialisation",
            title="Sigmoid saturates: σ' ≤ 1/4",
            claim="The sigmoid's derivative σ(z)(1−σ(z)) peaks at 1/4 at z = 0 and vanishes "
                  "for large |z|, so a stack of L sigmoid layers scales gradients by at most "
                  "(w/4)^L.",
            setting="z from −limit to +limit; the closed form against autograd")
def sigmoid_saturation(limit: float = 10.0, points: int = 2001, saturated_at: float = 5.0
                       ) -> Outcome:
    z = torch.linspace(-limit, limit, points, dtype=torch.float64, requires_grad=True)
    y = torch.sigmoid(z)
    (autograd,) = torch.autograd.grad(y.sum(), z)
    closed = (y * (1 - y)).detach()
    saturated = autograd[z.detach().abs() >= saturated_at]
    checks = [
        close("max |autograd − σ(1−σ)|", float((autograd - closed).abs().max()), 0.0,
              atol=1e-15, reason="float64 rounding of two evaluations of the same product"),
        at_most("max σ'(z)", float(autograd.max()), 0.25,
                atol=1e-15, reason="float64 rounding; the bound is exact at z = 0"),
        at_most(f"max σ'(z) for |z| ≥ {saturated_at:g}",
                float(saturated.max()) if saturated.numel() else float("nan"),
                float(torch.sigmoid(torch.tensor(saturated_at, dtype=torch.float64))
                      * (1 - torch.sigmoid(torch.tensor(saturated_at, dtype=torch.float64)))),
                atol=1e-15, reason="σ' falls monotonically in |z|: its value at the edge"),
    ]
    figure, (axis,) = new_figure()
    axis.plot(z.detach(), autograd, color=MEASURED, label="σ'(z) by autograd")
    axis.axhline(0.25, color=THEORY, linestyle="--", label="bound 1/4")
    axis.axvspan(saturated_at, limit, color="0.9")
    axis.axvspan(-limit, -saturated_at, color="0.9", label=f"saturated |z| ≥ {saturated_at:g}")
    axis.set_xlabel("pre-activation z")
    axis.set_ylabel("dσ/dz")
    axis.legend(loc="upper right", fontsize=8)
    axis.set_title("The sigmoid passes at most a quarter of the gradient")
    return Outcome(checks, figure, data={"max_derivative": float(autograd.max())})
