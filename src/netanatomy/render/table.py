"""The terminal table: the module tree with shapes, params, MACs, FLOPs and memory,
then totals, memory, conventions and uncounted ops. Deterministic for a given width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.box import HEAVY_HEAD
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from netanatomy.render.fit import (
    DEFAULT_WIDTH,
    Column,
    Layout,
    dropped_note,
    ellipsize,
    fit_columns,
    natural_widths,
)
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

TYPE_COLUMN, TYPE_MAX_WIDTH, FIRST_RIGHT_JUSTIFIED = 1, 24, 3
"""The Type column is shortened to at most 24 cells (with an ellipsis); the columns from
Params on are right-justified."""

COLUMN_SPECS = (
    Column("Layer", 0, name=True, min_width=20),
    Column("Type", 9, name=True, max_width=TYPE_MAX_WIDTH, min_width=8),
    Column("Output shape", 2),
    Column("Params", 3, right=True),
    Column("MACs", 4, right=True),
    Column("FLOPs", 6, right=True),
    Column("Elem. FLOPs", 7, right=True),
    Column("Activations", 8, right=True),
    Column("RF /stride", 5, right=True),
)
"""How the columns give way when the table is too wide: Type first, then Activations,
Elem. FLOPs, FLOPs, RF (empty columns before any); Layer, Output shape, Params and MACs
stay longest. Only Layer and Type are ever shortened (with an ellipsis)."""


def layer_cells(report: Report, depth: int | None) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per row; ``*`` marks a partial count (uncounted ops
    inside, the others summed), ``?`` an unknown one (every op inside uncounted)."""
    rows = report.tree(depth)
    cells: list[tuple[str, ...]] = []
    for label, row in zip(tree_labels(rows), rows):
        mark = "*" if row.status == "partial" else ""
        cells.append((label, row.type, output_cell(row),
                      format_count(row.params_total), format_count(row.macs) + mark,
                      format_count(row.flops) + mark,
                      format_count(row.elementwise_flops) + mark,
                      format_bytes(row.activation_bytes), format_field(row.rf)))
    return cells


def output_cell(row: LayerRow) -> str:
    """The output shape, with ``×3`` beside it when the module ran 3 times and its calls
    returned different shapes (``call_shapes`` has every call's)."""
    shape = format_shape(row.output_shape)
    calls = row.call_shapes
    if len(calls) > 1 and any(call != calls[0] for call in calls[1:]):
        return f"{shape} ×{len(calls)}"
    return shape


def layer_table(report: Report, depth: int | None) -> Table:
    """Every column but Type keeps its full width; Type is shortened first when narrow."""
    return rich_layer_table(layer_cells(report, depth))


def rich_layer_table(cells: list[tuple[str, ...]], layout: Layout | None = None) -> Table:
    """The rich Table of ``cells`` (the reference layout that :func:`draw_table` copies),
    every column or those ``layout`` shows, at its widths."""
    table = Table(title=None, show_lines=False, header_style="bold", pad_edge=False)
    shown = range(len(COLUMNS)) if layout is None else layout.shown
    for position, index in enumerate(shown):
        header = COLUMNS[index]
        widest = max([len(header)] + [len(row[index]) for row in cells])
        room = None if layout is None else layout.widths[position]
        if index == TYPE_COLUMN or (room is not None and room < widest and
                                    COLUMN_SPECS[index].name):
            table.add_column(header, no_wrap=True, overflow="ellipsis",
                             max_width=TYPE_MAX_WIDTH if room is None else room)
        else:
            table.add_column(header, justify="right" if index >= FIRST_RIGHT_JUSTIFIED
                             else "left", no_wrap=True, min_width=widest)
    for row_cells in cells:
        table.add_row(*(row_cells if layout is None else [row_cells[i] for i in shown]))
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

    When the table is wider than ``width``, Type (then Layer) names are shortened with an
    ellipsis and the least important columns dropped (see :data:`COLUMN_SPECS`), with a
    note naming them; numbers are never cut. The table is drawn by :func:`draw_table`,
    which lays it out exactly as rich would (rich measures and renders every cell as a
    styled object: about 2 s for 3000 rows); cells it cannot vouch for (markup, emoji
    codes, wide or control characters) go through rich itself.
    """
    width = width or DEFAULT_WIDTH
    cells = layer_cells(report, depth)
    plain = plain_cells([COLUMNS, *cells])
    layout = table_layout(cells, width, len if plain else cell_len)
    drawn = draw_table(cells, Console(color_system=None, width=width, force_terminal=False),
                       layout) if plain else None
    console = Console(color_system=None, width=width, force_terminal=False)
    with console.capture() as captured:
        if drawn is None:
            wide = Console(color_system=None, width=max(width, layout.width),
                           force_terminal=False)
            with wide.capture() as table_text:
                wide.print(rich_layer_table(cells, None if layout.unchanged else layout))
            drawn = table_text.get()
        note = dropped_note(layout, width)
        if note is not None:
            console.print(Text(note))
        console.print(footer(report))
    return drawn + captured.get()


def table_layout(cells: list[tuple[str, ...]], width: int, measure: object = len) -> Layout:
    """Which columns of ``cells`` fit in ``width`` and how wide (see :func:`fit_columns`)."""
    natural = natural_widths(COLUMN_SPECS, [COLUMNS, *cells], measure)
    empty = [all(not row[index] for row in cells) for index in range(len(COLUMNS))]
    return fit_columns(COLUMN_SPECS, natural, width, empty)


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


def draw_table(cells: list[tuple[str, ...]], console: Console,
               layout: Layout | None = None) -> str | None:
    """The table of ``cells`` as rich draws :func:`rich_layer_table` (heavy header box,
    one cell of padding inside the edges), with the columns and widths of ``layout``
    (default: fitted to the console's width), as text; None when only rich itself can
    draw it. A table narrower than it can be drawn is drawn wider than the console, never
    cropped."""
    if not plain_cells([COLUMNS, *cells]):
        return None
    if layout is None:
        layout = table_layout(cells, console.width)
    shown = layout.shown
    headers = tuple(COLUMNS[i] for i in shown)
    if len(shown) < len(COLUMNS):
        cells = [tuple(row[i] for i in shown) for row in cells]
    count = len(shown)
    pads = [1] + [2] * (count - 2) + [1] if count > 1 else [0]
    inner = list(layout.widths)
    widths = [room + pad for room, pad in zip(inner, pads)]
    box = HEAVY_HEAD.substitute(console.options, safe=console.safe_box)
    lefts = [0] + [1] * (count - 1)
    rights = [COLUMN_SPECS[i].right for i in shown]
    names = [k for k, i in enumerate(shown) if COLUMN_SPECS[i].name]

    def line(row: tuple[str, ...], left: str, divider: str, right: str) -> str:
        if names:
            row = tuple(ellipsize(cell, inner[k]) if k in names else cell
                        for k, cell in enumerate(row))
        parts = []
        for index, (cell, room) in enumerate(zip(row, inner)):
            text = cell.rstrip().rjust(room) if rights[index] else cell.ljust(room)
            parts.append(" " * lefts[index] + text + " " * (pads[index] - lefts[index]))
        return left + divider.join(parts) + right

    out = [box.get_top(widths),
           line(headers, box.head_left, box.head_vertical, box.head_right),
           box.get_row(widths, "head")]
    body = len(cells)
    for number, row in enumerate(cells, 1):
        if number == body:
            out.append(line(row, box.foot_left, box.foot_vertical, box.foot_right))
        else:
            out.append(line(row, box.mid_left, box.mid_vertical, box.mid_right))
    out.append(box.get_bottom(widths))
    return "".join(text + "\n" for text in out)
