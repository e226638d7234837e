"""A bias right before batch norm is wasted: the norm subtracts each channel's mean, so
the output does not depend on the bias and its gradient is zero; β takes its role."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, at_least, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64
NORMS = ("batch", "instance", "group", "none")


def make_norm(norm: str, channels: int, groups: int) -> nn.Module:
    """The layer after the conv (affine, float64)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels, dtype=F64)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True, dtype=F64)
    if norm == "group":
        return nn.GroupNorm(groups, channels, dtype=F64)
    return nn.Identity()


def gradients(norm: str, x: torch.Tensor, target: torch.Tensor, shift: torch.Tensor,
              groups: int, seed: int) -> dict[str, Any]:
    """conv(bias) → norm → MSE: the bias's gradient by autograd, ∂L/∂z (z the conv output)
    and the output's change when the bias moves by ``shift``."""
    channels = len(shift)
    conv = nn.Conv2d(x.shape[1], channels, 3, padding=1, dtype=F64)
    bias = conv.bias
    assert bias is not None
    weights = torch.Generator().manual_seed(seed + 1)   # the same conv for every norm
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=weights, dtype=F64)
                          / (x.shape[1] * 9) ** 0.5)
        bias.copy_(torch.randn(channels, generator=weights, dtype=F64))
    layer = make_norm(norm, channels, groups)
    z = conv(x)
    z.retain_grad()
    out = layer(z)
    F.mse_loss(out, target).backward()
    assert bias.grad is not None and z.grad is not None
    with torch.no_grad():
        moved = layer(z + shift.view(1, -1, 1, 1))
    beta = getattr(layer, "bias", None)
    return {"bias_grad": bias.grad.detach(), "dz": z.grad.detach(),
            "out": out.detach(), "moved": moved, "z": z.detach(),
            "beta_grad": None if beta is None or beta.grad is None else beta.grad.detach()}


@experiment("bias-before-bn", topic="normalisation",
            title="A bias before batch norm gets zero gradient",
            claim="In conv(+bias) → BatchNorm the bias cancels with the batch mean: the "
                  "output does not depend on it and ∂L/∂b = Σ ∂L/∂z over (N, H, W) = 0; "
                  "BN's β takes its role. InstanceNorm removes it too; GroupNorm only its "
                  "mean per group; with no norm the bias learns.",
            setting="conv 3→6, 3×3, padding 1, a batch of 8 of 3×6×6, MSE to a random "
                    "target, float64")
def bias_before_bn(norm: str = "batch", channels: int = 6, groups: int = 2,
                   batch: int = 8, size: int = 6, seed: int = 0) -> Outcome:
    if norm not in NORMS:
        raise UsageError(f"lab bias-before-bn: norm={norm!r}; use one of {', '.join(NORMS)}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=generator, dtype=F64)
    target = torch.randn(batch, channels, size, size, generator=generator, dtype=F64)
    shift = torch.randn(channels, generator=generator, dtype=F64) * 10
    runs = {name: gradients(name, x, target, shift, groups, seed) for name in NORMS}
    chosen = runs[norm]
    terms = batch * size * size
    # ∂L/∂b_c = Σ_(n,h,w) ∂L/∂z: an M-term sum that cancels exactly; its rounding is at
    # most γ_M·Σ|∂L/∂z| (plus as much again from the norm's backward that made the terms).
    scale = float(chosen["dz"].abs().sum(dim=(0, 2, 3)).max())
    bias_bound = two_methods(terms, scale)
    # Moving b by Δ moves μ by Δ: x̂ changes by rounding of (z + Δ − μ) only, an M-term
    # mean of entries up to max|z + Δ|, relative to the channel's std.
    moved_z = chosen["z"] + shift.view(1, -1, 1, 1)
    spread = float(moved_z.abs().max() / chosen["z"].std(dim=(0, 2, 3)).min())
    output_bound = two_methods(terms, spread)
    checks = [
        close(f"max |∂L/∂b| (bias before {norm} norm)",
              float(chosen["bias_grad"].abs().max()), 0.0, atol=bias_bound,
              reason=reason(terms, "terms ∂L/∂z that cancel")),
        close(f"max |Δ output| when the bias moves by Δ ~ 10 ({norm})",
              float((chosen["moved"] - chosen["out"]).abs().max()), 0.0,
              atol=output_bound,
              reason=reason(terms, "inputs to the mean") + ", relative to the std"),
        close("∂L/∂b (autograd) = Σ_(n,h,w) ∂L/∂z",
              float((chosen["bias_grad"] - chosen["dz"].sum(dim=(0, 2, 3))).abs().max()),
              0.0, atol=bias_bound, reason=reason(terms, "terms ∂L/∂z")),
    ]
    if chosen["beta_grad"] is not None:
        checks.append(at_least("max |∂L/∂β| / max |∂L/∂b|  (β takes the role)",
                               float(chosen["beta_grad"].abs().max())
                               / max(float(chosen["bias_grad"].abs().max()), 1e-300),
                               1e6, reason="a gradient far above rounding against one at "
                                           "rounding level (6 orders: float64 has 16)"))
    group_sums = runs["group"]["bias_grad"].view(groups, -1).sum(dim=1)
    figure = draw(runs, channels, groups, bias_bound)
    data: dict[str, Any] = {name: [float(v) for v in run["bias_grad"]]
                            for name, run in runs.items()}
    data["group_sums"] = group_sums.tolist()
    notes = [f"GroupNorm({groups}) removes only the bias's mean per group: "
             f"group sums of ∂L/∂b = {', '.join(f'{v:.1e}' for v in group_sums.tolist())}, "
             f"entries up to {float(runs['group']['bias_grad'].abs().max()):.2g}"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw(runs: dict[str, dict[str, Any]], channels: int, groups: int, bound: float) -> Any:
    figure, (axis,) = new_figure(width=7.6, height=3.8)
    width = 0.2
    colours = {"batch": MEASURED, "instance": "#54aeff", "group": "#bf8700", "none": OTHER}
    for k, (name, run) in enumerate(runs.items()):
        values = run["bias_grad"].abs().clamp(min=1e-20).numpy()
        axis.bar([c + (k - 1.5) * width for c in range(channels)], values, width,
                 color=colours[name], label=f"{name} norm" if name != "none" else "no norm")
    axis.axhline(bound, color=THEORY, linestyle="--", label="float64 rounding bound")
    axis.set_yscale("log")
    axis.set_ylim(1e-20, 10.0)
    axis.set_xlabel("channel of the conv's bias")
    axis.set_ylabel("|∂L/∂b_c|  (1e-20 = exactly 0)")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.set_title(f"Bias before BN/IN: zero gradient; GroupNorm({groups}), no norm: "
                   "it learns", fontsize=10)
    return figure
