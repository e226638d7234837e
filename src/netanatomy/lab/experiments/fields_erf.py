"""Receptive field vs effective receptive field (Luo et al. 2016): in a stack of L 3 × 3
convs the field grows as 2L + 1, but the gradient mass concentrates in a Gaussian-like
blob whose width grows only as √L. For non-negative kernels the normalised gradient mass is
the L-fold convolution of the normalised kernels — the law of a sum of independent tap
offsets — so its variance is exactly the sum of the layers' tap variances."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

import netanatomy
from netanatomy.diagnostics.erf import effective_receptive_field
from netanatomy.diagnostics.measured_rf import measure_receptive_field
from netanatomy.errors import CaptureError, UsageError
from netanatomy.lab.base import Check, Outcome, at_least, at_most, close, equal, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64


def stack(depth: int, weights: str, generator: torch.Generator) -> nn.Sequential:
    """``depth`` 3 × 3 convs, one channel, valid padding, no bias, no activation (Luo's
    linear setting). ``uniform``: every tap 1/9; ``random``: taps uniform in [0.5, 1.5);
    ``signed``: standard normal taps (the failing premise: the mass is no longer a
    convolution of probability kernels)."""
    layers = [nn.Conv2d(1, 1, 3, bias=False) for _ in range(depth)]
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for layer in layers:
            if weights == "uniform":
                layer.weight.fill_(1 / 9)
            elif weights == "random":
                layer.weight.copy_(0.5 + torch.rand(1, 1, 3, 3, generator=generator,
                                                    dtype=F64))
            elif weights == "signed":
                layer.weight.copy_(torch.randn(1, 1, 3, 3, generator=generator, dtype=F64))
            else:
                raise UsageError(f"lab rf-vs-erf: weights={weights!r} is not uniform, random "
                                 "or signed")
    return model


def tap_variance(kernel: torch.Tensor) -> float:
    """Variance of the row offset of a tap drawn with probability ∝ |weight| (the kernel's
    row marginal as a distribution; the gradient flips the kernel, which keeps it)."""
    mass = kernel.abs().sum(dim=1)
    mass = mass / mass.sum()
    offsets = torch.arange(len(mass), dtype=F64)
    mean = float((mass * offsets).sum())
    return float((mass * (offsets - mean) ** 2).sum())


def marginal_std(heatmap: np.ndarray) -> float:
    """Standard deviation (pixels) of the heatmap's row marginal."""
    mass = heatmap.sum(axis=1)
    mass = mass / mass.sum()
    rows = np.arange(len(mass))
    mean = float(mass @ rows)
    return math.sqrt(float(mass @ (rows - mean) ** 2))


def analysed_field(model: nn.Module, size: int) -> int:
    """netanatomy's computed receptive field of the whole stack (pixels per axis)."""
    field = netanatomy.analyze(model, (1, 1, size, size), dtype=F64).layers[0].rf
    if field is None:
        raise CaptureError("netanatomy's analysis found no receptive field for the stack")
    return int(field.size[0])


@experiment("rf-vs-erf", topic="fields",
            title="Receptive field vs effective receptive field",
            claim="A stack of L 3 × 3 convs has receptive field 2L + 1, but its effective "
                  "field (where the gradient mass lies) is Gaussian-like with standard "
                  "deviation √(Σ_l σ_l²) ∝ √L (σ_l² the variance of layer l's taps), so the "
                  "ERF is a shrinking fraction of the RF.",
            setting="linear stacks of 1-channel 3 × 3 convs, depths 1, 2, 4, 8, 16, 32, "
                    "positive random weights, input 2·32 + 11 pixels square")
def rf_vs_erf(depths: tuple[int, ...] = (1, 2, 4, 8, 16, 32), weights: str = "random",
              fraction: float = 0.95, seed: int = 0) -> Outcome:
    """``weights="signed"`` (normal taps of both signs) breaks the premise of the exact
    variance law."""
    if not depths or min(depths) < 1:
        raise UsageError(f"lab rf-vs-erf: depths={depths} must be positive")
    size = 2 * max(depths) + 11
    generator = torch.Generator().manual_seed(seed)
    rows: list[dict[str, float]] = []
    all_variances: list[float] = []
    deepest_heatmap = np.zeros((1, 1))
    for depth in depths:
        model = stack(depth, weights, generator)
        variances = [tap_variance(layer.weight[0, 0].detach()) for layer in model
                     if isinstance(layer, nn.Conv2d)]
        all_variances += variances
        x = 0.5 + torch.rand(1, 1, size, size, generator=generator, dtype=F64)
        field = effective_receptive_field(model, (x,), path="", fraction=fraction)
        rows.append({
            "depth": depth,
            "rf_analyze": analysed_field(model, size),
            "rf_measured": measure_receptive_field(model, (1, 1, size, size)).size[0],
            "erf_std": marginal_std(field.heatmap), "erf_window": field.size[0],
            "theory_std": math.sqrt(sum(variances))})
        deepest_heatmap = field.heatmap
    checks = build_checks(rows, all_variances, fraction)
    figure = draw(rows, deepest_heatmap, fraction)
    low, high = math.sqrt(min(all_variances)), math.sqrt(max(all_variances))
    return Outcome(checks, figure, data={"rows": rows},
                   notes=[f"ERF std / √L stays in [σ_min, σ_max] = [{low:.3f}, {high:.3f}] "
                          "pixels; RF/L → 2"])


def build_checks(rows: list[dict[str, float]], variances: list[float],
                 fraction: float) -> list[Check]:
    depths = [int(r["depth"]) for r in rows]
    error = max(abs(r["erf_std"] / r["theory_std"] - 1) for r in rows)
    scaled = [r["erf_std"] / math.sqrt(r["depth"]) for r in rows]
    deepest = rows[-1]
    sigma = deepest["theory_std"]
    chebyshev = 2 * math.ceil(sigma / math.sqrt(1 - fraction) + 0.5) + 1
    return [
        equal("netanatomy.analyze rf per depth", [int(r["rf_analyze"]) for r in rows],
              [2 * d + 1 for d in depths], reason="1 + Σ (3 − 1) = 2L + 1"),
        equal("measure_receptive_field per depth", [int(r["rf_measured"]) for r in rows],
              [2 * d + 1 for d in depths], reason="2L + 1"),
        close("max relative error of ERF std vs √(Σ σ_l²)", error, 0.0, atol=1e-9,
              reason="exact for non-negative kernels (variance of a sum of independent "
                     "offsets); float64 rounding"),
        at_least("min over depths of ERF std / √L", min(scaled), math.sqrt(min(variances)),
                 atol=1e-9, reason="Σ σ_l² ≥ L·σ_min² (√L growth, lower bound)"),
        at_most("max over depths of ERF std / √L", max(scaled), math.sqrt(max(variances)),
                atol=1e-9, reason="Σ σ_l² ≤ L·σ_max² (√L growth, upper bound)"),
        at_most(f"ERF {fraction:.0%} window at depth {int(deepest['depth'])}",
                deepest["erf_window"], chebyshev,
                reason=f"Chebyshev: ≥ {fraction:.0%} of the mass within σ/√(1 − {fraction:g}) "
                       "of its mean (+½ for the rounded centre)"),
        at_most(f"ERF {fraction:.0%} window vs RF − 2 at depth {int(deepest['depth'])}",
                deepest["erf_window"], deepest["rf_analyze"] - 2,
                reason="strictly inside the receptive field (both widths are odd)"),
    ]


def draw(rows: list[dict[str, float]], heatmap: np.ndarray, fraction: float) -> object:
    figure, (left, right) = new_figure(2, 1, width=4.8)
    depths = np.array([r["depth"] for r in rows])
    fine = np.linspace(depths.min(), depths.max(), 200)
    scale = float(np.mean([r["theory_std"] / math.sqrt(r["depth"]) for r in rows]))
    z = {0.95: 1.959964}.get(fraction, math.sqrt(2) * float(
        torch.erfinv(torch.tensor(fraction, dtype=F64))))
    left.plot(fine, 2 * fine + 1, color=THEORY, linestyle="--", label="RF = 2L + 1")
    left.scatter(depths, [r["rf_analyze"] for r in rows], color=THEORY, marker="s",
                 label="RF, netanatomy.analyze")
    left.plot(fine, 2 * z * scale * np.sqrt(fine) + 1, color=OTHER, linestyle=":",
              label=f"Gaussian {fraction:.0%} width 2·{z:.2f}·σ̄√L + 1")
    left.plot(depths, [r["erf_window"] for r in rows], color=MEASURED, marker="o",
              label=f"ERF {fraction:.0%} window (measured)")
    left.plot(depths, [r["erf_std"] for r in rows], color=MEASURED, marker="^",
              linestyle="-.", label="ERF std (measured)")
    left.plot(fine, scale * np.sqrt(fine), color=THEORY, linestyle=":",
              label="theory std √(Σσ_l²) ≈ σ̄√L")
    left.set_xscale("log", base=2)
    left.set_yscale("log", base=2)
    left.set_xlabel("depth L (3×3 conv layers)")
    left.set_ylabel("width (pixels)")
    left.legend(fontsize=7)
    left.set_title("RF grows like L, ERF like √L", fontsize=10)
    mass = heatmap.sum(axis=1)
    offsets = np.arange(len(mass)) - float(mass @ np.arange(len(mass)))
    sigma = rows[-1]["theory_std"]
    right.bar(offsets, mass, width=1.0, color=MEASURED, alpha=0.6, label="gradient mass (rows)")
    grid = np.linspace(offsets.min(), offsets.max(), 400)
    right.plot(grid, np.exp(-grid**2 / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi)),
               color=THEORY, label=f"N(0, σ² = Σσ_l² = {sigma**2:.2f})")
    half = (2 * rows[-1]["depth"] + 1) / 2
    right.axvspan(-half, half, color="0.92", zorder=0, label="receptive field")
    right.set_xlabel("row offset from the centre (pixels)")
    right.set_ylabel("share of |gradient|")
    right.legend(fontsize=7)
    right.set_title(f"Depth {int(rows[-1]['depth'])}: a Gaussian inside the RF", fontsize=10)
    return figure
