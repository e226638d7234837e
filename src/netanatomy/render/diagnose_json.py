"""The ``netanatomy.diagnose/1`` JSON document (keys are only ever added, never renamed)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netanatomy.analysis.findings import LintReport
    from netanatomy.diagnostics.result import DiagnoseReport, LayerDiagnostics

SCHEMA = "netanatomy.diagnose/1"
LINT_SCHEMA = "netanatomy.lint/1"


def plain(value: Any) -> Any:
    """JSON-safe: non-finite floats become strings ("inf", "nan"), tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def layer_entry(row: LayerDiagnostics) -> dict[str, Any]:
    entry = {key: getattr(row, key) for key in (
        "path", "type", "depth", "calls", "output_shape", "act_mean", "act_std",
        "dead_fraction", "saturated_fraction", "grad_output_norm", "grad_input_norm", "gain",
        "sigma_max", "sigma_method")}
    entry["params"] = [dataclasses.asdict(p) for p in row.params]
    entry["init"] = None if row.init is None else dataclasses.asdict(row.init)
    return plain(entry)


def diagnose_document(report: DiagnoseReport, depth: int | None = None) -> dict[str, Any]:
    """The whole report; ``depth`` keeps the layers down to that module depth."""
    erf = None
    if report.erf is not None:
        heatmap = report.erf.heatmap
        erf = {"path": report.erf.path, "fraction": report.erf.fraction,
               "size": list(report.erf.size), "output_position": list(report.erf.output_position),
               "theoretical": None if report.erf.theoretical is None
               else list(report.erf.theoretical),
               "heatmap_shape": None if heatmap is None else list(heatmap.shape)}
    return plain({
        "schema": SCHEMA,
        "conventions": dict(report.conventions),
        "run": {"loss": report.loss, "loss_name": report.loss_name,
                "input_shapes": [list(s) for s in report.input_shapes],
                "device": report.device, "training": report.training, "seed": report.seed,
                "steps": len(report.steps), "notes": list(report.notes)},
        "verdict": dataclasses.asdict(report.verdict),
        "lints": [dataclasses.asdict(lint) for lint in report.lints],
        "layers": [layer_entry(row) for row in report.layers
                   if depth is None or row.depth <= depth],
        "steps": [{"step": s.step, "loss": s.loss, "grad_norms": dict(s.grad_norms)}
                  for s in report.steps],
        "erf": erf,
    })


def lint_document(result: LintReport) -> dict[str, Any]:
    """``netanatomy lint --format json``: the lints alone (``netanatomy.lint/1``)."""
    return {"schema": LINT_SCHEMA, "notes": list(result.notes),
            "lints": [dataclasses.asdict(lint) for lint in result.lints]}
