"""One CSV row per layer, with the same column names as the JSON ``layers`` entries."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netanatomy.render.json import layer_to_dict

if TYPE_CHECKING:
    from netanatomy.analysis.report import LayerRow, Summary, UncountedOp

COLUMNS = ("path", "type", "depth", "calls", "output_shape", "params", "params_total",
           "trainable_params", "frozen_params", "buffers", "shared_params", "macs", "flops",
           "elementwise_flops", "activation_bytes", "output_bytes", "status", "rf_size",
           "rf_stride", "rf_padding", "rf_global", "uncounted", "bytes_accessed",
           "call_shapes")
"""Columns of the summary CSV (only ever appended to); unknown numbers are written ``?``."""

UNKNOWN = "?"


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV with a header line; missing cells are empty, extra keys ignored."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def per_axis(values: Any) -> str:
    """``(7, 7)`` → ``"7x7"`` (the CSV form of shapes and per-axis values)."""
    return "x".join(str(v) for v in values)


def uncounted_cell(ops: tuple[UncountedOp, ...]) -> str:
    """``"aten.foo x2; aten.bar x1"``."""
    return "; ".join(f"{u.op} x{u.count}" for u in ops)


def report_to_csv(report: Summary, depth: int | None = None) -> str:
    """CSV text; shapes are written as ``1x3x224x224``."""
    return csv_text(COLUMNS, (layer_csv_row(row) for row in report.tree(depth)))


def layer_csv_row(row: LayerRow) -> dict[str, Any]:
    """One layer as CSV cells."""
    data = layer_to_dict(row)
    shape = data["output_shape"]
    data["output_shape"] = "" if shape is None else per_axis(shape)
    field = data.pop("rf")
    if field is not None:
        data["rf_global"] = field["global"]
        for key in ("size", "stride", "padding"):
            if key in field:
                data[f"rf_{key}"] = per_axis(field[key])
    for key in ("macs", "flops", "elementwise_flops", "bytes_accessed"):
        if data[key] is None:
            data[key] = UNKNOWN
    data["uncounted"] = uncounted_cell(row.uncounted)
    data["call_shapes"] = call_shapes_cell(data["call_shapes"])
    return data


def call_shapes_cell(calls: list[list[Any]]) -> str:
    """Every call's output shapes: calls apart by ``;``, a call's outputs by ``,``
    (``"1x8x4x4; 1x8x2x2"``)."""
    return "; ".join(",".join(per_axis(shape) for shape in call) for call in calls)
