"""The ``profile`` command's renderers: predicted vs measured per module as a text table,
JSON (``netanatomy.profile/1``, docs/profile.md) and CSV (one row per module).

The result they take is :class:`~netanatomy.diagnostics.profile_result.ProfileReport`.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from netanatomy.diagnostics.profile_result import (
    Calibration,
    ErrorStats,
    MemoryComparison,
    ModuleTiming,
    ProfileReport,
)
from netanatomy.render.csv import csv_text
from netanatomy.render.format import format_bytes, format_count
from netanatomy.render.registry import Options, renderer

SCHEMA = "netanatomy.profile/1"


def seconds_text(value: float | None) -> str:
    """``0.00123`` → ``"1.23 ms"``; None → ``"?"``."""
    if value is None:
        return "?"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return "0" if value == 0 else f"{value * 1e9:.3g} ns"


def ratio_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def shown(report: ProfileReport, options: Options) -> tuple[ModuleTiming, ...]:
    return tuple(row for row in report.rows
                 if options.depth is None or row.depth <= options.depth)


def heading(report: ProfileReport) -> str:
    peaks = ", ".join(f"{key} {value / 1e9:,.1f} GFLOP/s"
                      for key, value in report.device.dense.items())
    return (f"{report.model} on {report.torch_device} ({report.threads} threads), input "
            f"{', '.join(report.inputs)}, {report.dtype}; {report.device.name}: {peaks}, "
            f"{report.device.bandwidth / 1e9:,.1f} GB/s; median of {report.repeats} "
            f"forwards after {report.warmup} warm-up")


def error_lines(errors: ErrorStats) -> list[str]:
    if not errors.count:
        return ["errors: no leaf module has both times positive"]
    lines = [f"leaf modules compared: {errors.count}; measured/predicted median "
             f"{errors.median_ratio:.2f}, range {errors.min_ratio:.2f} to "
             f"{errors.max_ratio:.2f}; |log10 ratio| median {errors.median_abs_log10:.2f}, "
             f"worst {errors.worst_abs_log10:.2f} ({errors.worst_path})"]
    if errors.left_out:
        lines.append(f"not compared (no work predicted or none measured): "
                     f"{', '.join(errors.left_out[:8])}"
                     + (" …" if len(errors.left_out) > 8 else ""))
    return lines


def memory_lines(memory: MemoryComparison) -> list[str]:
    predicted = format_bytes(memory.predicted_activation_bytes)
    measured = format_bytes(memory.measured_peak_bytes)
    lines = [f"peak memory of the forward: predicted {predicted} (activation bytes, none "
             f"freed), measured {measured} (ratio "
             f"{ratio_text(memory.ratio)}; {memory.method})",
             f"resident before it (parameters, buffers, batch): predicted "
             f"{format_bytes(memory.resident_predicted_bytes)}"
             + ("" if memory.resident_measured_bytes is None else
                f", measured {format_bytes(memory.resident_measured_bytes)}")]
    return lines


@renderer("profile", "table", default_depth=3)
def profile_text(report: ProfileReport, options: Options) -> str:
    grid = Table(header_style="bold", pad_edge=False)
    for header in ("module", "type", "calls", "FLOPs", "bytes", "predicted", "measured",
                   "ratio"):
        grid.add_column(header, justify="left" if header in ("module", "type") else "right")
    for row in shown(report, options):
        name = "  " * row.depth + (row.path.rpartition(".")[2] if row.path else "<root>")
        mark = "" if row.status == "exact" else f" ({row.status})"
        grid.add_row(name, row.type, str(row.calls), format_count(row.flops),
                     format_bytes(row.bytes), seconds_text(row.predicted_s) + mark,
                     seconds_text(row.measured_s), ratio_text(row.ratio))
    console = Console(color_system=None, width=options.width or 160, force_terminal=False)
    with console.capture() as capture:
        console.print(heading(report))
        console.print(grid)
        status = "" if report.total_status == "exact" else f" ({report.total_status})"
        console.print(f"total: predicted {seconds_text(report.total_predicted_s)}{status}"
                      f", measured {seconds_text(report.total_measured_s)} (forward without "
                      f"hooks), ratio {ratio_text(report.total_ratio)}")
        for line in [*error_lines(report.errors), *memory_lines(report.memory),
                     *report.notes]:
            console.print(line)
        console.print("ratio = measured / predicted; the prediction is a roofline lower "
                      "bound (docs/profile.md). A parent's times include its children's.")
    return capture.get()


def row_document(row: ModuleTiming) -> dict[str, Any]:
    return {"path": row.path, "type": row.type, "depth": row.depth, "calls": row.calls,
            "predicted_s": row.predicted_s, "status": row.status, "flops": row.flops,
            "bytes": row.bytes, "measured_s": row.measured_s,
            "measured_min_s": row.measured_min_s, "ratio": row.ratio}


def calibration_document(calibration: Calibration | None) -> dict[str, Any] | None:
    if calibration is None:
        return None
    return {"torch_device": calibration.torch_device, "threads": calibration.threads,
            "seconds": calibration.seconds, "skipped": list(calibration.skipped),
            "measurements": [{"what": m.what, "dtype": m.dtype, "size": m.size,
                              "work": m.work, "seconds": m.seconds, "rate": m.rate}
                             for m in calibration.measurements]}


def profile_document(report: ProfileReport, options: Options) -> dict[str, Any]:
    errors, memory = report.errors, report.memory
    return {
        "schema": SCHEMA, "model": report.model, "inputs": list(report.inputs),
        "torch_device": report.torch_device, "dtype": report.dtype,
        "repeats": report.repeats, "warmup": report.warmup, "threads": report.threads,
        "device": {"key": report.device.key, "name": report.device.name,
                   "dense_flops_per_s": dict(report.device.dense),
                   "bandwidth_bytes_per_s": report.device.bandwidth,
                   "memory_bytes": report.device.memory_bytes},
        "calibration": calibration_document(report.calibration),
        "total": {"predicted_s": report.total_predicted_s, "status": report.total_status,
                  "measured_s": report.total_measured_s, "ratio": report.total_ratio},
        "errors": {"count": errors.count, "median_ratio": errors.median_ratio,
                   "min_ratio": errors.min_ratio, "max_ratio": errors.max_ratio,
                   "median_abs_log10": errors.median_abs_log10,
                   "worst_abs_log10": errors.worst_abs_log10,
                   "worst_path": errors.worst_path, "left_out": list(errors.left_out)},
        "memory": {"predicted_activation_bytes": memory.predicted_activation_bytes,
                   "measured_peak_bytes": memory.measured_peak_bytes, "ratio": memory.ratio,
                   "resident_predicted_bytes": memory.resident_predicted_bytes,
                   "resident_measured_bytes": memory.resident_measured_bytes,
                   "method": memory.method},
        "modules": [row_document(row) for row in shown(report, options)],
        "seconds": report.seconds, "notes": list(report.notes),
        "conventions": dict(report.conventions),
    }


@renderer("profile", "json")
def profile_json(report: ProfileReport, options: Options) -> str:
    return json.dumps(profile_document(report, options), indent=options.indent)


CSV_COLUMNS = ("path", "type", "depth", "calls", "predicted_s", "status", "flops", "bytes",
               "measured_s", "measured_min_s", "ratio")


@renderer("profile", "csv")
def profile_csv(report: ProfileReport, options: Options) -> str:
    """One row per module (empty cells: unknown)."""
    rows = [{key: "" if value is None else value for key, value in row_document(row).items()}
            for row in shown(report, options)]
    return csv_text(CSV_COLUMNS, rows)
