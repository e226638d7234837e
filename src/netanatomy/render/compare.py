"""Side-by-side comparison of reports (with ratios), and sweeps over symbol values."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from netanatomy.render.format import format_bytes, format_count, json_number
from netanatomy.report import Report

COMPARED = (("params", format_count), ("macs", format_count), ("flops", format_count),
            ("elementwise_flops", format_count), ("param_bytes", format_bytes),
            ("activation_bytes", format_bytes))


def ratio(first: Any, second: Any) -> Any:
    """second / first as a float (or a simplified expression); None when first is 0."""
    try:
        if first == 0:
            return None
    except TypeError:
        pass
    try:
        return float(second) / float(first)
    except (TypeError, ValueError):
        import sympy

        return sympy.simplify(sympy.sympify(second) / first)


def comparison_text(names: Sequence[str], reports: Sequence[Report]) -> str:
    table = Table(header_style="bold", pad_edge=False)
    for header in ("quantity", names[0], names[1], f"ratio ({names[1]} / {names[0]})"):
        table.add_column(header, justify="left" if header == "quantity" else "right")
    for key, fmt in COMPARED:
        a, b = getattr(reports[0].totals, key), getattr(reports[1].totals, key)
        r = ratio(a, b)
        shown = "–" if r is None else (f"{r:.4f}" if isinstance(r, float) else str(r))
        table.add_row(key, fmt(a), fmt(b), shown)
    console = Console(color_system=None, width=160, force_terminal=False)
    with console.capture() as captured:
        console.print(table)
        console.print("MACs = multiply-accumulates; FLOPs = 2 × MACs; elementwise FLOPs apart.")
    return captured.get()


def comparison_json(names: Sequence[str], reports: Sequence[Report]) -> str:
    totals = [{key: json_number(getattr(r.totals, key)) for key, _ in COMPARED} for r in reports]
    ratios = {key: json_number(ratio(getattr(reports[0].totals, key),
                                     getattr(reports[1].totals, key))) for key, _ in COMPARED}
    return json.dumps({"schema": "netanatomy.compare/1", "targets": list(names),
                       "totals": totals, "ratios": ratios}, indent=2)


def sweep_rows(target: str, fixed: Mapping[str, Any], grid: Mapping[str, list[Any]]
               ) -> list[dict[str, Any]]:
    """One row per point of the grid: the symbol values and the totals."""
    from netanatomy import spec

    rows = []
    names = list(grid)
    for combination in itertools.product(*(grid[n] for n in names)):
        values = {**fixed, **dict(zip(names, combination))}
        totals = spec.analyze(target, values).totals
        rows.append({**{n: v for n, v in zip(names, combination)},
                     **{key: json_number(getattr(totals, key)) for key, _ in COMPARED}})
    return rows


def sweep_text(rows: list[dict[str, Any]], names: list[str]) -> str:
    table = Table(header_style="bold", pad_edge=False)
    for header in (*names, "params", "MACs", "FLOPs", "param bytes"):
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*(str(row[n]) for n in names), format_count(row["params"]),
                      format_count(row["macs"]), format_count(row["flops"]),
                      format_bytes(row["param_bytes"]))
    console = Console(color_system=None, width=160, force_terminal=False)
    with console.capture() as captured:
        console.print(table)
    return captured.get()
