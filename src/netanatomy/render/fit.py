"""Fitting a table to the terminal: which columns to show and how wide, so that no line is
wider than the terminal and no number is cut.

A table is the header row and its cells; each column has a :class:`Column` spec saying how
dispensable it is (``drop`` rank: higher goes first) and whether it holds names (only name
columns are ever shortened, with an ellipsis). :func:`fit_columns` keeps every column at its
natural width when the table fits; otherwise it shortens name columns to their soft
minimum, then drops columns, emptiest and most dispensable first, and only when nothing
else can go shortens the names further. :func:`dropped_note` says what was left out and
how to get it back. The layout arithmetic is rich's for ``Table(pad_edge=False)`` with a
box: one cell of padding on each inner side, a border between and around the columns.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table

DEFAULT_WIDTH = 160
"""Table width when none is given and the output is not a terminal (files, pipes, tests)."""

NAME_FLOOR = 4
"""The narrowest a name column gets (three characters and the ellipsis)."""


@dataclass(frozen=True, slots=True)
class Column:
    """How a column behaves when the table is too wide.

    Attributes:
        header: the column's heading.
        drop: rank in the dropping order (higher goes first; 0 is never dropped).
        name: a name column (Layer, Type): may be shortened with an ellipsis.
        max_width: a name column's widest (longer names shortened even when there is room).
        min_width: a name column's soft minimum, kept while other columns can be dropped.
        right: right-justified (numbers).
    """

    header: str
    drop: int
    name: bool = False
    max_width: int | None = None
    min_width: int = NAME_FLOOR
    right: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns a table shows (``shown``: indexes into its columns, in order), the
    content width of each shown column, the headers of the dropped ones (in table order),
    ``full_width``: the table's width with every column shown, and ``shortened``: the
    headers of the name columns drawn narrower than their natural width."""

    shown: tuple[int, ...]
    widths: tuple[int, ...]
    dropped: tuple[str, ...]
    full_width: int
    shortened: tuple[str, ...] = ()

    @property
    def unchanged(self) -> bool:
        """Every column shown at its natural width (the table fits as it is)."""
        return not self.dropped and not self.shortened

    @property
    def width(self) -> int:
        """The drawn table's width in cells."""
        return table_width(self.widths)


def table_width(widths: Sequence[int]) -> int:
    """Width of a boxed ``pad_edge=False`` table whose columns hold ``widths`` cells:
    the contents, two cells of padding between neighbours, and ``len + 1`` borders."""
    return sum(widths) + 3 * len(widths) - 1 if widths else 0


def natural_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]],
                   measure: object = len) -> list[int]:
    """Each column's widest cell (header included), capped at a name column's
    ``max_width``. ``measure`` gives a string's width in cells (``len`` for plain text)."""
    count = len(columns)
    natural = [len(c.header) for c in columns]
    for row in rows:
        for index in range(count):
            size = measure(row[index])  # type: ignore[operator]
            if size > natural[index]:
                natural[index] = size
    return [min(width, c.max_width) if c.name and c.max_width else width
            for width, c in zip(natural, columns)]


def fit_columns(columns: Sequence[Column], natural: Sequence[int], width: int,
                empty: Sequence[bool] = ()) -> Layout:
    """The layout of a table with columns ``columns`` of ``natural`` widths in ``width``
    cells; ``empty[i]`` marks a column without any value (dropped before the others)."""
    full = table_width(natural)
    shown = list(range(len(columns)))
    order = sorted((i for i, c in enumerate(columns) if c.drop > 0),
                   key=lambda i: (not (empty[i] if empty else False), -columns[i].drop))
    while True:
        widths = shrink_names(columns, natural, shown, width, soft=True)
        if widths is not None:
            break
        if not order:
            widths = shrink_names(columns, natural, shown, width, soft=False)
            if widths is None:   # nothing left to drop or shorten: as narrow as it gets
                widths = [min(natural[i], NAME_FLOOR) if columns[i].name else natural[i]
                          for i in shown]
            break
        shown.remove(order.pop(0))
    dropped = tuple(c.header for i, c in enumerate(columns) if i not in shown)
    shortened = tuple(columns[i].header for i, w in zip(shown, widths) if w < natural[i])
    return Layout(tuple(shown), tuple(widths), dropped, full, shortened)


def shrink_names(columns: Sequence[Column], natural: Sequence[int], shown: list[int],
                 width: int, soft: bool) -> list[int] | None:
    """Widths of the ``shown`` columns within ``width``, shortening name columns (the
    most dispensable first) down to their soft minimum (``soft``) or to
    :data:`NAME_FLOOR`; None when that is not enough."""
    widths = [natural[i] for i in shown]
    excess = table_width(widths) - width
    names = sorted((k for k, i in enumerate(shown) if columns[i].name),
                   key=lambda k: -columns[shown[k]].drop)
    for k in names:
        if excess <= 0:
            break
        floor = min(widths[k], max(columns[shown[k]].min_width, NAME_FLOOR) if soft
                    else NAME_FLOOR)
        cut = min(excess, widths[k] - floor)
        widths[k] -= cut
        excess -= cut
    return widths if excess <= 0 else None


def dropped_note(layout: Layout, width: int, formats: str = "--format csv") -> str | None:
    """``Columns not shown at width 80: Type, Elem. FLOPs (use --width 140 or --format
    csv)``, or None when every column is shown."""
    if not layout.dropped:
        return None
    return (f"Columns not shown at width {width}: {', '.join(layout.dropped)} "
            f"(use --width {layout.full_width} or {formats})")


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[str]],
                 width: int) -> tuple[Table, Layout]:
    """A rich Table of ``rows`` (header style bold, ``pad_edge=False``) with the columns
    that fit in ``width`` (see :func:`fit_columns`), and its layout. Number columns keep
    their widest cell; name columns are shortened with an ellipsis."""
    natural = natural_widths(columns, [[c.header for c in columns], *rows], cell_len)
    empty = [all(not row[index] for row in rows) for index in range(len(columns))]
    layout = fit_columns(columns, natural, width, empty)
    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for index, room in zip(layout.shown, layout.widths):
        column = columns[index]
        if column.name:
            table.add_column(column.header, no_wrap=True, overflow="ellipsis",
                             max_width=room, justify="right" if column.right else "left")
        else:
            table.add_column(column.header, no_wrap=True, min_width=room,
                             justify="right" if column.right else "left")
    for row in rows:
        table.add_row(*(row[index] for index in layout.shown))
    return table, layout


def ellipsize(text: str, room: int) -> str:
    """``text`` cut to ``room`` cells with a trailing ``…`` when longer (names only)."""
    return text if len(text) <= room else text[:max(room - 1, 0)] + "…"


def terminal_width(output_is_file: bool = False) -> int | None:
    """The width to draw at when none is given: the terminal's when stdout is one
    (``COLUMNS`` first, as :func:`shutil.get_terminal_size` reads it), else None, which
    renderers take as :data:`DEFAULT_WIDTH` for tables (and no wrapping for plain lists),
    so that files, pipes and tests get the same output anywhere."""
    if output_is_file or not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
        return None
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return columns if columns > 0 else None


__all__ = ["DEFAULT_WIDTH", "Column", "Layout", "dropped_note", "ellipsize", "fit_columns",
           "fitted_table", "natural_widths", "table_width", "terminal_width"]
