"""Batch norm in training mode is invariant to scaling the weights (or the input) before
it by α > 0, up to a deviation of order ε that vanishes as ε → 0; with running statistics
(eval mode) it is not invariant at all."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from netanatomy.errors import UsageError
from netanatomy.lab.base import Outcome, at_most, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64
ALPHAS = (0.5, 0.9, 10.0)
LIMIT_EPS = 1e-30
"""ε → 0 stand-in: torch's batch norm needs ε > 0; ε/v ≈ 1e-30 is far below rounding."""


def batch_norm(z: torch.Tensor, eps: float, mode: str,
               running: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """BN (γ = 1, β = 0) of ``z``: batch statistics (train) or the given running ones."""
    if mode == "train":
        return F.batch_norm(z, None, None, training=True, eps=eps)
    return F.batch_norm(z, running[0], running[1], training=False, eps=eps)


def deviation_theory(z: torch.Tensor, alpha: float, eps: float) -> float:
    """max |BN(αz) − BN(z)| in training mode, in closed form: per channel
    (z − μ)·|α/√(α²v + ε) − 1/√(v + ε)| with μ, v the biased batch statistics; for
    small ε ≈ |ẑ|·ε/(2v)·|1 − 1/α²|."""
    mean = z.mean(dim=(0, 2, 3), keepdim=True)
    var = ((z - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    factor = (alpha / torch.sqrt(alpha**2 * var + eps) - 1 / torch.sqrt(var + eps)).abs()
    return float(((z - mean).abs() * factor).max())


@experiment("bn-scale-invariance", topic="normalisation",
            title="BN(αWx) = BN(Wx) in training mode, exactly only as ε → 0",
            claim="In training mode BN(αWx + b) = BN(Wx + b) for α > 0 up to "
                  "|ẑ|·|√(α²v/(α²v+ε)) − √(v/(v+ε))| ≈ |ẑ|·ε/(2v)·|1 − 1/α²|, which vanishes "
                  "as ε → 0; scaling the input by α is the same; with running statistics "
                  "(eval mode) the output scales with α.",
            setting="conv 3→4, 3×3 on a batch of 8 of 3×7×7, α = 2, ε = 1e-5, float64")
def bn_scale_invariance(alpha: float = 2.0, eps: float = 1e-5, mode: str = "train",
                        batch: int = 8, seed: int = 0) -> Outcome:
    if mode not in ("train", "eval"):
        raise UsageError(f"lab bn-scale-invariance: mode={mode!r}; use train or eval")
    if alpha <= 0:
        raise UsageError(f"lab bn-scale-invariance: alpha={alpha!r}; the claim is for α > 0")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 7, 7, generator=generator, dtype=F64)
    w = torch.randn(4, 3, 3, 3, generator=generator, dtype=F64) / 27**0.5
    b = torch.randn(4, generator=generator, dtype=F64)
    z = F.conv2d(x, w)                                 # Wx without the bias
    plain, scaled = z + b.view(1, -1, 1, 1), alpha * z + b.view(1, -1, 1, 1)
    # Running statistics of the unscaled model, from one pass (torch keeps the unbiased
    # variance there): what eval mode uses.
    running = (plain.mean(dim=(0, 2, 3)), plain.var(dim=(0, 2, 3), unbiased=True))

    def deviation(e: float, a: float = alpha) -> float:
        twin = a * z + b.view(1, -1, 1, 1)
        return float((batch_norm(twin, e, mode, running)
                      - batch_norm(plain, e, mode, running)).abs().max())

    terms = z.numel() // z.shape[1]
    x_hat = float(((z - z.mean(dim=(0, 2, 3), keepdim=True))
                   / z.std(dim=(0, 2, 3), keepdim=True)).abs().max())
    rounding = two_methods(terms, x_hat)
    by_input = F.conv2d(alpha * x, w) + b.view(1, -1, 1, 1)
    checks = [
        close(f"max |BN(αWx+b) − BN(Wx+b)|, α = {alpha:g}, ε = {eps:g}", deviation(eps),
              deviation_theory(z, alpha, eps), atol=rounding,
              reason=reason(terms, "entries in each channel's statistics")),
        at_most(f"max |BN(αWx+b) − BN(Wx+b)| as ε → 0 (ε = {LIMIT_EPS:g})",
                deviation(LIMIT_EPS), rounding, reason="the ε-term is 1e-30 relative: "
                + reason(terms, "entries") + " is all that is left"),
        close("max |BN(W(αx)+b) − BN(αWx+b)| (input scaled instead)",
              float((batch_norm(by_input, eps, mode, running)
                     - batch_norm(scaled, eps, mode, running)).abs().max()), 0.0,
              atol=rounding, reason="conv is linear: " + reason(27, "products")),
    ]
    epsilons = [10.0**k for k in range(-16, 1)]
    curves = {a: [deviation(e, a) for e in epsilons] for a in ALPHAS}
    theory = {a: [deviation_theory(z, a, e) for e in epsilons] for a in ALPHAS}
    figure = draw(epsilons, curves, theory, rounding, mode)
    data: dict[str, Any] = {"epsilons": epsilons,
                            "measured": {str(a): v for a, v in curves.items()},
                            "theory": {str(a): v for a, v in theory.items()},
                            "rounding": rounding, "mode": mode}
    var = z.var(dim=(0, 2, 3), unbiased=False)
    notes = [f"smallest channel variance v = {float(var.min()):.3g}: at ε = {eps:g} the "
             f"first-order size max|ẑ|·ε/(2v)·|1 − 1/α²| is at most "
             f"{x_hat * eps / (2 * float(var.min())) * abs(1 - alpha**-2):.3g}"]
    if mode == "eval":
        notes.append("eval mode: y = (αWx + b − μ_run)/√(v_run + ε) grows with α")
    return Outcome(checks, figure, data=data, notes=notes)


def draw(epsilons: list[float], curves: dict[float, list[float]],
         theory: dict[float, list[float]], rounding: float, mode: str) -> Any:
    figure, (axis,) = new_figure(width=6.4, height=4.2)
    markers = {0.5: "o", 0.9: "s", 10.0: "^"}
    for alpha in ALPHAS:
        axis.plot(epsilons, [max(v, 1e-18) for v in curves[alpha]], markers[alpha],
                  color=MEASURED if mode == "train" else OTHER,
                  label=f"measured ({mode}), α = {alpha:g}")
        axis.plot(epsilons, [max(v, 1e-18) for v in theory[alpha]], color=THEORY,
                  linewidth=1)
    axis.plot([], [], color=THEORY, label="closed form |z − μ|·|α/√(α²v+ε) − 1/√(v+ε)|")
    axis.axhline(rounding, color="0.5", linestyle=":", label="float64 rounding bound")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("ε of the batch norm")
    axis.set_ylabel("max |BN(αWx + b) − BN(Wx + b)|")
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title("Train mode: the deviation is O(ε) and vanishes as ε → 0"
                   if mode == "train" else "Eval mode (running statistics): no invariance",
                   fontsize=10)
    return figure
