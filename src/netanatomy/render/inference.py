"""The ``inference`` command's renderers: a text summary with the per-layer cache, JSON
(``netanatomy.inference/1``, docs/inference.md) and CSV (one row per cached layer).

They take an :class:`~netanatomy.analysis.inference.InferenceReport`.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from netanatomy.analysis.inference import InferenceReport, PhaseCost
from netanatomy.analysis.roofline import Total
from netanatomy.render.csv import csv_text
from netanatomy.render.registry import Options, renderer
from netanatomy.render.roofline_modules import roofline_document, roofline_heading, roofline_rows

SCHEMA = "netanatomy.inference/1"

CONVENTIONS = {
    "flops": "2 x MACs + elementwise FLOPs of the captured forward",
    "bytes": "memory traffic: each operand read once, each output written once (views 0)",
    "kv_cache": "sum over cached layers of batch x tokens x heads_kv x (head_dim_k + "
                "head_dim_v) x bytes: K and V (the factor 2 of vLLM's page size); "
                "tokens = context capped at the layer's sliding window, or the source "
                "length of a cross-attention; heads as the cache holds them (before a "
                "GQA/MQA expansion)",
    "context": "prompt + generate tokens per sequence",
    "activations": "peak of live activation bytes over the prefill forward (liveness in "
                   "execution order; no fragmentation or workspace)",
    "weights": "every parameter and buffer once, in its dtype",
    "prefill": "batch x prompt token ids, no cache, logits of the last position only "
               "where forward takes logits_to_keep",
    "decode": "one token per sequence with a past of prompt (first step) and of prompt + "
              "generate - 2 tokens (last step); generate - 1 steps; exact on the line "
              "between two captures",
    "time": "roofline lower bound: sum over nodes of max(FLOPs / peak, bytes / "
            "bandwidth); decode floor = (weights + KV cache) / bandwidth",
    "fit": "KV budget = usable fraction x memory - weights - activations (vLLM's "
           "profile-then-allocate); memory read as GiB",
}


def total_value(total: Total | None) -> Any:
    return None if total is None else total.value


def phase_document(phase: PhaseCost | None) -> dict[str, Any] | None:
    if phase is None:
        return None
    return {"tokens": phase.tokens, "context": phase.context,
            "macs": total_value(phase.macs), "flops": total_value(phase.flops),
            "bytes": total_value(phase.bytes), "status": phase.flops.status,
            "flops_per_token": phase.per_token(phase.flops),
            "bytes_per_token": phase.per_token(phase.bytes),
            "time_s": total_value(phase.time_s),
            "tokens_per_s": phase.tokens_per_second}


def inference_document(report: InferenceReport) -> dict[str, Any]:
    """The JSON document as Python data (docs/inference.md)."""
    fit = report.fit
    device = report.device
    return {
        "schema": SCHEMA, "model": report.model, "dtype": report.dtype,
        "batch": report.batch, "prompt": report.prompt, "generate": report.generate,
        "context": report.context,
        "memory": {"weights_bytes": report.weight_bytes,
                   "kv_cache_bytes": report.kv_bytes,
                   "activation_bytes": report.activation_bytes,
                   "total_bytes": report.total_bytes},
        "kv_cache": {"dtype": report.kv_dtype, "bytes_per_element": report.kv_itemsize,
                     "bytes_per_token": report.kv_bytes_per_token,
                     "bytes": report.kv_bytes,
                     "layers": [{"index": layer.index, "path": layer.path, "kind": layer.kind,
                                 "heads_kv": layer.heads_kv, "head_dim": layer.head_dim,
                                 "value_dim": layer.value_dim,
                                 "elements_per_token": layer.elements_per_token,
                                 "window": layer.window,
                                 "source_length": layer.source_length,
                                 "tokens": layer.tokens(report.context),
                                 "bytes": layer.bytes(report.batch, report.context,
                                                      report.kv_itemsize)}
                                for layer in report.layers]},
        "prefill": phase_document(report.prefill),
        "decode": None if report.decode_first is None else {
            "first": phase_document(report.decode_first),
            "last": phase_document(report.decode_last), "steps": report.generate - 1,
            "flops": total_value(report.decode_flops)},
        "device": None if device is None else {
            "key": device.device, "name": device.name, "dtype": device.dtype,
            "peak_flops_per_s": device.peak_flops, "bandwidth_bytes_per_s": device.bandwidth,
            "prefill_s": total_value(device.prefill_s),
            "decode_first_s": total_value(device.decode_first_s),
            "decode_last_s": total_value(device.decode_last_s),
            "decode_floor_first_s": device.decode_floor_first_s,
            "decode_floor_last_s": device.decode_floor_last_s,
            "generate_s": total_value(device.generate_s)},
        "fit": None if fit is None else {
            "device": fit.device, "capacity_bytes": fit.capacity,
            "usable_fraction": fit.usable_fraction, "usable_bytes": fit.usable,
            "kv_budget_bytes": fit.kv_budget, "fits": fit.fits, "max_batch": fit.max_batch,
            "at_context": fit.context, "max_context": fit.max_context,
            "at_batch": fit.batch},
        "roofline": roofline_document(report.roofline),
        "config_check": list(report.config_check), "notes": list(report.notes),
        "conventions": CONVENTIONS,
    }


@renderer("inference", "json")
def inference_json(report: InferenceReport, options: Options) -> str:
    return json.dumps(inference_document(report), indent=options.indent)


def gib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**30:,.3f} GiB"


def number(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.4g}{unit}" if isinstance(value, float) else f"{value:,}{unit}"


def phase_rows(report: InferenceReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for label, phase in (("prefill", report.prefill), ("decode, first step",
                                                        report.decode_first),
                         ("decode, last step", report.decode_last)):
        if phase is None:
            continue
        rows.append((label, number(phase.tokens), number(phase.context),
                     number(phase.per_token(phase.flops)), number(phase.per_token(phase.bytes)),
                     number(total_value(phase.time_s), " s"),
                     number(phase.tokens_per_second)))
    return rows


@renderer("inference", "table")
def inference_text(report: InferenceReport, options: Options) -> str:
    console = Console(color_system=None, width=options.width or 160, force_terminal=False)
    memory = Table(title=f"{report.model}: batch {report.batch}, prompt {report.prompt}, "
                         f"generate {report.generate}", header_style="bold", pad_edge=False)
    for header in ("memory", "bytes", "GiB"):
        memory.add_column(header, justify="left" if header == "memory" else "right")
    for label, value in (("weights", report.weight_bytes),
                         (f"KV cache ({report.kv_dtype}, {report.context} tokens)",
                          report.kv_bytes),
                         ("activations (prefill peak)", report.activation_bytes),
                         ("total", report.total_bytes)):
        memory.add_row(label, f"{value:,}", gib(value))
    layers = Table(header_style="bold", pad_edge=False)
    for header in ("layer", "kind", "kv heads", "head dim", "window", "tokens", "bytes"):
        layers.add_column(header, justify="left" if header in ("layer", "kind") else "right")
    for layer in report.layers:
        layers.add_row(layer.path or "<root>", layer.kind, number(layer.heads_kv),
                       number(layer.head_dim), number(layer.window),
                       number(layer.tokens(report.context)),
                       number(layer.bytes(report.batch, report.context, report.kv_itemsize)))
    phases = Table(header_style="bold", pad_edge=False)
    for header in ("phase", "tokens", "context", "FLOPs/token", "bytes/token", "time",
                   "tokens/s"):
        phases.add_column(header, justify="left" if header == "phase" else "right")
    for row in phase_rows(report):
        phases.add_row(*row)
    with console.capture() as capture:
        console.print(memory)
        console.print(f"KV cache per token: {report.kv_bytes_per_token:,} bytes")
        console.print(layers)
        console.print(phases)
        for line in device_lines(report):
            console.print(line)
        if report.roofline is not None:
            console.print(roofline_heading(report.roofline))
            for phase in report.roofline.runs:
                rows, footer = roofline_rows(report.roofline, (phase,))
                table = Table(header_style="bold", pad_edge=False)
                for i, header in enumerate(rows[0]):
                    table.add_column(header, justify="left" if i < 3 else "right")
                for row in rows[1:]:
                    table.add_row(*row)
                console.print(table)
                console.print(footer)
        for note in (*report.config_check, *report.notes):
            console.print(f"note: {note}")
        console.print("FLOPs = 2 x MACs + elementwise; KV = 2 (K and V) x heads_kv x "
                      "head_dim x tokens x batch x bytes per layer; times are roofline "
                      "lower bounds (docs/inference.md).")
    return capture.get()


def device_lines(report: InferenceReport) -> list[str]:
    lines = []
    if report.device is not None:
        d = report.device
        lines.append(f"device {d.device} ({d.name}), {d.dtype} peak "
                     f"{d.peak_flops / 1e12:,.1f} TFLOP/s, {d.bandwidth / 1e9:,.0f} GB/s; "
                     f"decode floor (weights + KV) / bandwidth: "
                     f"{number(d.decode_floor_first_s, ' s')} … "
                     f"{number(d.decode_floor_last_s, ' s')}; whole generation "
                     f"{number(total_value(d.generate_s), ' s')}")
    if report.fit is not None:
        f = report.fit
        unbounded = "unbounded (every layer windowed)" if f.max_context is None else (
            f"{f.max_context:,}")
        lines.append(f"fit ({f.usable_fraction:g} of {gib(f.capacity)}): "
                     f"{'fits' if f.fits else 'does NOT fit'}; KV budget {gib(f.kv_budget)}; "
                     f"largest batch at {f.context:,} tokens: {f.max_batch:,}; largest "
                     f"context at batch {f.batch}: {unbounded}")
    return lines


CSV_COLUMNS = ("index", "path", "kind", "heads_kv", "head_dim", "value_dim",
               "elements_per_token", "window", "source_length", "tokens", "kv_dtype",
               "bytes_per_element", "bytes")


@renderer("inference", "csv")
def inference_csv(report: InferenceReport, options: Options) -> str:
    """One row per cached layer (the totals: --format json)."""
    rows = [{"index": layer.index, "path": layer.path, "kind": layer.kind,
             "heads_kv": "" if layer.heads_kv is None else layer.heads_kv,
             "head_dim": layer.head_dim, "value_dim": layer.value_dim,
             "elements_per_token": layer.elements_per_token,
             "window": "" if layer.window is None else layer.window,
             "source_length": "" if layer.source_length is None else layer.source_length,
             "tokens": layer.tokens(report.context), "kv_dtype": report.kv_dtype,
             "bytes_per_element": report.kv_itemsize,
             "bytes": layer.bytes(report.batch, report.context, report.kv_itemsize)}
            for layer in report.layers]
    return csv_text(CSV_COLUMNS, rows)
