"""The terminal table: the module tree with shapes, params, MACs, FLOPs and memory,
then totals, memory, conventions and uncounted ops. Deterministic for a given width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.box import HEAVY_HEAD
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
    from netanatomy.analysis.report import LayerRow
    from netanatomy.analysis.report import Summary as Report


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
    """The table's cells, one tuple per row; ``*`` marks a partial count (uncounted ops
    inside, the others summed), ``?`` an unknown one (every op inside uncounted)."""
    rows = report.tree(depth)
    cells: list[tuple[str, ...]] = []
    for label, row in zip(tree_labels(rows), rows):
        mark = "*" if row.status == "partial" else ""
        cells.append((label, row.type, format_shape(row.output_shape),
                      format_count(row.params_total), format_count(row.macs) + mark,
                      format_count(row.flops) + mark,
                      format_count(row.elementwise_flops) + mark,
                      format_bytes(row.activation_bytes), format_field(row.rf)))
    return cells


def layer_table(report: Report, depth: int | None) -> Table:
    """Every column but Type keeps its full width; Type is shortened first when narrow."""
    return rich_layer_table(layer_cells(report, depth))


TYPE_COLUMN, TYPE_MAX_WIDTH, FIRST_RIGHT_JUSTIFIED = 1, 24, 3
"""The Type column is the one that shrinks (to at most 24 cells, with an ellipsis); the
columns from Params on are right-justified."""


def rich_layer_table(cells: list[tuple[str, ...]]) -> Table:
    """The rich Table of ``cells`` (the reference layout that :func:`draw_table` copies)."""
    table = Table(title=None, show_lines=False, header_style="bold", pad_edge=False)
    for index, header in enumerate(COLUMNS):
        widest = max([len(header)] + [len(row[index]) for row in cells])
        if index == TYPE_COLUMN:
            table.add_column(header, no_wrap=True, max_width=TYPE_MAX_WIDTH,
                             overflow="ellipsis")
        else:
            table.add_column(header, justify="right" if index >= FIRST_RIGHT_JUSTIFIED
                             else "left", no_wrap=True, min_width=widest)
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
        f"forward activations {format_bytes(t.activation_bytes)}; bytes accessed "
        f"{format_bytes(t.bytes_accessed)}",
        f"Training estimate: {format_bytes(t.training_bytes)} = params + buffers + grads "
        f"{format_bytes(t.gradient_bytes)} + Adam {format_bytes(t.optimizer_bytes)} + saved "
        f"activations {format_bytes(t.saved_activation_bytes)}",
        source,
        "Conventions: MAC = multiply + add; FLOPs = 2 × MACs of conv, linear, matmul, "
        "attention, RNN gates;",
        "  bias adds, norms, activations, pooling: elementwise FLOPs, apart; Params: subtree, "
        "tied weights once;",
        "  Activations: bytes allocated in the subtree; * = partial (uncounted ops inside), "
        "? = unknown (all uncounted);",
        "  RF /stride: receptive field in input pixels and its effective stride (see "
        "`netanatomy rf`).",
    ]
    if capture.frontend == "spec":
        if capture.notes:
            lines.append("Symbols: " + ", ".join(capture.notes))
    else:
        lines.extend(f"Note: {note}" for note in capture.notes)
    if report.uncounted:
        lines.append("Uncounted ops (no rule; counts marked * are partial, ? unknown): "
                     + uncounted_listing(report))
    return Text("\n".join(lines))


def uncounted_listing(report: Report, most: int = 3) -> str:
    """``aten.sort.default ×2 in enc.0, enc.1``: each uncounted op with the modules that
    ran it (the first ``most``)."""
    owners: dict[str, list[str]] = {}
    for node in report.graph.nodes:
        paths = owners.setdefault(node.op, [])
        if node.path not in paths:
            paths.append(node.path)
    items = []
    for u in report.uncounted:
        paths = [path or "<root>" for path in owners.get(u.op, [])]
        where = ", ".join(paths[:most]) + (f" (+{len(paths) - most} more)"
                                           if len(paths) > most else "")
        items.append(f"{u.op} ×{u.count}" + (f" in {where}" if where else ""))
    return "; ".join(items)


def render_table(report: Report, depth: int | None = 3) -> Group:
    """The table and its footer as one rich renderable."""
    return Group(layer_table(report, depth), footer(report))


def render_table_text(report: Report, depth: int | None = 3, width: int | None = None) -> str:
    """The table as plain text (no colour) at ``width`` columns (default: 160).

    The table is drawn by :func:`draw_table`, which lays it out exactly as rich would
    (rich measures and renders every cell as a styled object: about 2 s for 3000 rows);
    cells it cannot vouch for (markup, emoji codes, wide or control characters) and very
    narrow widths go through rich itself.
    """
    console = Console(color_system=None, width=width or 160, force_terminal=False)
    cells = layer_cells(report, depth)
    drawn = draw_table(cells, console)
    with console.capture() as captured:
        if drawn is None:
            console.print(Group(rich_layer_table(cells), footer(report)))
        else:
            console.print(footer(report))
    return (drawn or "") + captured.get()


SAFE_NON_ASCII = frozenset("│├└─×…·µ")
"""Characters besides printable ASCII that rich draws one cell wide and leaves as they are."""


def plain_cells(rows: list[tuple[str, ...]]) -> bool:
    """True when every cell renders as its own characters, one cell each: no markup
    (``[``), no emoji codes (``:``), only printable ASCII and :data:`SAFE_NON_ASCII`."""
    blob = "".join("".join(row) for row in rows)
    if "[" in blob or ":" in blob:
        return False
    if blob.isascii():
        return blob.isprintable()
    return all(char in SAFE_NON_ASCII or (char.isascii() and char.isprintable())
               for char in set(blob))


def column_widths(natural: list[int], pads: list[int], max_width: int) -> list[int] | None:
    """Column widths (padding included, borders not) as rich's Table computes them for
    :func:`rich_layer_table`: every column but Type at its natural width, Type at most
    ``TYPE_MAX_WIDTH``; when the table is wider than ``max_width`` all columns are first
    reduced evenly (rich's ``ratio_reduce``), then re-measured, which brings every column
    but Type back to its minimum width. None where rich would do something stranger (a
    column reduced to nothing, Type left without room for one character)."""
    widths = [min(max(width + pad, 1), max_width) if index == TYPE_COLUMN else width + pad
              for index, (width, pad) in enumerate(zip(natural, pads))]
    widths[TYPE_COLUMN] = min(widths[TYPE_COLUMN], TYPE_MAX_WIDTH + pads[TYPE_COLUMN])
    if sum(widths) <= max_width:
        return widths
    remaining, ratio_left = sum(widths) - max_width, len(widths)
    reduced = []
    for width in widths:  # rich._ratio.ratio_reduce with equal ratios
        cut = min(width, round(remaining / ratio_left))
        reduced.append(width - cut)
        remaining -= cut
        ratio_left -= 1
    if min(reduced) < 1:
        return None
    type_width = min(widths[TYPE_COLUMN], reduced[TYPE_COLUMN])
    if type_width < pads[TYPE_COLUMN] + 1:
        return None
    widths[TYPE_COLUMN] = type_width
    return widths


def draw_table(cells: list[tuple[str, ...]], console: Console) -> str | None:
    """The table of ``cells`` as rich draws :func:`rich_layer_table` on ``console``
    (heavy header box, one cell of padding inside the edges, lines cropped to the
    console width), as text; None when only rich itself can draw it."""
    rows = [COLUMNS, *cells]
    if not plain_cells(rows):
        return None
    count = len(COLUMNS)
    pads = [1] + [2] * (count - 2) + [1]  # pad_edge=False: no padding at the outer edges
    natural = [max(len(row[index]) for row in rows) for index in range(count)]
    widths = column_widths(natural, pads, console.width - (count + 1))
    if widths is None:
        return None
    box = HEAVY_HEAD.substitute(console.options, safe=console.safe_box)
    inner = [width - pad for width, pad in zip(widths, pads)]
    lefts = [0] + [1] * (count - 1)
    type_inner = inner[TYPE_COLUMN]

    def line(row: tuple[str, ...], left: str, divider: str, right: str) -> str:
        parts = []
        for index, (cell, room) in enumerate(zip(row, inner)):
            if index == TYPE_COLUMN and len(cell) > type_inner:
                cell = cell[:type_inner - 1] + "…"
            text = (cell.rstrip().rjust(room) if index >= FIRST_RIGHT_JUSTIFIED
                    else cell.ljust(room))
            parts.append(" " * lefts[index] + text + " " * (pads[index] - lefts[index]))
        return left + divider.join(parts) + right

    out = [box.get_top(widths),
           line(COLUMNS, box.head_left, box.head_vertical, box.head_right),
           box.get_row(widths, "head")]
    body = len(cells)
    for number, row in enumerate(cells, 1):
        if number == body:
            out.append(line(row, box.foot_left, box.foot_vertical, box.foot_right))
        else:
            out.append(line(row, box.mid_left, box.mid_vertical, box.mid_right))
    out.append(box.get_bottom(widths))
    limit = console.width
    return "".join((text if len(text) <= limit else text[:limit]) + "\n" for text in out)
