"""The ``rf`` command's renderers: the receptive-field table, the summary JSON with the
measured fields under ``receptive_field.measured``, and one CSV row per layer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from netanatomy.analysis.receptive_field import plain_number
from netanatomy.render.csv import csv_text, per_axis
from netanatomy.render.json import report_to_dict
from netanatomy.render.registry import Options, renderer
from netanatomy.render.results import FieldResult
from netanatomy.render.rf_table import render_rf_text

RF_COLUMNS = ("path", "type", "depth", "output_shape", "size", "stride", "padding", "global",
              "by")
MEASURED_COLUMNS = ("measured_size", "measured_global", "measured_clipped", "measured_error")
"""Appended when the fields were measured (``--measure``)."""


@renderer("rf", "table", default_depth=3)
def rf_table_text(result: FieldResult, options: Options) -> str:
    return render_rf_text(result.report, options.depth, result.measured, options.width)


@renderer("rf", "json")
def rf_json(result: FieldResult, options: Options) -> str:
    """The summary document, with the measured fields (when asked) under
    ``receptive_field.measured``."""
    data = report_to_dict(result.report, options.depth)
    if result.measured is not None and data.get("receptive_field") is not None:
        data["receptive_field"]["measured"] = {
            path: ({"error": value} if isinstance(value, str) else dataclasses.asdict(value))
            for path, value in result.measured.items()}
    return json.dumps(data, indent=options.indent)


def axes(values: Any) -> str:
    return per_axis(plain_number(v) for v in values)


def field_cells(field: Any) -> dict[str, Any]:
    if field is None:
        return {}
    if field.is_global:
        return {"global": True, "by": field.by}
    return {"size": axes(field.size), "stride": axes(field.stride),
            "padding": axes(field.padding), "global": False}


def measured_cells(measured: Any) -> dict[str, Any]:
    if measured is None:
        return {}
    if isinstance(measured, str):
        return {"measured_error": measured}
    return {"measured_size": per_axis(measured.size), "measured_global": measured.is_global,
            "measured_clipped": per_axis(int(c) for c in measured.clipped)}


@renderer("rf", "csv")
def rf_csv(result: FieldResult, options: Options) -> str:
    """One row per layer: size, stride and padding per axis (``7x7``), ``global`` and the
    layer it is global ``by``; with ``--measure`` the measured size, whether it is global,
    per axis whether the input border clipped it (1/0), or why it was not measured."""
    columns = RF_COLUMNS + (MEASURED_COLUMNS if result.measured is not None else ())
    rows = []
    for row in result.report.tree(options.depth):
        shape = "" if row.output_shape is None else per_axis(row.output_shape)
        cells = {"path": row.path, "type": row.type, "depth": row.depth,
                 "output_shape": shape, **field_cells(row.rf)}
        if result.measured is not None:
            cells.update(measured_cells(result.measured.get(row.path)))
        rows.append(cells)
    return csv_text(columns, rows)
