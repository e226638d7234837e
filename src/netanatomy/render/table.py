"""The terminal table: the module tree with shapes, params, MACs, FLOPs and memory,
then totals, memory, conventions and uncounted ops. Deterministic for a given width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from netanatomy.render.format import format_bytes, format_count, format_shape

if TYPE_CHECKING:
    from netanatomy.report import LayerRow, Report


def tree_labels(rows: tuple[LayerRow, ...]) -> list[str]:
    """Tree-drawn names (``├─ conv1``) for rows in pre-order."""
    labels = []
    open_levels: list[bool] = []  # per depth ≥ 1: has that ancestor siblings still to come
    for index, row in enumerate(rows):
        if row.depth == 0:
            labels.append(row.name)
            continue
        is_last = True
        for later in rows[index + 1:]:
            if later.depth < row.depth:
                break
            if later.depth == row.depth:
                is_last = False
                break
        del open_levels[row.depth - 1:]
        open_levels.extend([False] * (row.depth - 1 - len(open_levels)))
        prefix = "".join("│  " if more else "   " for more in open_levels)
        labels.append(prefix + ("└─ " if is_last else "├─ ") + row.name)
        open_levels.append(not is_last)
    return labels


def layer_table(report: Report, depth: int | None) -> Table:
    table = Table(title=None, show_lines=False, header_style="bold", pad_edge=False)
    for header, justify in (("Layer", "left"), ("Type", "left"), ("Output shape", "left"),
                            ("Params", "right"), ("MACs", "right"), ("FLOPs", "right"),
                            ("Elem. FLOPs", "right"), ("Activations", "right")):
        table.add_column(header, justify=justify, no_wrap=header == "Layer")
    rows = report.tree(depth)
    for label, row in zip(tree_labels(rows), rows):
        partial = "*" if row.status != "exact" else ""
        table.add_row(label, row.type, format_shape(row.output_shape),
                      format_count(row.params_total), format_count(row.macs) + partial,
                      format_count(row.flops) + partial,
                      format_count(row.elementwise_flops) + partial,
                      format_bytes(row.activation_bytes))
    return table


def footer(report: Report) -> Text:
    t = report.totals
    lines = [
        f"Params: {t.params:,} ({format_count(t.params)}) — trainable {t.trainable_params:,}, "
        f"frozen {t.frozen_params:,}, buffers {t.buffers:,}"
        + (f", shared (counted once) {t.shared_params:,}" if t.shared_params else ""),
        f"MACs: {t.macs:,} ({format_count(t.macs)})   FLOPs: {format_count(t.flops)}   "
        f"Elementwise FLOPs: {format_count(t.elementwise_flops)}",
        f"Memory: params {format_bytes(t.param_bytes)}, buffers {format_bytes(t.buffer_bytes)}, "
        f"activations (forward) {format_bytes(t.activation_bytes)}; training estimate "
        f"{format_bytes(t.training_bytes)} (grads {format_bytes(t.gradient_bytes)}, Adam "
        f"{format_bytes(t.optimizer_bytes)}, saved activations "
        f"{format_bytes(t.saved_activation_bytes)})",
        f"Captured: {report.capture.frontend} on {report.capture.device}, "
        f"{'train' if report.capture.training else 'eval'} mode, {t.ops:,} ops",
        "Conventions: MAC = multiply + add; FLOPs = 2 × MACs (conv, linear, matmul, "
        "attention, RNN); bias adds, norms, activations, pooling counted apart as "
        "elementwise FLOPs; Params = subtree, tied weights once; Activations = bytes "
        "allocated in the subtree.",
    ]
    lines.extend(f"Note: {note}" for note in report.capture.notes)
    if report.uncounted:
        listing = ", ".join(f"{u.op} ×{u.count}" for u in report.uncounted)
        lines.append(f"Uncounted ops (no rule; totals marked * are partial): {listing}")
    return Text("\n".join(lines))


def render_table(report: Report, depth: int | None = 3) -> Group:
    """The table and its footer as one rich renderable."""
    return Group(layer_table(report, depth), footer(report))


def render_table_text(report: Report, depth: int | None = 3, width: int | None = None) -> str:
    """The table as plain text (no colour) at ``width`` columns (default 140)."""
    console = Console(color_system=None, width=width or 140, record=False,
                      force_terminal=False)
    with console.capture() as captured:
        console.print(render_table(report, depth))
    return captured.get()
