"""The terminal table: the module tree with shapes, params, MACs, FLOPs and memory,
then totals, memory, conventions and uncounted ops. Deterministic for a given width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from netanatomy.render.format import (
    format_bytes,
    format_count,
    format_exact,
    format_field,
    format_shape,
)

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


COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "FLOPs", "Elem. FLOPs",
           "Activations", "RF /stride")


def layer_cells(report: Report, depth: int | None) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per row; ``*`` marks partial (uncounted ops inside)."""
    rows = report.tree(depth)
    cells: list[tuple[str, ...]] = []
    for label, row in zip(tree_labels(rows), rows):
        partial = "*" if row.status != "exact" else ""
        cells.append((label, row.type, format_shape(row.output_shape),
                      format_count(row.params_total), format_count(row.macs) + partial,
                      format_count(row.flops) + partial,
                      format_count(row.elementwise_flops) + partial,
                      format_bytes(row.activation_bytes), format_field(row.rf)))
    return cells


def layer_table(report: Report, depth: int | None) -> Table:
    """Every column but Type keeps its full width; Type is shortened first when narrow."""
    cells = layer_cells(report, depth)
    table = Table(title=None, show_lines=False, header_style="bold", pad_edge=False)
    for index, header in enumerate(COLUMNS):
        widest = max([len(header)] + [len(row[index]) for row in cells])
        if header == "Type":
            table.add_column(header, no_wrap=True, max_width=24, overflow="ellipsis")
        else:
            table.add_column(header, justify="right" if index >= 3 else "left",
                             no_wrap=True, min_width=widest)
    for row_cells in cells:
        table.add_row(*row_cells)
    return table


def footer(report: Report) -> Text:
    t = report.totals
    e = format_exact
    shared = f", shared (counted once) {e(t.shared_params)}" if t.shared_params else ""
    capture = report.capture
    if capture.frontend == "torch":
        source = (f"Captured: torch on {capture.device}, "
                  f"{'train' if capture.training else 'eval'} mode, {t.ops:,} aten ops")
    else:
        source = f"Analysed: {capture.frontend} (inference), {t.ops:,} ops"
    lines = [
        f"Params: {e(t.params)} ({format_count(t.params)}): trainable {e(t.trainable_params)}, "
        f"frozen {e(t.frozen_params)}; buffers {e(t.buffers)}{shared}",
        f"MACs: {e(t.macs)} ({format_count(t.macs)})   FLOPs: {format_count(t.flops)}   "
        f"Elementwise FLOPs: {format_count(t.elementwise_flops)}",
        f"Memory: params {format_bytes(t.param_bytes)}, buffers {format_bytes(t.buffer_bytes)}, "
        f"forward activations {format_bytes(t.activation_bytes)}",
        f"Training estimate: {format_bytes(t.training_bytes)} = params + buffers + grads "
        f"{format_bytes(t.gradient_bytes)} + Adam {format_bytes(t.optimizer_bytes)} + saved "
        f"activations {format_bytes(t.saved_activation_bytes)}",
        source,
        "Conventions: MAC = multiply + add; FLOPs = 2 × MACs of conv, linear, matmul, "
        "attention, RNN gates;",
        "  bias adds, norms, activations, pooling: elementwise FLOPs, apart; Params: subtree, "
        "tied weights once;",
        "  Activations: bytes allocated in the subtree; * = partial (uncounted ops inside);",
        "  RF /stride: receptive field in input pixels and its effective stride (see "
        "`netanatomy rf`).",
    ]
    if capture.frontend == "spec":
        if capture.notes:
            lines.append("Symbols: " + ", ".join(capture.notes))
    else:
        lines.extend(f"Note: {note}" for note in capture.notes)
    if report.uncounted:
        listing = ", ".join(f"{u.op} ×{u.count}" for u in report.uncounted)
        lines.append(f"Uncounted ops (no rule; totals marked * are partial): {listing}")
    return Text("\n".join(lines))


def render_table(report: Report, depth: int | None = 3) -> Group:
    """The table and its footer as one rich renderable."""
    return Group(layer_table(report, depth), footer(report))


def render_table_text(report: Report, depth: int | None = 3, width: int | None = None) -> str:
    """The table as plain text (no colour) at ``width`` columns (default: 160)."""
    console = Console(color_system=None, width=width or 160, force_terminal=False)
    with console.capture() as captured:
        console.print(render_table(report, depth))
    return captured.get()
