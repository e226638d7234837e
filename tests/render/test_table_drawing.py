"""The table is drawn without rich's Table (for speed) but must be what rich draws: rich's
own Table of the same cells is the reference, at widths that fit (the whole table, as
before columns were fitted) and at widths where Type is shortened or columns dropped (the
same columns given to rich), and for cells only rich can draw (markup, emoji codes)."""

from __future__ import annotations

import pytest
from rich.console import Console, Group
from torch import nn

import netanatomy
from netanatomy.render.table import (
    draw_table,
    footer,
    layer_cells,
    render_table_text,
    rich_layer_table,
    table_layout,
)


class AVeryLongModuleTypeNameThatRichShortens(nn.Linear):
    pass


class Keyed(nn.Module):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.blocks = nn.ModuleDict({key: nn.ReLU()})
        self.key = key

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.blocks[self.key](x)


def rich_text(report: netanatomy.Report, depth: int | None, width: int) -> str:
    console = Console(color_system=None, width=width, force_terminal=False)
    with console.capture() as captured:
        console.print(Group(rich_layer_table(layer_cells(report, depth)), footer(report)))
    return captured.get()


@pytest.fixture(scope="module")
def nested() -> netanatomy.Report:
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.ReLU()),
                          AVeryLongModuleTypeNameThatRichShortens(16, 4), nn.Softmax(-1))
    return netanatomy.analyze(model, (2, 8))


@pytest.mark.parametrize("depth", [None, 1])
@pytest.mark.parametrize("width", [20, 50, 75, 90, 110, 160, 240])
def test_drawn_table_is_what_rich_draws(nested: netanatomy.Report, depth: int | None,
                                        width: int) -> None:
    cells = layer_cells(nested, depth)
    layout = table_layout(cells, width)
    if layout.unchanged:                 # it fits: exactly rich's drawing of every column
        assert render_table_text(nested, depth, width) == rich_text(nested, depth, width)
        return
    console = Console(color_system=None, width=max(width, layout.width),
                      force_terminal=False)
    with console.capture() as captured:
        console.print(rich_layer_table(cells, layout))
    assert draw_table(cells, console, layout) == captured.get()
    assert render_table_text(nested, depth, width).startswith(captured.get())


def test_fast_drawing_is_used_where_the_table_fits(nested: netanatomy.Report) -> None:
    console = Console(color_system=None, width=160, force_terminal=False)
    drawn = draw_table(layer_cells(nested, None), console)
    assert drawn is not None and drawn.splitlines()[1].startswith("┃Layer")


@pytest.mark.parametrize("key", ["a:smile:b", "x[bold]y", "trailing "])
def test_cells_rich_would_change_are_left_to_rich(key: str) -> None:
    report = netanatomy.analyze(Keyed(key), (1, 4))
    assert render_table_text(report, None, 120) == rich_text(report, None, 120)
