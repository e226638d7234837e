"""The per-module roofline (:mod:`netanatomy.analysis.roofline_modules`) in the ``training``
and ``inference`` outputs: the ``roofline`` key of their JSON documents and the short
top-N table. Helpers, not renderers: each command's renderer calls them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netanatomy.analysis.roofline_modules import CONVENTIONS, ModuleRooflines
from netanatomy.render.format import format_bytes, format_count, format_seconds

TOP_ROWS = 10
"""Rows the table shows per table (the JSON lists every row)."""

HEADER = ("module (own ops)", "type", "phase", "FLOPs", "bytes", "FLOP/B", "bound", "time",
          "share")


def roofline_document(rows: ModuleRooflines | None) -> dict[str, Any] | None:
    """The ``roofline`` key: device, peak and ridge point, and every row (None: no device)."""
    if rows is None:
        return None
    return {"device": rows.device, "dtype": rows.dtype, "peak_flops": rows.peak_flops,
            "bandwidth": rows.bandwidth, "ridge_point": rows.ridge_point,
            "conventions": list(CONVENTIONS),
            "modules": [{"path": r.path, "type": r.type, "phase": r.phase,
                         "flops": r.flops, "bytes": r.bytes, "intensity": r.intensity,
                         "bound": r.bound, "time_s": r.time_s, "share": r.share,
                         "scope": r.scope, "status": r.status} for r in rows.modules]}


def roofline_heading(rows: ModuleRooflines) -> str:
    return (f"Roofline per module on {rows.device}: {rows.dtype} peak "
            f"{rows.peak_flops / 1e12:,.1f} TFLOP/s, {rows.bandwidth / 1e9:,.0f} GB/s, ridge "
            f"point {rows.ridge_point:,.1f} FLOP/B (compute-bound at or above it)")


def roofline_rows(rows: ModuleRooflines, phases: Sequence[str] | None = None,
                  count: int = TOP_ROWS) -> tuple[list[tuple[str, ...]], str]:
    """The table rows (header first) of the ``count`` slowest modules' own ops, and the
    line under them (how many are not shown, the bound rule)."""
    shown, hidden = rows.top(count, phases)
    table: list[tuple[str, ...]] = [HEADER]
    for row in shown:
        mark = "*" if row.status != "exact" else ""
        table.append((row.path or "<root>", row.type, row.phase,
                      "?" if row.flops is None else format_count(row.flops) + mark,
                      "?" if row.bytes is None else format_bytes(row.bytes) + mark,
                      "–" if row.intensity is None else f"{row.intensity:,.1f}",
                      row.bound or "–", "?" if row.time_s is None else
                      format_seconds(row.time_s) + mark,
                      "–" if row.share is None else f"{row.share:.1%}"))
    runs = ", ".join(name for name in rows.runs if phases is None or name in phases)
    more = f"{hidden} more not shown; " if hidden else ""
    footer = (f"({more}share of the {runs} time; mixed: ops on both sides of the ridge; "
              "--format json lists every module and the containers' sums)")
    return table, footer
