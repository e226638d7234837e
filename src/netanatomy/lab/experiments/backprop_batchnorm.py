"""Backprop through batch norm in training mode: the closed form
dx = (1/N)·γ/σ·(N·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy, against autograd."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64


def closed_form(x: torch.Tensor, dy: torch.Tensor, gamma: torch.Tensor, eps: float,
                through_statistics: bool = True) -> tuple[torch.Tensor, ...]:
    """(dx, dγ, dβ) of y = γ·x̂ + β, x̂ = (x − μ)/σ, σ = √(v + ε), μ and v (biased) the
    batch's per-feature mean and variance. ``through_statistics=False`` drops the paths
    through μ and σ (dx = γ/σ·dy: right only for fixed, eval-mode statistics)."""
    n = x.shape[0]
    mean = x.mean(dim=0)
    sigma = torch.sqrt(((x - mean) ** 2).mean(dim=0) + eps)
    x_hat = (x - mean) / sigma
    if through_statistics:
        dx = gamma / sigma / n * (n * dy - dy.sum(dim=0) - x_hat * (dy * x_hat).sum(dim=0))
    else:
        dx = gamma / sigma * dy
    return dx, (dy * x_hat).sum(dim=0), dy.sum(dim=0)


@experiment("batchnorm-backward", topic="backprop",
            title="Batch-norm backward: the closed form equals autograd",
            claim="In training mode ∂L/∂x of batch norm is (1/N)·γ/σ·(N·dy − Σdy − "
                  "x̂·Σ(dy·x̂)) per feature (the batch mean and variance depend on x), "
                  "∂L/∂γ = Σ dy·x̂ and ∂L/∂β = Σ dy.",
            setting="a batch of N = 8 samples of 4 features, ε = 1e-5, random γ, β and dy")
def batchnorm_backward(batch: int = 8, features: int = 4, eps: float = 1e-5,
                       through_statistics: bool = True, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=F64)

    x = (draw(batch, features) * 2 + 1).requires_grad_(True)
    gamma = (draw(features) + 1.5).requires_grad_(True)
    beta = draw(features).requires_grad_(True)
    dy = draw(batch, features)
    y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    dx, dgamma, dbeta = (t.detach() for t in torch.autograd.grad(y, (x, gamma, beta), dy))
    x, gamma = x.detach(), gamma.detach()
    formula = closed_form(x, dy, gamma, eps, through_statistics)
    # Size of the terms each dx entry sums: γ/σ·(N|dy| + Σ|dy| + |x̂|·Σ|dy·x̂|)/N.
    sigma = torch.sqrt(x.var(dim=0, unbiased=False) + eps)
    x_hat = (x - x.mean(dim=0)) / sigma
    size = (gamma.abs() / sigma / batch * (batch * dy.abs() + dy.abs().sum(dim=0)
                                           + x_hat.abs() * (dy * x_hat).abs().sum(dim=0)))
    terms = 4 * batch                  # mean, variance, two sums of N terms each
    bounds = [two_methods(terms, float(size.max())),
              two_methods(terms, float((dy * x_hat).abs().sum(dim=0).max())),
              two_methods(batch, float(dy.abs().sum(dim=0).max()))]
    errors = [float((measured - expected).abs().max())
              for measured, expected in zip((dx, dgamma, dbeta), formula, strict=True)]
    names = ["∂L/∂x", "∂L/∂γ", "∂L/∂β"]
    forms = ["(1/N)·γ/σ·(N·dy − Σdy − x̂·Σ(dy·x̂))" if through_statistics else "γ/σ·dy",
             "Σ dy·x̂", "Σ dy"]
    checks = [close(f"max |{name} autograd − {form}|", error, 0.0, atol=bound,
                    reason=reason(terms if name != "∂L/∂β" else batch))
              for name, form, error, bound in zip(names, forms, errors, bounds, strict=True)]
    frozen = closed_form(x, dy, gamma, eps, through_statistics=False)[0]
    figure = draw_figure(dx, formula[0], frozen, through_statistics, bounds[0])
    data: dict[str, Any] = {"errors": errors, "tolerances": bounds,
                            "frozen_statistics_error": float((dx - frozen).abs().max())}
    notes = ["dropping the paths through μ and σ (dx = γ/σ·dy, the eval-mode gradient) "
             f"is off by up to {data['frozen_statistics_error']:.3g} here"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw_figure(dx: torch.Tensor, formula: torch.Tensor, frozen: torch.Tensor,
                through_statistics: bool, tolerance: float) -> Any:
    figure, axes = new_figure(4, 1, width=3.2, height=3.3)
    limit = float(dx.abs().max())
    label = "closed form" if through_statistics else "γ/σ·dy (statistics frozen)"
    for axis, values, title in ((axes[0], dx, "∂L/∂x by autograd"),
                                (axes[1], formula, label)):
        image = axis.imshow(values.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("feature")
        figure.colorbar(image, ax=axis, shrink=0.7)
    axes[0].set_ylabel("sample")
    difference = (dx - formula).abs().clamp(min=1e-18).log10()
    image = axes[2].imshow(difference.numpy(), cmap="magma", vmin=-18, vmax=1, aspect="auto")
    axes[2].set_title(f"log₁₀|difference| (tolerance {tolerance:.0e})", fontsize=9)
    axes[2].set_xlabel("feature")
    figure.colorbar(image, ax=axes[2], shrink=0.7, label="log₁₀ |autograd − formula|")
    axis = axes[3]
    axis.scatter(dx.flatten().numpy(), formula.flatten().numpy(), s=14, color=MEASURED, label=label)
    if through_statistics:
        axis.scatter(dx.flatten().numpy(), frozen.flatten().numpy(), s=14, color=OTHER, marker="^",
                     label="γ/σ·dy (statistics frozen)")
    span = float(torch.cat([dx.flatten(), frozen.flatten()]).abs().max())
    axis.plot([-span, span], [-span, span], color=THEORY, linestyle="--", label="equal")
    axis.set_xlabel("∂L/∂x by autograd")
    axis.set_ylabel("formula")
    axis.legend(fontsize=7, loc="upper left")
    figure.suptitle("BN backward in training mode: the closed form matches autograd; "
                    "frozen statistics do not")
    return figure
