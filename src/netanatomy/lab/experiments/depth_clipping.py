"""Gradient clipping: ``clip_grad_norm_`` rescales the whole gradient (same direction,
norm max_norm); ``clip_grad_value_`` clamps each component and turns it."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, at_least, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

TORCH_EPS = 1e-6
"""clip_grad_norm_ scales by max_norm / (‖g‖ + 1e-6)."""
ROUNDING = 1e-12


@experiment("gradient-clipping", topic="depth",
            title="Clipping by norm keeps the gradient's direction",
            claim="clip_grad_norm_ multiplies every gradient by max_norm/‖g‖ when ‖g‖ > "
                  "max_norm: the direction is kept (cosine 1) and the norm becomes max_norm; "
                  "a gradient below max_norm is left alone. Clipping each component by value "
                  "changes the direction.",
            setting="MLP 8→16→4 (float64), MSE on 32 samples; max_norm = ‖g‖/4")
def gradient_clipping(method: str = "norm", fraction: float = 0.25, seed: int = 0
                      ) -> Outcome:
    if method not in ("norm", "value"):
        raise UsageError(f"lab gradient-clipping: method={method!r}; use norm or value")
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    x = torch.randn(32, 8, generator=generator, dtype=torch.float64)
    target = torch.randn(32, 4, generator=generator, dtype=torch.float64)
    F.mse_loss(model(x), target).backward()
    original = flat_grad(model)
    total = math.sqrt(sum(float(v) ** 2 for v in original))        # by hand, in Python
    max_norm = fraction * total
    clipped, value_limit = clip(model, original, method, max_norm)
    cosine = float(F.cosine_similarity(clipped, original, dim=0))
    below, _ = clip(model, original, method, 2 * total)          # a limit above ‖g‖
    checks = [
        at_least(f"clip by {method}: cosine(clipped, original)", cosine, 1.0,
                 atol=ROUNDING, reason="a positive rescaling keeps the direction; float64"),
        close(f"clip by {method}: ‖clipped‖", float(clipped.norm()), max_norm,
              rtol=TORCH_EPS / total + ROUNDING,
              reason="torch divides by ‖g‖ + 1e-6; float64 rounding"),
        close(f"clip by {method}: max |clipped − g·max_norm/(‖g‖ + 1e-6)|",
              float((clipped - original * (max_norm / (total + TORCH_EPS))).abs().max()),
              0.0, atol=ROUNDING * float(original.abs().max()),
              reason="torch's scaling written out by hand; float64 rounding"),
        equal(f"clip by {method} at limit 2‖g‖: max |change|",
              float((below - original).abs().max()), 0.0,
              reason="below the limit the gradient is untouched"),
    ]
    figure = draw(original, clipped, method, max_norm / (total + TORCH_EPS), value_limit)
    return Outcome(checks, figure, data={
        "method": method, "total_norm": total, "max_norm": max_norm, "cosine": cosine,
        "clipped_norm": float(clipped.norm())})


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()
                      if p.grad is not None]).clone()


def clip(model: nn.Module, original: torch.Tensor, method: str, max_norm: float
         ) -> tuple[torch.Tensor, float]:
    """The gradient after torch's clipping by norm (``max_norm``) or by value (the limit
    that keeps the clipped norm nearest ``max_norm``'s role: the median |g_i| scaled)."""
    restore(model, original)
    if method == "norm":
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        return flat_grad(model), math.nan
    limit = value_limit_for(original, max_norm)
    nn.utils.clip_grad_value_(model.parameters(), limit)
    return flat_grad(model), limit


def value_limit_for(gradient: torch.Tensor, max_norm: float) -> float:
    """The per-component limit c with ‖clamp(g, −c, c)‖ = max_norm (bisection), so both
    methods bring the gradient to the same norm and differ only in direction."""
    low, high = 0.0, float(gradient.abs().max())
    for _ in range(60):                 # 60 halvings: below float64's resolution
        middle = (low + high) / 2
        if float(gradient.clamp(-middle, middle).norm()) < max_norm:
            low = middle
        else:
            high = middle
    return high


def restore(model: nn.Module, flat: torch.Tensor) -> None:
    offset = 0
    for parameter in model.parameters():
        count = parameter.numel()
        parameter.grad = flat[offset:offset + count].view_as(parameter).clone()
        offset += count


def draw(original: torch.Tensor, clipped: torch.Tensor, method: str, coefficient: float,
         limit: float) -> object:
    figure, (axis,) = new_figure()
    span = float(original.abs().max())
    axis.plot(original, clipped, "o", markersize=3, color=MEASURED,
              label=f"clipped by {method}")
    axis.plot([-span, span], [-coefficient * span, coefficient * span], "-", color=THEORY,
              label=f"g · max_norm/‖g‖ = {coefficient:.3g} g (keeps direction)")
    if not math.isnan(limit):
        axis.axhline(limit, color=OTHER, linestyle=":", label=f"± value limit {limit:.3g}")
        axis.axhline(-limit, color=OTHER, linestyle=":")
    axis.set_xlabel("gradient component g_i")
    axis.set_ylabel("clipped component")
    axis.set_title("By norm: one scale, same direction" if method == "norm"
                   else "By value: components clamped, direction turns")
    axis.legend(fontsize=8)
    return figure
