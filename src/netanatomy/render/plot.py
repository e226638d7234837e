"""Receptive-field plot: size and effective stride against depth, one line per axis."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from netanatomy.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from netanatomy.analysis.report import LayerRow
    from netanatomy.analysis.report import Summary as Report


def field_rows(report: Report) -> list[LayerRow]:
    """Leaf layers that ran and have a field, in execution order."""
    parents = {row.path.rpartition(".")[0] for row in report.layers if row.path}
    order = {m.path: (m.output_ids[0] if m.output_ids else -1) for m in report.graph.modules}
    leaves = [row for row in report.layers
              if row.rf is not None and row.path not in parents and row.calls > 0]
    return sorted(leaves, key=lambda row: order.get(row.path, -1))


DPI = 120
"""The resolution the plot is written at (pixels = inches × DPI)."""


def plot_receptive_field(report: Report, path: str | Path, title: str | None = None) -> Path:
    """Write a PNG: RF size (top) and effective stride (bottom) per layer, per axis, with
    the input size marked and the first global layer flagged.

    Raises:
        UsageError: matplotlib is missing, or the model has no spatial input.
    """
    figure = receptive_field_figure(report, title)
    target = Path(path)
    figure.savefig(target, dpi=DPI)
    return target


def receptive_field_figure(report: Report, title: str | None = None) -> Figure:
    """The figure :func:`plot_receptive_field` writes: a bare ``Figure`` (no pyplot, no
    backend switched), not saved.

    Raises:
        UsageError: matplotlib is missing, or the model has no spatial input.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install matplotlib") from None
    rows = field_rows(report)
    spatial_input = next((t for t in report.graph.inputs if len(t.shape) >= 3), None)
    if not rows or spatial_input is None:
        raise UsageError("nothing to plot: the model has no spatial input with a field")
    input_sizes = spatial_input.shape[2:]
    local = [(i, row.rf) for i, row in enumerate(rows)
             if row.rf is not None and not row.rf.is_global]
    figure = Figure(figsize=(min(14.0, max(7.0, 0.25 * len(rows))), 6.5), layout="tight")
    top, bottom = figure.subplots(2, 1, sharex=True)
    axis_names = "DHW"[-len(input_sizes):] if len(input_sizes) <= 3 else None
    for axis, input_size in enumerate(input_sizes):
        name = axis_names[axis] if axis_names else f"axis {axis}"
        xs = [i for i, _ in local]
        top.plot(xs, [float(field.size[axis]) for _, field in local], marker=".",
                 label=f"size ({name})")
        bottom.plot(xs, [float(field.stride[axis]) for _, field in local], marker=".",
                    label=f"stride ({name})")
        top.axhline(float(input_size), linestyle="--", linewidth=1, color=f"C{axis}",
                    alpha=0.6, label=f"input {name} = {input_size}")
    mark_global(rows, top, bottom)
    top.set_ylabel("receptive field (pixels)")
    bottom.set_ylabel("effective stride (pixels)")
    bottom.set_xlabel(f"layer (leaf modules in execution order, {len(rows)} in all)")
    if len(rows) <= 48:
        bottom.set_xticks(range(len(rows)))
        bottom.set_xticklabels([row.path for row in rows], rotation=90, fontsize=6)
    top.legend(fontsize=8)
    bottom.legend(fontsize=8)
    top.set_title(title or f"Receptive field of {report.layers[0].type}")
    return figure


def mark_global(rows: list[LayerRow], *axes: Any) -> None:
    """A vertical line at the first layer whose field is global, labelled with its cause."""
    for index, row in enumerate(rows):
        if row.rf is not None and row.rf.is_global:
            for plot_axis in axes:
                plot_axis.axvline(index, color="grey", linestyle=":", linewidth=1)
            axes[0].annotate(f"global ({row.rf.by})", (index, 0),
                             xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                             va="bottom", ha="right")
            return
