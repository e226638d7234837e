"""The ``diagnose`` command's renderers: the table, the ``netanatomy.diagnose/1`` JSON
document, and one CSV row per layer (the verdict, lints, steps and ERF are in the JSON)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from netanatomy.render.csv import csv_text, per_axis
from netanatomy.render.diagnose_json import diagnose_document
from netanatomy.render.diagnose_table import render_diagnose_text
from netanatomy.render.registry import Options, renderer

if TYPE_CHECKING:
    from netanatomy.diagnostics.result import DiagnoseReport, LayerDiagnostics

STATISTICS = ("act_mean", "act_std", "dead_fraction", "saturated_fraction",
              "grad_output_norm", "grad_input_norm", "gain", "sigma_max", "sigma_method")
DIAGNOSE_COLUMNS = ("path", "type", "depth", "calls", "output_shape", *STATISTICS,
                    "init_std", "init_expected", "init_ratio", "init_flagged")


@renderer("diagnose", "table", default_depth=3)
def diagnose_text(report: DiagnoseReport, options: Options) -> str:
    return render_diagnose_text(report, options.depth, options.width)


@renderer("diagnose", "json")
def diagnose_json(report: DiagnoseReport, options: Options) -> str:
    return json.dumps(diagnose_document(report, options.depth), indent=options.indent)


def layer_cells(row: LayerDiagnostics) -> dict[str, Any]:
    cells: dict[str, Any] = {"path": row.path, "type": row.type, "depth": row.depth,
                             "calls": row.calls,
                             "output_shape": "" if row.output_shape is None
                             else per_axis(row.output_shape)}
    cells.update({key: getattr(row, key) for key in STATISTICS})
    if row.init is not None:
        cells.update(init_std=row.init.std, init_expected=row.init.expected,
                     init_ratio=row.init.ratio, init_flagged=row.init.flagged)
    return cells


@renderer("diagnose", "csv")
def diagnose_csv(report: DiagnoseReport, options: Options) -> str:
    """One row per layer: activation and gradient statistics, σ max, the init check;
    empty cells where a statistic does not apply."""
    rows = [layer_cells(row) for row in report.layers
            if options.depth is None or row.depth <= options.depth]
    return csv_text(DIAGNOSE_COLUMNS, rows)
