"""One CSV row per layer, with the same column names as the JSON ``layers`` entries."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from netanatomy.render.json import layer_to_dict

if TYPE_CHECKING:
    from netanatomy.report import Report

COLUMNS = ("path", "type", "depth", "calls", "output_shape", "params", "params_total",
           "trainable_params", "frozen_params", "buffers", "shared_params", "macs", "flops",
           "elementwise_flops", "activation_bytes", "output_bytes", "status", "rf_size",
           "rf_stride", "rf_padding", "rf_global")


def report_to_csv(report: Report, depth: int | None = None) -> str:
    """CSV text; shapes are written as ``1x3x224x224``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in report.tree(depth):
        data = layer_to_dict(row)
        shape = data["output_shape"]
        data["output_shape"] = "" if shape is None else "x".join(map(str, shape))
        field = data.pop("rf")
        if field is not None:
            data["rf_global"] = field["global"]
            for key in ("size", "stride", "padding"):
                if key in field:
                    data[f"rf_{key}"] = "x".join(map(str, field[key]))
        writer.writerow(data)
    return buffer.getvalue()
