"""Column fitting (checked against a brute-force search over every set of kept columns),
lint grouping in the table (JSON keeps every lint), every call's shapes of a module
called several times, and the progress callback of ``rf --measure``."""

from __future__ import annotations

import json

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import netanatomy
from netanatomy.analysis.findings import Lint, LintReport
from netanatomy.render.catalog import write
from netanatomy.render.csv import report_to_csv
from netanatomy.render.fit import NAME_FLOOR, Column, fit_columns, table_width
from netanatomy.render.json import report_to_dict
from netanatomy.render.table import render_table_text

COLUMNS = (Column("Layer", 0, name=True, min_width=20), Column("Type", 9, name=True),
           Column("A", 2, right=True), Column("B", 5, right=True), Column("C", 7, right=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 40), min_size=5, max_size=5), st.integers(10, 200))
def test_fit_keeps_the_most_it_can(natural: list[int], width: int) -> None:
    layout = fit_columns(COLUMNS, natural, width)
    shown = set(layout.shown)
    assert 0 in shown                                    # Layer is never dropped
    for index, room in zip(layout.shown, layout.widths):  # numbers keep their width
        assert room == natural[index] or COLUMNS[index].name
        assert room >= min(natural[index], NAME_FLOOR)
    # brute force: the narrowest each kept set can be drawn, names at their soft minimum
    # (while columns can still go) or at the floor (once only Layer is left)
    def narrowest(kept: tuple[int, ...], soft: bool = True) -> int:
        return table_width([min(natural[i], max(COLUMNS[i].min_width, NAME_FLOOR) if soft
                                else NAME_FLOOR) if COLUMNS[i].name else natural[i]
                            for i in kept])
    if narrowest((0,), soft=False) <= width:
        assert layout.width <= width
    # dropping goes in rank order: what is dropped ranks above what is kept
    dropped = [i for i in range(5) if i not in shown]
    assert all(COLUMNS[d].drop > COLUMNS[k].drop for d in dropped for k in shown if k)
    # and nothing was dropped that could have stayed (one more column would not fit)
    if dropped:
        back = min(dropped, key=lambda i: COLUMNS[i].drop)
        assert narrowest(tuple(sorted(shown | {back}))) > width
    assert layout.dropped == tuple(COLUMNS[i].header for i in dropped)
    if table_width(natural) <= width:
        assert layout.unchanged and list(layout.widths) == natural


def lint(path: str, positions: int) -> Lint:
    return Lint("NA002", path, f"batch norm with a batch of 2: statistics from 2 samples "
                f"({2 * positions} values per channel) are noisy", 0, "use GroupNorm")


def test_identical_lints_are_one_line_with_a_count() -> None:
    lints = tuple(lint(f"layer{i}.bn", 49) for i in range(53)) + (
        Lint("NA001", "conv", "bias 'conv.bias' (8 values) is added right before a norm", 8,
             "bias=False"),)
    text = write("lint", "table", LintReport(lints), width=300)
    assert text.splitlines()[0] == "Lints (54):"
    grouped = [line for line in text.splitlines() if "NA002" in line]
    assert grouped == ["  NA002 ×53: batch norm with a batch of 2: statistics from 2 samples "
                       "(98 values per channel) are noisy (layer0.bn, layer1.bn, layer2.bn, "
                       "… and 50 more). Fix: use GroupNorm"]
    assert "  NA001 conv: bias 'conv.bias' (8 values)" in text       # a single one as before
    document = json.loads(write("lint", "json", LintReport(lints)))
    assert len(document["lints"]) == 54                              # JSON keeps every lint


def test_grouped_lints_show_the_range_of_what_differs() -> None:
    text = write("lint", "table", LintReport((lint("a", 49), lint("b", 9))), width=300)
    assert "(18–98 values per channel)" in text and "(a, b)" in text


def test_lints_wrap_at_the_width_with_indented_continuations() -> None:
    text = write("lint", "table", LintReport(tuple(lint(f"l{i}", 4) for i in range(3))),
                 width=50)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 50 and lines[2].startswith("    ")


class Looped(nn.Module):
    """One cell applied to three different lengths, one activation shared by two."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.Conv1d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.cell(x))
        x = self.pool(x)
        x = self.act(self.cell(x))
        return self.cell(self.pool(x))


def test_every_call_keeps_its_shapes() -> None:
    report = netanatomy.analyze(Looped(), (1, 4, 16))
    cell, act = report.layer("cell"), report.layer("act")
    assert cell.calls == 3 and cell.call_shapes == (((1, 4, 16),), ((1, 4, 8),), ((1, 4, 4),))
    assert act.call_shapes == (((1, 4, 16),), ((1, 4, 8),))
    assert cell.output_shape == (1, 4, 4)                       # the last call, as before
    assert report.layer("pool").call_shapes == (((1, 4, 8),), ((1, 4, 4),))
    document = report_to_dict(report)
    rows = {row["path"]: row for row in document["layers"]}
    assert rows["cell"]["call_shapes"] == [[[1, 4, 16]], [[1, 4, 8]], [[1, 4, 4]]]
    assert rows[""]["call_shapes"] == [[[1, 4, 4]]]
    table = render_table_text(report, None, 160)
    assert "1×4×4 ×3" in table and "1×4×8 ×2" in table
    csv_rows = report_to_csv(report).splitlines()
    assert csv_rows[0].endswith(",call_shapes")
    assert any(r.endswith("1x4x16; 1x4x8; 1x4x4") for r in csv_rows)


def test_a_module_called_once_has_one_call() -> None:
    report = netanatomy.analyze(nn.Sequential(nn.Linear(3, 5)), (2, 3))
    assert report.layer("0").call_shapes == (((2, 5),),)
    assert "×1" not in render_table_text(report, None, 160)


def test_spec_modules_keep_their_call() -> None:
    from netanatomy import spec

    report = spec.analyze("example:alexnet", {})
    assert all(len(row.call_shapes) == row.calls for row in report.layers)


def test_measure_reports_progress_per_layer() -> None:
    from netanatomy.diagnostics.measured_rf import measure_receptive_fields

    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3))
    seen: list[tuple[int, int]] = []
    measure_receptive_fields(model, (1, 1, 16, 16), ["0", "2"], memory_check=False,
                             progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 2), (1, 2), (2, 2)]
