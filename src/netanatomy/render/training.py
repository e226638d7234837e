"""The ``training`` command's renderers: one training step's FLOPs by phase and module and
its memory timeline, as text, JSON (``netanatomy.training/1``, documented in
docs/training.md) and CSV (one row per module)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from netanatomy.analysis.memory_timeline import CATEGORIES, MemoryPoint
from netanatomy.analysis.roofline import worst
from netanatomy.analysis.training import Cost, TrainingReport
from netanatomy.render.csv import csv_text
from netanatomy.render.format import format_bytes, format_count, format_seconds
from netanatomy.render.registry import Options, renderer

SCHEMA = "netanatomy.training/1"
TIMELINE_POINTS = 400
"""The JSON timeline keeps at most this many points (evenly spaced, the peak and the phase
boundaries always kept)."""

MODULE_COLUMNS = ("path", "type", "depth", "forward_macs", "backward_input_macs",
                  "backward_weight_macs", "optimizer_flops", "forward_status",
                  "backward_status", "flops", "bytes", "intensity", "bound", "time_s",
                  "share")
"""The last six: the module's whole step (every phase, submodules included) on the
``--device-type``'s roofline (docs/training.md); empty without a device."""


def cost_document(cost: Cost) -> dict[str, Any]:
    return {"macs": cost.macs, "flops": cost.flops, "elementwise_flops": cost.elementwise_flops,
            "status": cost.status, "uncounted": dict(cost.uncounted)}


def point_document(point: MemoryPoint) -> dict[str, Any]:
    return {"node": point.node, "phase": point.phase, "path": point.path, "op": point.op,
            "bytes": point.total, "by_category": dict(point.by_category)}


def kept_points(report: TrainingReport) -> list[MemoryPoint]:
    """The timeline thinned to :data:`TIMELINE_POINTS`, keeping the first and last point,
    the peak and the last point of every phase."""
    timeline = report.timeline
    step = max(1, len(timeline) // TIMELINE_POINTS)
    keep = set(range(0, len(timeline), step)) | {0, len(timeline) - 1,
                                                  report.peak.point.node + 1}
    keep |= {i for i in range(len(timeline) - 1) if timeline[i].phase != timeline[i + 1].phase}
    return [timeline[i] for i in sorted(keep)]


def training_document(report: TrainingReport) -> dict[str, Any]:
    """The ``netanatomy.training/1`` document."""
    peak = report.peak
    return {
        "schema": SCHEMA,
        "conventions": list(report.conventions),
        "optimizer": report.optimizer,
        "precision": report.precision,
        "tokens": report.tokens,
        "params": report.params,
        "trainable_params": report.trainable_params,
        "phases": {phase: cost_document(cost) for phase, cost in report.phases.items()},
        "backward": {"input": cost_document(report.backward_input),
                     "weight": cost_document(report.backward_weight)},
        "total": cost_document(report.total),
        "flops_per_token": report.flops_per_token,
        "memory": {
            "peak": {**point_document(peak.point), "top_module": peak.top_module,
                     "top_module_bytes": peak.top_module_bytes},
            "end": point_document(report.end),
            "bytes_per_param": dict(report.bytes_per_param),
            "categories": list(CATEGORIES),
            "timeline": [point_document(p) for p in kept_points(report)],
        },
        "model_flops": model_flops_document(report),
        "time": time_document(report),
        "sharding": sharding_document(report),
        "checkpointing": checkpoint_document(report),
        "tensor_parallel": tensor_parallel_document(report),
        "communication": communication_document(report),
        "roofline": roofline_key(report),
        "modules": [module_document(row) for row in report.modules],
        "notes": list(report.notes),
    }


def model_flops_document(report: TrainingReport) -> dict[str, Any] | None:
    """The convention's model FLOPs beside the counted ones (None: not a token model)."""
    model = report.model_flops
    if model is None:
        return None
    return {"convention": model.convention.name, "text": model.text,
            "citation": model.convention.citation, "params": int(model.params),
            "per_token_forward": float(model.forward),
            "per_token_training": float(model.training), "per_step": float(model.per_step)}


def time_document(report: TrainingReport) -> dict[str, Any] | None:
    time = report.time
    if time is None:
        return None
    return {"device": time.device, "dtype": time.dtype, "peak_flops": time.peak_flops,
            "bandwidth": time.bandwidth, "seconds": time.seconds, "status": time.status,
            "by_phase": dict(time.by_phase), "tokens_per_second": time.tokens_per_second,
            "hfu": time.hfu, "mfu": time.mfu,
            "assumes": "roofline: peak reached, compute and memory overlapped, no launch "
                       "overhead (a lower bound on the step time)"}


def sharding_document(report: TrainingReport) -> dict[str, Any] | None:
    shard = report.sharding
    if shard is None:
        return None
    return {"strategy": shard.strategy, "dp": shard.degree,
            "per_device_bytes": shard.total, "by_category": dict(shard.by_category),
            "gathered_unit": report.shard_unit, "gathered_unit_bytes": shard.gathered_unit}


def checkpoint_document(report: TrainingReport) -> dict[str, Any] | None:
    plan = report.checkpointing
    if plan is None:
        return None
    return {"chosen": list(plan.chosen), "freed_bytes": plan.freed,
            "added_flops": plan.added_flops, "peak_before": plan.peak_before,
            "peak_after": plan.peak_after, "budget": plan.budget, "fits": plan.fits,
            "candidates": [{"path": c.path, "type": c.type, "saved_bytes": c.saved,
                            "kept_bytes": c.kept, "freed_bytes": c.freed,
                            "recompute_flops": c.recompute_flops} for c in plan.candidates]}


def tensor_parallel_document(report: TrainingReport) -> dict[str, Any] | None:
    """Megatron tensor parallelism per device (None: ``--tp 1``)."""
    tp = report.tensor_parallel
    if tp is None:
        return None
    return {
        "tp": tp.degree, "sequence_parallel": tp.sequence_parallel,
        "conventions": list(tp.conventions),
        "per_device_bytes": tp.total, "by_category": dict(tp.by_category),
        "saved_activations_bytes": tp.saved_activations,
        "peak": {"node": tp.peak.point.node, "phase": tp.peak.point.phase,
                 "path": tp.peak.point.path, "op": tp.peak.point.op},
        "flops_per_device": dict(tp.flops), "total_flops_per_device": tp.total_flops,
        "seconds_per_device": tp.seconds,
        "plan": [{"module": e.module, "param": e.param, "shape": list(e.shape),
                  "role": e.role, "axis": e.axis, "share": float(e.share),
                  "region": e.region, "heads": e.heads, "note": e.note} for e in tp.plan],
        "regions": [{"index": r.index, "columns": list(r.columns), "rows": list(r.rows),
                     "heads": r.heads, "kv_heads": r.kv_heads,
                     "forward_message_bytes": r.forward_bytes,
                     "backward_message_bytes": r.backward_bytes} for r in tp.regions],
        "communication": {
            "collectives": [{"phase": c.phase, "kind": c.kind, "where": c.where,
                             "message_bytes": c.message_bytes, "sent_bytes": c.sent_bytes}
                            for c in tp.collectives],
            "sent_bytes_per_device": tp.sent_bytes,
            "seconds": None if report.communication is None else report.communication.tp_seconds,
            "assumes": "ring collectives; seconds = bytes sent / the --device-type's link "
                       "bandwidth per direction (null: no device or no link; see the "
                       "top-level communication key)"},
    }


def communication_document(report: TrainingReport) -> dict[str, Any] | None:
    """What one device sends per step and its time on the link (None: one device)."""
    comm = report.communication
    if comm is None:
        return None
    per = comm.per_direction
    return {
        "conventions": list(comm.conventions), "strategy": comm.strategy, "dp": comm.dp,
        "tp": comm.tp, "param_bytes": comm.param_bytes,
        "gradient_bytes": comm.gradient_bytes,
        "collectives": [{"group": t.group, "phase": t.phase, "kind": t.kind,
                         "what": t.what, "message_bytes": t.message_bytes,
                         "sent_bytes": t.sent_bytes,
                         "seconds": None if per is None else t.sent_bytes / per}
                        for t in comm.transfers],
        "dp_sent_bytes": comm.dp_sent_bytes, "tp_sent_bytes": comm.tp_sent_bytes,
        "sent_bytes_per_device": comm.sent_bytes, "link": comm.link,
        "link_bytes_per_s_per_direction": per, "seconds": comm.seconds,
        "dp_seconds": comm.dp_seconds, "tp_seconds": comm.tp_seconds,
        "compute_seconds": comm.compute_seconds,
        "step_seconds_overlapped": comm.overlapped_seconds,
        "step_seconds_serial": comm.serial_seconds, "reason": comm.reason}


def roofline_key(report: TrainingReport) -> dict[str, Any] | None:
    """Per module and phase on the ``--device-type``'s roofline (None: no device)."""
    from netanatomy.render.roofline_modules import roofline_document

    return None if report.time is None else roofline_document(report.time.modules)


def module_document(row: Any) -> dict[str, Any]:
    return {"path": row.path, "type": row.type, "forward": cost_document(row.forward),
            "backward_input": cost_document(row.backward_input),
            "backward_weight": cost_document(row.backward_weight),
            "optimizer": cost_document(row.optimizer)}


def shown(cost: Cost, value: int | None) -> str:
    if value is None:
        return "?"
    return format_count(value) + ("*" if cost.status == "partial" else "")


def depth_of(path: str) -> int:
    return 0 if not path else path.count(".") + 1


@renderer("training", "table", default_depth=2)
def training_text(report: TrainingReport, options: Options) -> str:
    """Phases, the backward split, per-token figures, memory peak and categories, bytes per
    parameter, then the modules to ``options.depth`` levels."""
    lines = [f"Training step: optimizer {report.optimizer}, precision {report.precision}, "
             f"{format_count(report.tokens)} "
             f"tokens (or samples), {format_count(report.params)} params "
             f"({format_count(report.trainable_params)} trainable)", ""]
    rows: list[tuple[str, ...]] = [("phase", "MACs", "FLOPs", "elementwise FLOPs", "status")]
    parts = [*report.phases.items(), ("backward: input grads", report.backward_input),
             ("backward: weight grads", report.backward_weight), ("total", report.total)]
    for name, cost in parts:
        rows.append((name, shown(cost, cost.macs), shown(cost, cost.flops),
                     shown(cost, cost.elementwise_flops), cost.status))
    lines += aligned(rows)
    per_token = report.flops_per_token
    if per_token is not None:
        lines.append(f"FLOPs per token (or sample): {per_token:,.0f}")
    model = report.model_flops
    if model is not None:
        lines.append(f"model FLOPs per token ({model.text}): "
                     f"{float(model.training):,.0f} per training token, "
                     f"{float(model.forward):,.0f} forward")
    time = report.time
    if time is not None and time.seconds is not None:
        parts_text = ", ".join(f"{phase} {format_seconds(seconds)}"
                               for phase, seconds in time.by_phase.items() if seconds)
        utilisation = "".join(f", {name} {value:.1%}" for name, value in
                              (("HFU", time.hfu), ("MFU", time.mfu)) if value is not None)
        lines.append(f"on {time.device} ({time.dtype} peak {time.peak_flops / 1e12:,.1f} "
                     f"TFLOP/s, {time.bandwidth / 1e9:,.0f} GB/s): step "
                     f"{format_seconds(time.seconds)}{'*' if time.status != 'exact' else ''} "
                     f"({parts_text}); {time.tokens_per_second:,.0f} tokens/s"
                     f"{utilisation} (roofline lower bound on the time)")
    uncounted = {op: n for cost in report.phases.values() for op, n in cost.uncounted.items()}
    if uncounted:
        lines.append("* partial: no rule for " + ", ".join(
            f"{op} ×{n}" for op, n in sorted(uncounted.items(), key=lambda kv: -kv[1])[:6]))
    peak = report.peak
    lines += ["", f"Memory peak: {format_bytes(peak.point.total)} after node "
              f"{peak.point.node} ({peak.point.phase}, {peak.point.op or 'start'} in "
              f"{peak.point.path or '<root>'}); most held by "
              f"{peak.top_module or '<root>'} ({format_bytes(peak.top_module_bytes)})"]
    rows = [("category", "at peak", "after the step")]  # (a new table)
    for category in CATEGORIES:
        rows.append((category, format_bytes(peak.point.by_category[category]),
                     format_bytes(report.end.by_category[category])))
    lines += aligned(rows)
    shard = report.sharding
    if shard is not None:
        unit = (f", one gathered unit {report.shard_unit or '<root>'} "
                f"({format_bytes(int(shard.gathered_unit))}) included"
                if shard.gathered_unit else "")
        lines.append(f"per device with {shard.strategy} over dp={shard.degree}: "
                     f"{format_bytes(int(shard.total))} at the peak{unit} "
                     "(ZeRO/FSDP partitioning; activations per device as captured)")
    lines += tensor_parallel_lines(report)
    lines += communication_lines(report)
    plan = report.checkpointing
    if plan is not None:
        added = "?" if plan.added_flops is None else format_count(plan.added_flops)
        share = ("" if plan.added_flops is None or not report.total.flops else
                 f", +{plan.added_flops / report.total.flops:.1%} of the step")
        budget = ("" if plan.budget is None else
                  f"; budget {format_bytes(plan.budget)}: "
                  f"{'fits' if plan.fits else 'does NOT fit'}")
        lines.append(f"checkpointing {len(plan.chosen)} of {len(plan.candidates)} blocks "
                     f"frees {format_bytes(plan.freed)}, recomputes {added} FLOPs{share}; "
                     f"peak {format_bytes(plan.peak_before)} → "
                     f"{format_bytes(plan.peak_after)} (estimate){budget}")
    per = report.bytes_per_param
    lines.append("bytes per parameter (derived): " + ", ".join(
        f"{name} {value:.2f}" for name, value in per.items() if value is not None))
    depth = options.depth
    rows = [("module", "type", "forward MACs", "bwd input MACs", "bwd weight MACs",
             "optimizer FLOPs")]
    for row in report.modules:
        if depth is not None and depth_of(row.path) > depth:
            continue
        rows.append(("  " * depth_of(row.path) + (row.path or "<root>"), row.type,
                     shown(row.forward, row.forward.macs),
                     shown(row.backward_input, row.backward_input.macs),
                     shown(row.backward_weight, row.backward_weight.macs),
                     shown(row.optimizer, row.optimizer.flops)))
    lines += ["", *aligned(rows), ""]
    if report.time is not None and report.time.modules is not None:
        from netanatomy.render.roofline_modules import roofline_heading, roofline_rows

        table, footer = roofline_rows(report.time.modules)
        lines += [roofline_heading(report.time.modules), *aligned(table), footer, ""]
    lines += [f"convention: {text}" for text in report.conventions]
    lines += [f"note: {text}" for text in report.notes]
    return "\n".join(lines)


def tensor_parallel_lines(report: TrainingReport) -> list[str]:
    """The tensor-parallel summary and its per-module plan (split weights only)."""
    tp = report.tensor_parallel
    if tp is None:
        return []
    flops = tp.total_flops
    seconds = "" if tp.seconds is None else f", {format_seconds(tp.seconds)} on the device"
    lines = [f"per device with tensor parallelism tp={tp.degree}"
             f"{' + sequence parallelism' if tp.sequence_parallel else ''}: "
             f"{format_bytes(tp.total)} at its peak (before data-parallel sharding), "
             f"{'?' if flops is None else format_count(int(flops))} FLOPs{seconds}; "
             f"sends {format_bytes(int(tp.sent_bytes))} per step in "
             f"{len(tp.collectives)} collectives (ring; time: see communication)"]
    rows: list[tuple[str, ...]] = [("split module", "param", "role", "axis", "share",
                                    "heads", "note")]
    for entry in tp.sharded:
        rows.append((entry.module or "<root>", entry.param.rpartition(".")[2], entry.role,
                     str(entry.axis), str(entry.share),
                     "" if entry.heads is None else str(entry.heads), entry.note))
    replicated = len(tp.plan) - len(tp.sharded)
    return [*lines, *aligned(rows), f"({replicated} parameters replicated: norms, row "
            "biases and everything outside the regions)"]


def communication_lines(report: TrainingReport) -> list[str]:
    """What one device sends per step, its time on the link, and the step both ways."""
    comm = report.communication
    if comm is None:
        return []
    groups = [f"{name} {format_bytes(int(sent))}" for name, sent, degree in
              ((f"data parallel ({comm.strategy}, dp={comm.dp})", comm.dp_sent_bytes, comm.dp),
               (f"tensor parallel (tp={comm.tp})", comm.tp_sent_bytes, comm.tp)) if degree > 1]
    kinds = ", ".join(f"{t.kind} of {t.what} {format_bytes(int(t.sent_bytes))}"
                      for t in comm.transfers if t.group == "dp")
    lines = [f"communication per device per step: {format_bytes(int(comm.sent_bytes))} sent"
             + (f" ({'; '.join(groups)})" if groups else "")
             + (f"; data parallel: {kinds}" if kinds else "")]
    if comm.seconds is None:
        lines.append(f"  no communication time: {comm.reason}")
        return lines
    lines.append(f"  on {comm.reason}: {format_seconds(comm.seconds)}"
                 if comm.seconds else f"  nothing sent ({comm.reason})")
    if comm.overlapped_seconds is not None and comm.serial_seconds is not None \
            and comm.compute_seconds is not None:
        lines.append(f"  step per device: compute {format_seconds(comm.compute_seconds)}; "
                     f"perfectly overlapped max(compute, comm) "
                     f"{format_seconds(comm.overlapped_seconds)}, not overlapped compute + "
                     f"comm {format_seconds(comm.serial_seconds)} (bandwidth only, no "
                     "latency: lower bounds)")
    return lines


def aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows as text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                      for i, cell in enumerate(row)).rstrip() for row in rows]


@renderer("training", "json")
def training_json(report: TrainingReport, options: Options) -> str:
    return json.dumps(training_document(report), indent=options.indent)


@renderer("training", "csv")
def training_csv(report: TrainingReport, options: Options) -> str:
    """One row per module (its submodules included)."""
    from netanatomy.analysis.roofline_modules import inclusive

    whole = ({} if report.time is None or report.time.modules is None else
             inclusive(report.time.modules))
    return csv_text(MODULE_COLUMNS, (
        {**roofline_cells(whole.get(row.path)),
         "path": row.path, "type": row.type, "depth": depth_of(row.path),
         "forward_macs": row.forward.macs, "backward_input_macs": row.backward_input.macs,
         "backward_weight_macs": row.backward_weight.macs,
         "optimizer_flops": row.optimizer.flops, "forward_status": row.forward.status,
         "backward_status": worst(row.backward_input.status, row.backward_weight.status)}
        for row in report.modules))


def roofline_cells(row: Any) -> dict[str, Any]:
    """The roofline columns of one module's CSV row (empty: no device or no work)."""
    if row is None:
        return {}
    return {"flops": row.flops, "bytes": row.bytes, "intensity": row.intensity,
            "bound": row.bound, "time_s": row.time_s, "share": row.share}
