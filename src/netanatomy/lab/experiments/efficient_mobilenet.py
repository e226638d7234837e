"""MobileNet v1's width multiplier α and resolution multiplier ρ: the built-in spec swept
over α × input size by netanatomy, against an exact hand count of Table 1 and the
paper's published totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from netanatomy import spec
from netanatomy.analysis.sweep import sweep
from netanatomy.frontends.spec import spec_graph
from netanatomy.lab.base import Check, Outcome, close, equal, experiment
from netanatomy.lab.experiments._efficient import built_params, exact
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure, verdict_title

TARGET = "example:mobilenet-v1"
BASE = 224
"""The input size at ρ = 1."""
FIRST, CLASSES = 32, 1000
"""The first conv's width (3×3, stride 2, on RGB) and the classifier's outputs."""
TABLE_1 = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), *((1, 512),) * 5,
           (2, 1024), (1, 1024))
"""(stride, output channels) of the 13 depthwise-separable blocks (Howard et al. 2017,
Table 1; its last "dw/s2" is stride 1 in every implementation, as 7×7 stays 7×7)."""
PUBLISHED = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}
"""α → (millions of mult-adds, millions of parameters) at 224 (Howard et al. 2017, Table
6; α = 1 is also Table 4's MobileNet row), rounded to 1 M and 0.1 M."""


def width(channels: int, alpha: Fraction) -> int:
    """α·channels rounded to the nearest integer, halves up (the spec's multiplier rule)."""
    return int(channels * alpha + Fraction(1, 2))


def halved(size: int, stride: int) -> int:
    """Output size of a 3×3 conv with padding 1: floor((size + 2 − 3)/stride) + 1."""
    return (size - 1) // stride + 1


def hand_count(alpha: Fraction, resolution: int) -> tuple[int, int, int]:
    """(params, MACs, pointwise params) of Table 1 at width α and input ``resolution``,
    layer by layer: conv weights k²·C_in·C_out (no biases), BN γ and β per channel, a MAC
    per weight per output position, and the classifier C·1000 + 1000 on pooled features."""
    size, c = halved(resolution, 2), width(FIRST, alpha)
    params, macs, pointwise = 3 * 9 * c + 2 * c, size * size * 3 * 9 * c, 0
    for stride, out in TABLE_1:
        o, size = width(out, alpha), halved(size, stride)
        params += 9 * c + 2 * c + c * o + 2 * o       # depthwise 3×3, BN, pointwise, BN
        macs += size * size * (9 * c + c * o)
        pointwise += c * o
        c = o
    return params + c * CLASSES + CLASSES, macs + c * CLASSES, pointwise


def layer_counts(alpha: float) -> tuple[int, int]:
    """netanatomy's pointwise-conv params (the ``.3`` conv of every dw_pw block) and the
    classifier's MACs at width ``alpha``, ρ = 1."""
    report = spec.analyze(TARGET, {"alpha": alpha, "rho": 1})
    pointwise = sum(int(row.params) for row in report.layers
                    if row.type == "Conv2d" and row.path.endswith(".3"))
    classifier = [row for row in report.layers if row.type == "Linear"]
    return pointwise, int(classifier[0].macs or 0)


def grid(alphas: Sequence[float], resolutions: Sequence[int]
         ) -> dict[tuple[float, int], tuple[int, int]]:
    """(α, input size) → (params, MACs) from netanatomy's sweep of the spec over α and ρ =
    size/224 (ρ = 1 always included, the base of the ρ² check)."""
    sizes = sorted({BASE, *resolutions}, reverse=True)
    loaded = spec.load(TARGET)
    result = sweep(TARGET, lambda values: spec_graph(loaded, values), {},
                   {"alpha": list(alphas), "rho": [size / BASE for size in sizes]})
    points = {}
    for point, (alpha, size) in zip(result.points, ((a, s) for a in alphas for s in sizes)):
        points[(alpha, size)] = (int(point.totals.params), int(point.totals.macs or 0))
    return points


def rho_deviation(points: Mapping[tuple[float, int], tuple[int, int]],
                  classifier: Mapping[float, int]) -> Fraction:
    """Largest |(MACs − FC) − ρ²·(MACs at 224 − FC)| over the grid, in MACs: the convs'
    MACs scale by ρ² when every feature map scales by ρ; the classifier's do not."""
    worst = Fraction(0)
    for (alpha, size), (_, macs) in points.items():
        base = points[(alpha, BASE)][1] - classifier[alpha]
        scaled = Fraction(size, BASE) ** 2 * base
        worst = max(worst, abs(macs - classifier[alpha] - scaled))
    return worst


@experiment("mobilenet-multipliers", topic="efficient",
            title="MobileNet's α and ρ: MACs ≈ α²ρ², params ≈ α²",
            claim="A width multiplier α scales the pointwise convs' weights by α² exactly "
                  "(the depthwise, BN, first-conv and classifier weights only by α), and a "
                  "resolution multiplier ρ scales every conv's MACs by ρ² exactly when all "
                  "feature-map sizes scale by ρ, leaving params unchanged; at α = 1, 224 px "
                  "MobileNet v1 has 569 M mult-adds and 4.2 M params (Howard et al. 2017).",
            setting="example:mobilenet-v1, α ∈ {1, 0.75, 0.5, 0.25}, input 224, 192, 160, "
                    "128 (ρ = 1, 6/7, 5/7, 4/7); published totals from Table 6")
def mobilenet_multipliers(alphas: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25),
                          resolutions: tuple[int, ...] = (224, 192, 160, 128)) -> Outcome:
    points = grid(sorted({1.0, *alphas}, reverse=True), resolutions)
    layers = {alpha: layer_counts(alpha) for alpha in {1.0, *alphas}}
    hand = {key: hand_count(exact(key[0]), key[1]) for key in points}
    pointwise_gap = max(abs(layers[a][0] - exact(a) ** 2 * layers[1.0][0]) for a in alphas)
    params_by_alpha = {a: {points[(a, s)][0] for s in resolutions} for a in alphas}
    checks: list[Check] = [
        equal("params per α at 224 = hand count of Table 1",
              [points[(a, BASE)][0] for a in alphas], [hand[(a, BASE)][0] for a in alphas],
              reason="integer counts"),
        equal("largest |MACs − hand count| over the grid",
              max(abs(points[k][1] - hand[k][1]) for k in points), 0,
              reason="integer counts"),
        equal("pointwise params: largest |P(α) − α²·P(1)|", str(pointwise_gap), "0",
              reason="exact: each 1×1 conv has αC_in·αC_out weights"),
        equal("params independent of ρ (distinct counts per α)",
              [len(params_by_alpha[a]) for a in alphas], [1] * len(alphas),
              reason="convs share weights over positions; the classifier sees pooled features"),
        equal("largest |(MACs − FC) − ρ²·(MACs₂₂₄ − FC)| over the grid",
              str(rho_deviation(points, {a: layers[a][1] for a in layers})), "0",
              reason="exact rationals; needs every map to scale by ρ: sizes multiples of "
                     "32 (five stride-2 layers)"),
        equal("params at α=1 = built module's p.numel()", points[(1.0, BASE)][0],
              built_params(TARGET), reason="torch's parameter tensors, counted apart"),
    ]
    for alpha, (mult_adds, params) in PUBLISHED.items():
        params_224, macs_224 = points.get((alpha, BASE)) or published_point(alpha)
        checks += [
            close(f"mult-adds at α={alpha:g}, 224 (Table 6), millions", macs_224 / 1e6,
                  mult_adds, atol=0.5, reason="the paper rounds to whole millions"),
            close(f"params at α={alpha:g}, 224 (Table 6), millions", params_224 / 1e6, params,
                  atol=0.05, reason="the paper rounds to 0.1 M"),
        ]
    ratios = {a: points[(a, BASE)][0] / (float(exact(a)) ** 2 * points[(1.0, BASE)][0])
              for a in alphas}
    figure = draw(points, alphas, resolutions, checks)
    return Outcome(checks, figure, data={
        "alphas": list(alphas), "resolutions": list(resolutions),
        "params": {f"{a:g}": points[(a, BASE)][0] for a in alphas},
        "macs": {f"{a:g}@{s}": points[(a, s)][1] for a in alphas for s in resolutions},
        "params_over_alpha2": {f"{a:g}": round(r, 4) for a, r in ratios.items()}},
        notes=[f"α=1, 224: {points[(1.0, BASE)][1]:,} MACs, {points[(1.0, BASE)][0]:,} "
               "params (BN γ, β included; conv weights and FC alone "
               f"{points[(1.0, BASE)][0] - bn_params(Fraction(1)):,})",
               "params(α) / (α²·params(1)): " + ", ".join(
                   f"α={a:g}: {r:.3f}" for a, r in ratios.items())
               + " (the classifier's 1024α·1000 weights and the depthwise/BN weights scale "
                 "with α, not α²)",
               "MACs − FC scale by ρ² exactly for inputs that are multiples of 32; the FC's "
               "1024α·1000 MACs do not scale with ρ"])


def published_point(alpha: float) -> tuple[int, int]:
    """netanatomy's (params, MACs) at width α, 224 px (a Table 6 row outside the grid)."""
    totals = spec.analyze(TARGET, {"alpha": alpha, "rho": 1}).totals
    return int(totals.params), int(totals.macs or 0)


def bn_params(alpha: Fraction) -> int:
    """γ and β of every BN: two per channel of the first conv and of each block's
    depthwise (C_in) and pointwise (C_out) outputs."""
    channels, c = width(FIRST, alpha), width(FIRST, alpha)
    for _, out in TABLE_1:
        o = width(out, alpha)
        channels, c = channels + c + o, o
    return 2 * channels


def draw(points: Mapping[tuple[float, int], tuple[int, int]], alphas: Sequence[float],
         resolutions: Sequence[int], checks: list[Check]) -> Any:
    figure, (left, right) = new_figure(2, 1, width=5.0, height=3.9)
    for size in resolutions:
        left.plot([points[(a, size)][0] / 1e6 for a in alphas],
                  [points[(a, size)][1] / 1e6 for a in alphas], color=OTHER, linewidth=0.6,
                  linestyle=":", label="same input size" if size == resolutions[0] else None)
    shades = [MEASURED, "#54aeff", "#0a3069", "#8c959f", "#bf8700", "#1a7f37"]
    for index, alpha in enumerate(alphas):
        xs = [points[(alpha, s)][0] / 1e6 for s in resolutions]
        ys = [points[(alpha, s)][1] / 1e6 for s in resolutions]
        left.plot(xs, ys, "o-", color=shades[index % len(shades)], label=f"α={alpha:g}")
        for x, y, size in zip(xs, ys, resolutions):
            left.annotate(str(size), (x, y), fontsize=6, xytext=(4, -2),
                          textcoords="offset points")
    left.scatter([p for _, p in PUBLISHED.values()], [m for m, _ in PUBLISHED.values()],
                 marker="x", s=60, color=THEORY, zorder=3, label="paper, Table 6 (224)")
    plain_log_axes(left)
    left.set_xlabel("parameters (millions)")
    left.set_ylabel("multiply-adds (millions)")
    left.set_title("netanatomy over α and input size", fontsize=10)
    left.legend(fontsize=7, loc="upper left")
    base = points[(1.0, BASE)][1]
    products = [float(exact(a)) ** 2 * (s / BASE) ** 2 for a in alphas for s in resolutions]
    relative = [points[(a, s)][1] / base for a in alphas for s in resolutions]
    right.plot([min(products) * 0.8, 1.2], [min(products) * 0.8, 1.2], color=THEORY,
               label="α²ρ²")
    right.plot(products, relative, "o", color=MEASURED, label="MACs / MACs(α=1, 224)")
    right.set_xlabel("α²ρ²")
    right.set_ylabel("relative multiply-adds")
    right.set_title("MACs ≈ α²ρ² (first conv, depthwise, FC deviate)", fontsize=10)
    right.legend(fontsize=7, loc="upper left")
    right.grid(color=OTHER, alpha=0.2)
    plain_log_axes(right)
    verdict_title(figure, "MobileNet v1: cost falls as α²ρ², params as ≈ α²",
                  all(check.passed for check in checks))
    return figure


def plain_log_axes(axis: Any) -> None:
    """Log–log axes labelled with plain numbers (0.5, 2, 300), not powers of ten."""
    from matplotlib.ticker import FuncFormatter

    axis.set_xscale("log")
    axis.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    some = FuncFormatter(lambda value, _: f"{value:g}"
                         if f"{value:g}".lstrip("0.")[:1] in ("2", "5") else "")
    for scale in (axis.xaxis, axis.yaxis):
        scale.set_major_formatter(plain)
        scale.set_minor_formatter(some)
    axis.tick_params(which="both", labelsize=7)
