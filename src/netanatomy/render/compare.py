"""``compare`` (two analyses side by side, with ratios) and ``sweep`` (totals over a grid of
symbol values): table, JSON and CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from netanatomy.analysis.compare import COMPARED, Comparison
from netanatomy.analysis.sweep import Sweep
from netanatomy.render.csv import csv_text
from netanatomy.render.format import format_bytes, format_count, json_number
from netanatomy.render.registry import Options, renderer

FORMATTERS: dict[str, Callable[[Any], str]] = {
    key: format_bytes if key.endswith("bytes") else format_count for key in COMPARED}
COMPARE_COLUMNS = ("quantity", "first", "second", "ratio")


def ratio_text(value: Any) -> str:
    return "–" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def captured(*renderables: Any, width: int | None = None) -> str:
    console = Console(color_system=None, width=width or 160, force_terminal=False)
    with console.capture() as capture:
        for renderable in renderables:
            console.print(renderable)
    return capture.get()


@renderer("compare", "table")
def comparison_text(comparison: Comparison, options: Options) -> str:
    first, second = comparison.names
    table = Table(header_style="bold", pad_edge=False)
    for header in ("quantity", first, second, f"ratio ({second} / {first})"):
        table.add_column(header, justify="left" if header == "quantity" else "right")
    for key in COMPARED:
        a, b = comparison.values(key)
        table.add_row(key, FORMATTERS[key](a), FORMATTERS[key](b),
                      ratio_text(comparison.ratio(key)))
    return captured(table, "MACs = multiply-accumulates; FLOPs = 2 × MACs; elementwise "
                    "FLOPs apart.", width=options.width)


@renderer("compare", "json")
def comparison_json(comparison: Comparison, options: Options) -> str:
    totals = [{key: json_number(getattr(t, key)) for key in COMPARED}
              for t in comparison.totals]
    ratios = {key: json_number(comparison.ratio(key)) for key in COMPARED}
    return json.dumps({"schema": "netanatomy.compare/1", "targets": list(comparison.names),
                       "totals": totals, "ratios": ratios}, indent=options.indent)


@renderer("compare", "csv")
def comparison_csv(comparison: Comparison, options: Options) -> str:
    """One row per quantity: ``first`` and ``second`` value, ``ratio`` = second / first
    (empty when undefined)."""
    rows = []
    for key in COMPARED:
        a, b = comparison.values(key)
        r = comparison.ratio(key)
        rows.append({"quantity": key, "first": json_number(a), "second": json_number(b),
                     "ratio": "" if r is None else json_number(r)})
    return csv_text(COMPARE_COLUMNS, rows)


def sweep_rows(result: Sweep) -> list[dict[str, Any]]:
    """One row per grid point: the varied values, then the compared totals."""
    return [{**dict(point.values),
             **{key: json_number(getattr(point.totals, key)) for key in COMPARED}}
            for point in result.points]


@renderer("sweep", "table")
def sweep_text(result: Sweep, options: Options) -> str:
    table = Table(header_style="bold", pad_edge=False)
    for header in (*result.names, "params", "MACs", "FLOPs", "param bytes"):
        table.add_column(header, justify="right")
    for point in result.points:
        t = point.totals
        table.add_row(*(str(point.values[n]) for n in result.names), format_count(t.params),
                      format_count(t.macs), format_count(t.flops),
                      format_bytes(t.param_bytes))
    return captured(table, width=options.width)


@renderer("sweep", "json")
def sweep_json(result: Sweep, options: Options) -> str:
    return json.dumps({"schema": "netanatomy.sweep/1", "target": result.target,
                       "rows": sweep_rows(result)}, indent=options.indent)


@renderer("sweep", "csv")
def sweep_csv(result: Sweep, options: Options) -> str:
    """One row per grid point: the varied symbols, then the totals (unknown: ``?``)."""
    rows = [{key: "?" if value is None else value for key, value in row.items()}
            for row in sweep_rows(result)]
    return csv_text((*result.names, *COMPARED), rows)
