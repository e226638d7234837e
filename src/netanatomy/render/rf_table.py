"""The receptive-field table (``netanatomy rf``): per layer size, stride and padding per
axis, optionally beside the measured field, then the output's field and merge reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from netanatomy.analysis.receptive_field import plain_number
from netanatomy.render.fit import DEFAULT_WIDTH, Column, Layout, dropped_note, fitted_table
from netanatomy.render.format import format_shape
from netanatomy.render.table import tree_labels

if TYPE_CHECKING:
    from netanatomy.analysis.report import Summary as Report


def per_axis(values: Any) -> str:
    return "×".join(str(v) for v in values)


def field_cells(field: Any) -> tuple[str, str, str]:
    if field is None:
        return ("", "", "")
    if field.is_global:
        return (f"global (by {field.by})", "", "")
    return (per_axis(field.size), per_axis(field.stride), per_axis(field.padding))


def measured_cell(measured: Any, field: Any) -> str:
    """``"= 427×427"`` when it agrees, ``"≠ 425×425"`` when not, with a clipping note."""
    if measured is None:
        return ""
    if isinstance(measured, str):
        return "n/a"
    if measured.is_global:
        return "whole input"
    text = per_axis(measured.size)
    if any(measured.clipped):
        return f"{text} (clipped by the input border)"
    if field is not None and not field.is_global:
        return ("= " if tuple(field.size) == measured.size else "≠ ") + text
    return text


RF_COLUMNS = (Column("Layer", 0, name=True, min_width=20),
              Column("Type", 9, name=True, max_width=24, min_width=8),
              Column("Output shape", 5), Column("RF size", 1, right=True),
              Column("Stride", 3, right=True), Column("Padding", 4, right=True))
MEASURED_COLUMN = Column("Measured", 2, right=True)
"""Type goes first when the table is too wide, then Output shape, Padding, Stride,
Measured; Layer and RF size stay."""


def rf_rows(report: Report, depth: int | None,
            measured: Mapping[str, Any] | None = None) -> list[list[str]]:
    rows = report.tree(depth)
    out = []
    for label, row in zip(tree_labels(rows), rows):
        cells = [label, row.type, format_shape(row.output_shape), *field_cells(row.rf)]
        if measured is not None:
            cells.append(measured_cell(measured.get(row.path), row.rf))
        out.append(cells)
    return out


def rf_table(report: Report, depth: int | None,
             measured: Mapping[str, Any] | None = None, width: int = DEFAULT_WIDTH
             ) -> tuple[Table, Layout]:
    """The table of the columns that fit in ``width``, and its layout."""
    columns = (*RF_COLUMNS, MEASURED_COLUMN) if measured is not None else RF_COLUMNS
    return fitted_table(columns, rf_rows(report, depth, measured), width)


def rf_footer(report: Report) -> Text:
    fields = report.receptive_field
    lines = []
    if fields is not None:
        size, stride, padding = field_cells(fields.output)
        lines.append(f"Output field: {size or 'none'}" + (f", stride {stride}, padding {padding}"
                                                          if stride else ""))
        for m in fields.misalignments:
            lines.append(f"Misaligned merge at {m.path or '<root>'} ({m.op}), axis {m.axis}: "
                         f"field centres {', '.join(str(plain_number(c)) for c in m.centres)} "
                         f"(off by {plain_number(m.offset)} px), sizes {per_axis(m.sizes)}")
        if fields.unknown_ops:
            lines.append("Ops without a rule (fields passed through unchanged): "
                         + ", ".join(fields.unknown_ops))
    lines.append("Conventions: sizes, strides (jumps) and paddings in input pixels per spatial "
                 "axis; padding = how far the first output's field reaches before the input;")
    lines.append("  merges take the largest field; global = every position mixed (by the "
                 "named layer); normalisation statistics are not counted as mixing.")
    return Text("\n".join(lines))


def render_rf_text(report: Report, depth: int | None = 3,
                   measured: Mapping[str, Any] | None = None, width: int | None = None) -> str:
    width = width or DEFAULT_WIDTH
    table, layout = rf_table(report, depth, measured, width)
    console = Console(color_system=None, width=max(width, layout.width), force_terminal=False)
    with console.capture() as drawn:
        console.print(table)
    console = Console(color_system=None, width=width, force_terminal=False)
    note = dropped_note(layout, width)
    with console.capture() as captured:
        console.print(Group(*([Text(note)] if note else []), rf_footer(report)))
    return drawn.get() + captured.get()
