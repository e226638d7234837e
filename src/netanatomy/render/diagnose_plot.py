"""Diagnostics plots: gradient and activation statistics against depth, and the effective
receptive field's heatmap. PNG only, drawn on a bare ``matplotlib.figure.Figure`` (Agg
canvas, no pyplot state), so nothing global is touched and nothing needs closing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from netanatomy.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from netanatomy.diagnostics.result import (
        DiagnoseReport,
        EffectiveField,
        LayerDiagnostics,
        StepRecord,
        Verdict,
    )

__all__ = ["diagnostics_figure", "effective_field_figure", "plot_diagnostics",
           "plot_effective_field"]

STATUS_COLOURS = {"healthy": "#1a7f37", "vanishing": "#cf222e", "exploding": "#cf222e",
                  "unknown": "#57606a"}
MAX_TICK_LABELS = 48


@dataclass(frozen=True, slots=True)
class WeightPoint:
    """One weight parameter (≥ 2 axes: matrices and kernels) for panel (a)."""

    label: str
    grad_norm: float | None
    grad_to_weight: float | None


def png_target(path: Path | str) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise UsageError(f"plots are written as PNG: {str(target)!r} must end in .png")
    return target


def new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("plots need matplotlib: pip install matplotlib") from None
    return Figure(figsize=(width, height), layout="constrained")


DPI = 110
"""The resolution the diagnostics figures are written at (pixels = inches × DPI)."""


def plot_diagnostics(report: DiagnoseReport, path: Path, title: str | None = None) -> None:
    """Write a PNG: (a) gradient norm and grad/weight ratio of each weight parameter (log
    scales) in layer order; (b) activation mean, std and dead/saturated fraction of each
    leaf layer; (c) the loss per step when the run had several steps. The verdict (status
    and end-to-end gain) is in the title and in a box on panel (a).

    Raises:
        UsageError: ``path`` does not end in ``.png``, or matplotlib is missing.
    """
    target = png_target(path)
    diagnostics_figure(report, title).savefig(target, dpi=DPI)


def diagnostics_figure(report: DiagnoseReport, title: str | None = None) -> Figure:
    """The figure :func:`plot_diagnostics` writes (a bare ``Figure``, not saved)."""
    weights = weight_points(report.layers)
    layers = activation_rows(report.layers)
    panels = 3 if report.steps else 2
    width = min(16.0, max(8.0, 0.22 * max(len(weights), len(layers))))
    figure = new_figure(width, 3.8 * panels + (1.2 if len(weights) <= MAX_TICK_LABELS else 0))
    axes = figure.subplots(panels, 1)
    plot_gradients(axes[0], weights)
    mark_verdict(axes[0], report.verdict)
    plot_activations(axes[1], layers)
    if report.steps:
        plot_losses(axes[2], report.steps, report.loss_name)
    root = report.layers[0].type if report.layers else "model"
    mode = "train" if report.training else "eval"
    heading = title or f"Diagnostics of {root}: {report.loss_name} loss {report.loss:.4g}"
    figure.suptitle(f"{heading}\n{mode} mode on {report.device}, seed {report.seed}",
                    fontsize=11)
    return figure


def qualified(path: str, name: str) -> str:
    """A parameter's full name, whether ``name`` is already full or relative to ``path``."""
    return name if not path or name.startswith(f"{path}.") else f"{path}.{name}"


def weight_points(layers: Sequence[LayerDiagnostics]) -> list[WeightPoint]:
    """Weight parameters in layer order; a parameter listed by a container and by its owner
    is kept once, at the owner (the deepest, hence last, row naming it)."""
    points: dict[str, WeightPoint] = {}
    for row in layers:
        for stats in row.params:
            if len(stats.shape) >= 2:
                label = qualified(row.path, stats.name)
                points.pop(label, None)
                points[label] = WeightPoint(label, stats.grad_norm, stats.grad_to_weight)
    return list(points.values())


def activation_rows(layers: Sequence[LayerDiagnostics]) -> list[LayerDiagnostics]:
    """Leaf layers with activation statistics (a container repeats its last child's)."""
    parents = {row.path.rpartition(".")[0] for row in layers if row.path}
    leaves = [row for row in layers if row.path not in parents or len(layers) == 1]
    return [row for row in leaves if row.act_mean is not None]


def positive(values: Sequence[float | None]) -> list[float]:
    """Values for a log axis: non-positive, missing or non-finite ones become NaN (gaps)."""
    return [v if v is not None and math.isfinite(v) and v > 0 else math.nan for v in values]


def label_layers(axis: Axes, labels: Sequence[str], what: str) -> None:
    axis.set_xlabel(f"{what} in layer order ({len(labels)} in all)")
    if len(labels) <= MAX_TICK_LABELS:
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels(labels, rotation=90, fontsize=7)
    axis.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))


def marker_size(points: int) -> float:
    return 4.0 if points <= MAX_TICK_LABELS else 2.0


def empty_panel(axis: Axes, message: str) -> None:
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes,
              color="#57606a")
    axis.set_xticks([])
    axis.set_yticks([])


def plot_gradients(axis: Axes, weights: Sequence[WeightPoint]) -> None:
    """Panel (a): gradient norm and grad/weight ratio on one log axis."""
    axis.set_title("(a) weight gradients", loc="left", fontsize=10)
    if not weights:
        empty_panel(axis, "no weight parameters (tensors with ≥ 2 axes)")
        return
    xs = list(range(len(weights)))
    norms = positive([w.grad_norm for w in weights])
    ratios = positive([w.grad_to_weight for w in weights])
    size = marker_size(len(xs))
    axis.plot(xs, norms, marker="o", markersize=size, color="C0", label="‖grad‖ (L2 norm)")
    axis.plot(xs, ratios, marker="s", markersize=size - 1, linestyle="--", color="C1",
              label="‖grad‖ / ‖weight‖")
    mark_missing(axis, weights)
    if all(math.isnan(value) for value in norms + ratios):
        axis.set_yticks([])
        axis.set_ylabel("norm / ratio (none finite and positive)")
    else:
        axis.set_yscale("log")
        axis.set_ylabel("norm / ratio (log)")
    axis.legend(fontsize=8, loc="best", framealpha=0.85)
    axis.grid(True, which="major", alpha=0.3)
    label_layers(axis, [w.label for w in weights], "weight parameters")


def mark_missing(axis: Axes, weights: Sequence[WeightPoint]) -> None:
    """Crosses at the bottom for parameters without a (positive) gradient, triangles at the
    top for non-finite ones."""
    bottom = [i for i, w in enumerate(weights)
              if w.grad_norm is None or (math.isfinite(w.grad_norm) and w.grad_norm <= 0)]
    top = [i for i, w in enumerate(weights)
           if w.grad_norm is not None and not math.isfinite(w.grad_norm)]
    transform = axis.get_xaxis_transform()
    if bottom:
        axis.plot(bottom, [0.03] * len(bottom), "x", color="#57606a", transform=transform,
                  label="no or zero gradient")
    if top:
        axis.plot(top, [0.97] * len(top), "^", color="#cf222e", transform=transform,
                  label="non-finite gradient")


def plot_activations(axis: Axes, layers: Sequence[LayerDiagnostics]) -> None:
    """Panel (b): activation mean ± std (left) and dead / saturated fraction (right, bars)."""
    axis.set_title("(b) activations", loc="left", fontsize=10)
    if not layers:
        empty_panel(axis, "no activation statistics")
        return
    xs = np.arange(len(layers))
    means = np.array([row.act_mean for row in layers], dtype=float)
    stds = np.array([math.nan if row.act_std is None else row.act_std for row in layers])
    twin = axis.twinx()
    handles = fraction_bars(twin, layers)
    axis.set_zorder(twin.get_zorder() + 1)     # lines above the bars
    axis.patch.set_visible(False)
    axis.fill_between(xs, means - stds, means + stds, color="C0", alpha=0.15)
    size = marker_size(len(xs))
    handles += axis.plot(xs, means, marker="o", markersize=size, color="C0",
                         label="mean ± std")
    handles += axis.plot(xs, stds, marker="s", markersize=size - 1, color="C2", label="std")
    axis.axhline(0.0, color="#57606a", linewidth=0.8)
    axis.set_ylabel("activation value")
    axis.legend(handles, [str(h.get_label()) for h in handles], fontsize=8, ncol=4,
                loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axis.grid(True, alpha=0.3)
    label_layers(axis, [row.path or "<root>" for row in layers], "leaf layers")


def fraction_bars(axis: Axes, layers: Sequence[LayerDiagnostics]) -> list[Any]:
    """Dead (ReLU family) and saturated (sigmoid / tanh) fractions as bars on ``axis``."""
    handles: list[Any] = []
    for attribute, colour, name in (("dead_fraction", "C3", "dead fraction"),
                                    ("saturated_fraction", "C4", "saturated fraction")):
        points = [(i, getattr(row, attribute)) for i, row in enumerate(layers)
                  if getattr(row, attribute) is not None]
        if points:
            xs, heights = zip(*points)
            handles.append(axis.bar(xs, heights, width=0.6, color=colour, alpha=0.35,
                                    label=name))
    axis.set_ylim(0.0, 1.05)
    axis.set_ylabel("fraction of units (bars)")
    return handles


def plot_losses(axis: Axes, steps: Sequence[StepRecord], loss_name: str) -> None:
    """Panel (c): the loss of each training step (log scale when it spans over 100×);
    non-finite losses as triangles at the top."""
    from matplotlib.ticker import MaxNLocator

    axis.set_title("(c) loss per step", loc="left", fontsize=10)
    finite = [(r.step, r.loss) for r in steps if math.isfinite(r.loss)]
    broken = [r.step for r in steps if not math.isfinite(r.loss)]
    if finite:
        xs, losses = zip(*finite)
        axis.plot(xs, losses, marker=".", color="C0", label=f"{loss_name} loss")
        if min(losses) > 0 and max(losses) > 100 * min(losses):
            axis.set_yscale("log")
    if broken:
        axis.plot(broken, [0.97] * len(broken), "^", color="#cf222e",
                  transform=axis.get_xaxis_transform(), label="non-finite loss")
        axis.legend(fontsize=8, loc="best")
    if not finite:
        axis.set_yticks([])
    if len(steps) == 1:
        axis.set_xlim(steps[0].step - 1, steps[0].step + 1)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("step")
    axis.set_ylabel(f"{loss_name} loss")
    axis.grid(True, alpha=0.3)


def verdict_summary(verdict: Verdict) -> str:
    gain = "unknown" if verdict.gain is None else f"{verdict.gain:.3g}"
    return f"{verdict.status.upper()} (end-to-end gain {gain})"


def mark_verdict(axis: Axes, verdict: Verdict) -> None:
    """The verdict in ``axis``'s title, coloured by status."""
    details = []
    if verdict.bound is not None and verdict.bound_applies:
        details.append(f"product bound {verdict.bound:.3g}")
    if verdict.responsible:
        details.append("responsible: " + ", ".join(verdict.responsible[:3])
                       + (" …" if len(verdict.responsible) > 3 else ""))
    colour = STATUS_COLOURS.get(verdict.status, STATUS_COLOURS["unknown"])
    axis.set_title("\n".join([f"(a) weight gradients: {verdict_summary(verdict)}",
                              *(["; ".join(details)] if details else [])]),
                   loc="left", fontsize=10, color=colour, fontweight="bold")


def plot_effective_field(erf: EffectiveField, path: Path, title: str | None = None) -> None:
    """Write a PNG of the ERF heatmap (a line for 1-D inputs, the central depth slice for
    3-D) with the ERF window and the theoretical field as rectangles about the mass centre,
    zoomed to a margin around the larger of them; coordinates in input pixels.

    Raises:
        UsageError: ``path`` does not end in ``.png``, the field has no heatmap or its axes
            disagree with ``size``, or matplotlib is missing.
    """
    target = png_target(path)
    effective_field_figure(erf, title).savefig(target, dpi=DPI)


def effective_field_figure(erf: EffectiveField, title: str | None = None) -> Figure:
    """The figure :func:`plot_effective_field` writes (a bare ``Figure``, not saved).

    Raises:
        UsageError: the field has no heatmap or its axes disagree with ``size``, or
            matplotlib is missing.
    """
    heatmap = checked_heatmap(erf)
    centre = tuple(mass_centre(heatmap, axis) for axis in range(heatmap.ndim))
    one_d = heatmap.ndim == 1
    figure = new_figure(8.0, 4.0) if one_d else new_figure(7.5, 6.5)
    axis = figure.subplots()
    if one_d:
        draw_profile(axis, heatmap, erf, centre[0])
    else:
        draw_image(figure, axis, heatmap, erf, centre)
    where = erf.path or "the model output"
    axis.set_title(title or f"Effective receptive field of {where}\n"
                   f"at output position {erf.output_position}; the ERF window holds "
                   f"{erf.fraction:.0%} of the |gradient| mass", fontsize=11)
    return figure


def checked_heatmap(erf: EffectiveField) -> np.ndarray:
    if erf.heatmap is None:
        raise UsageError(f"the effective field of {erf.path!r} has no heatmap to plot")
    heatmap = np.asarray(erf.heatmap, dtype=np.float64)
    if not 1 <= heatmap.ndim <= 3 or heatmap.ndim != len(erf.size):
        raise UsageError(f"the ERF heatmap has shape {heatmap.shape} but size {erf.size}: "
                         f"need one axis per spatial axis (1 to 3)")
    return heatmap


def mass_centre(heatmap: np.ndarray, axis: int) -> int:
    """Mass-weighted centre along ``axis``, rounded half up (as in the ERF's ``size``)."""
    others = tuple(a for a in range(heatmap.ndim) if a != axis)
    mass = heatmap.sum(axis=others) if others else heatmap
    total = float(mass.sum())
    if total <= 0 or not math.isfinite(total):
        return len(mass) // 2
    return int(math.floor(float(np.dot(np.arange(len(mass)), mass)) / total + 0.5))


def window_bounds(centre: int, width: int, count: int) -> tuple[int, int]:
    """First and last pixel of the width-``width`` ERF window about ``centre``: the
    symmetric window of the smallest radius whose part inside ``[0, count)`` is that wide."""
    radius = max((width - 1) // 2, 0)
    while radius < count and min(centre + radius, count - 1) - max(centre - radius, 0) + 1 \
            < width:
        radius += 1
    return max(centre - radius, 0), min(centre + radius, count - 1)


def view_limits(centre: int, count: int, widths: Sequence[float]) -> tuple[float, float]:
    """Pixel-edge limits showing both windows with a margin (the whole axis if smaller)."""
    half = 0.75 * max(widths) + 2
    low, high = max(centre - half, -0.5), min(centre + half, count - 0.5)
    return (-0.5, count - 0.5) if high - low >= 0.8 * count else (low, high)


def sizes_text(sizes: Sequence[int]) -> str:
    return "×".join(str(size) for size in sizes)


def theoretical_of(erf: EffectiveField, axes: slice) -> tuple[int, ...] | None:
    return None if erf.theoretical is None else tuple(erf.theoretical)[axes]


def draw_profile(axis: Axes, heatmap: np.ndarray, erf: EffectiveField, centre: int) -> None:
    """1-D field: the mass per position with the two windows as spans."""
    count = len(heatmap)
    axis.plot(np.arange(count), heatmap, color="C0", marker=".", label="|gradient| mass")
    low, high = window_bounds(centre, erf.size[0], count)
    axis.axvspan(low - 0.5, high + 0.5, color="C1", alpha=0.25,
                 label=f"ERF ({erf.fraction:.0%}): {erf.size[0]}")
    widths: list[float] = [erf.size[0]]
    theory = theoretical_of(erf, slice(0, 1))
    if theory is not None:
        for index, edge in enumerate((centre - theory[0] / 2, centre + theory[0] / 2)):
            axis.axvline(edge, color="C2", linestyle="--",
                         label=f"theoretical field: {theory[0]}" if index == 0 else None)
        widths.append(theory[0])
    axis.set_xlim(*view_limits(centre, count, widths))
    axis.set_xlabel("input position (pixels)")
    axis.set_ylabel("share of |∂ output / ∂ input| (sums to 1)")
    axis.legend(fontsize=8, loc="upper right")
    axis.grid(True, alpha=0.3)


def draw_image(figure: Figure, axis: Axes, heatmap: np.ndarray, erf: EffectiveField,
               centre: tuple[int, ...]) -> None:
    """2-D field (3-D: the slice through the mass centre along the first axis)."""
    image, axes, note = heatmap, slice(0, 2), ""
    if heatmap.ndim == 3:
        image, axes = heatmap[centre[0]], slice(1, 3)
        note = f"; depth slice {centre[0]} of {heatmap.shape[0]}"
    rows, cols = image.shape
    row_c, col_c = centre[axes]
    shown = axis.imshow(image, cmap="inferno", interpolation="nearest", origin="upper")
    figure.colorbar(shown, ax=axis, shrink=0.85,
                    label="share of |∂ output / ∂ input| (sums to 1)")
    spans = draw_windows(axis, erf, axes, (row_c, col_c), (rows, cols))
    axis.plot([col_c], [row_c], "+", color="#3fd0ff", markersize=9,
              label=f"mass centre ({row_c}, {col_c})")
    axis.set_xlim(*view_limits(col_c, cols, [span[1] for span in spans]))
    bottom_edge, top_edge = view_limits(row_c, rows, [span[0] for span in spans])
    axis.set_ylim(top_edge, bottom_edge)                       # row 0 at the top
    axis.set_xlabel(f"column (input pixels, of {cols}){note}")
    axis.set_ylabel(f"row (input pixels, of {rows})")
    axis.legend(fontsize=8, loc="upper right", framealpha=0.85)


def draw_windows(axis: Axes, erf: EffectiveField, axes: slice, centre: tuple[int, int],
                 shape: tuple[int, int]) -> list[tuple[int, int]]:
    """The ERF window (solid, clipped as measured) and the theoretical field (dashed,
    centred, unclipped) as rectangles in pixel-edge coordinates; returns their sizes."""
    from matplotlib.patches import Rectangle

    (row_c, col_c), (rows, cols) = centre, shape
    height, width = erf.size[axes]
    top, bottom = window_bounds(row_c, height, rows)
    left, right = window_bounds(col_c, width, cols)
    axis.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                             fill=False, edgecolor="white", linewidth=1.8,
                             label=f"ERF ({erf.fraction:.0%}): {sizes_text(erf.size)}"))
    theory = theoretical_of(erf, axes)
    if theory is None:
        return [(height, width)]
    beyond = " (beyond the input)" if theory[0] > rows or theory[1] > cols else ""
    axis.add_patch(Rectangle((col_c - theory[1] / 2, row_c - theory[0] / 2), theory[1],
                             theory[0], fill=False, edgecolor="#3fd0ff", linewidth=1.5,
                             linestyle="--",
                             label=f"theoretical: {sizes_text(erf.theoretical or ())}{beyond}"))
    return [(height, width), (theory[0], theory[1])]
