"""``profile``: prediction against measurement on the machine at hand.

1. **Calibrate** the device (:mod:`netanatomy.diagnostics.calibrate`): matmul FLOP/s per
   dtype and copy bandwidth, as a :class:`~netanatomy.hardware.Device`.
2. **Predict**: capture the forward on meta (:func:`netanatomy.analyze`) and put every node
   on the calibrated roofline (:func:`netanatomy.analysis.roofline.roofline`); a module's
   predicted time is the sum of its nodes' (submodules included).
3. **Measure**: run a private deep copy of the model for real, in eval mode without
   autograd, ``warmup`` untimed then ``repeats`` timed forwards, each module timed by
   forward hooks (:mod:`netanatomy.diagnostics.timing`), median over the repeats; the
   forward without hooks timed the same way for the total; one more forward for the peak
   memory.
4. **Compare**: per module and in total measured / predicted; the distribution of that
   ratio over the leaf modules; the peak memory against the report's activation bytes.

The user's model, its gradients, the RNGs, grad mode and every flag are as they were
(the run is on a copy, inside :func:`~netanatomy.frontends.torch.guard.globals_preserved`).
Timings vary from run to run; nothing here judges them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from netanatomy.analysis.roofline import Roofline, Total, roofline
from netanatomy.diagnostics.calibrate import calibrate, calibration_dtypes
from netanatomy.diagnostics.profile_result import (
    Calibration,
    MemoryComparison,
    ModuleTiming,
    ProfileReport,
    error_stats,
)
from netanatomy.diagnostics.timing import measure_memory, module_times, time_forward
from netanatomy.errors import UsageError
from netanatomy.frontends.torch.guard import globals_preserved
from netanatomy.hardware import Device
from netanatomy.report import Report

__all__ = ["profile"]


def profile(model: nn.Module | str, input_size: Any = None, *, device: str = "cpu",
            repeats: int = 10, warmup: int = 2, depth: int | None = None,
            calibration: Calibration | Device | None = None, seed: int = 0,
            memory_check: bool = True) -> ProfileReport:
    """Predict each module's forward time on the calibrated ``device`` and measure it.

    Args:
        model: an ``nn.Module`` with real parameters (never modified), or a target
            (``"zoo:NAME"``, ``"pkg.module:name"``, ``"file.py:name"``, a spec) built after
            seeding with ``seed``.
        input_size: the input shape, a ``"SHAPE[:dtype]"`` string, or a list of them for
            several positional inputs (a zoo model or a spec has a default); the batch is
            synthetic (standard normal; token ids over the smallest embedding table).
        device: where the copy runs and what is calibrated (``cpu``, ``cuda``, ``cuda:N``).
        repeats: timed forwards (the median is reported); warmup: untimed ones before.
        depth: keep rows down to this module depth (None: all; the error distribution is
            over every leaf module either way).
        calibration: skip the micro-benchmarks: a :class:`Calibration`, or a ``Device``
            whose peaks and bandwidth the prediction uses as they are.
        memory_check: refuse a run whose resident + activation bytes exceed free memory.

    Raises:
        UsageError: bad options, a device that is not here, a model on meta, a dtype the
            calibration has no peak for, or a run that would not fit.
        CaptureError: the model fails on the inputs.
    """
    started = time.perf_counter()
    check_options(device, repeats, warmup, depth, calibration)
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    shapes, model = resolve(model, input_size, seed, cuda)
    report = predict_report(model, shapes)
    chosen = calibrated(calibration, device, report)
    line = chosen.device if isinstance(chosen, Calibration) else chosen
    try:
        prediction = roofline(report.graph, line)
    except UsageError as error:
        raise UsageError(f"{error} (calibration= must give the model's dtype a peak)") \
            from None
    resident = resident_bytes(report, shapes)
    if memory_check:
        check_fits(resident + int(report.totals.activation_bytes), device)
    with globals_preserved(cuda):
        measured = measure(model, shapes, device, repeats, warmup, seed)
    return assemble(model, shapes, device, line, prediction, report, measured, resident,
                    repeats, warmup, depth,
                    chosen if isinstance(chosen, Calibration) else None,
                    time.perf_counter() - started)


def check_options(device: str, repeats: int, warmup: int, depth: int | None,
                  calibration: Any) -> None:
    from netanatomy.frontends.torch.devices import check_device

    check_device(device, "device", real=True)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be an integer of at least 1, got {repeats!r}; the "
                         "median of several (e.g. 10) is reported")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(f"warmup must be an integer of 0 or more, got {warmup!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                              or depth < 0):
        raise UsageError(f"depth must be 0 or more (or None for all), got {depth!r}")
    if calibration is not None and not isinstance(calibration, (Calibration, Device)):
        raise UsageError("calibration must be a Calibration (from calibrate()) or a Device, "
                         f"got {type(calibration).__name__}")


def resolve(model: nn.Module | str, input_size: Any, seed: int,
            cuda: list[int]) -> tuple[list[Any], nn.Module]:
    """The input shapes and the module (a target built after seeding)."""
    from netanatomy.api import check_model
    from netanatomy.diagnostics.run import build_target, input_shapes

    if isinstance(model, str):
        with globals_preserved(cuda):
            torch.manual_seed(seed)
            model, input_size = build_target(model, None, input_size)
    check_model(model, "profile")
    if any(p.is_meta for p in model.parameters()):
        raise UsageError("profile runs the model for real, but its parameters are on the meta "
                         "device: build it on the CPU (or use 'summary', which needs no "
                         "values)")
    if input_size is None:
        raise UsageError("profile needs input_size= (e.g. (32, 3, 224, 224) or "
                         "'1x128:int64')")
    shapes = input_shapes(input_size)
    if any(isinstance(s, str) and "=" in s.partition(":")[0] for s in shapes):
        raise UsageError("profile passes its inputs positionally: give SHAPE[:dtype] "
                         "without NAME=")
    return shapes, model


def predict_report(model: nn.Module, shapes: Sequence[Any]) -> Report:
    """The forward captured on meta (eval mode, as the measured run)."""
    from netanatomy.api import analyze_inputs
    from netanatomy.diagnostics.memory import meta_from_shapes

    return analyze_inputs(model, meta_from_shapes(shapes), {}, "meta", training=False)


def calibrated(calibration: Calibration | Device | None, device: str,
               report: Report) -> Calibration | Device:
    """The given calibration, or a fresh one measuring the model's dtype too."""
    if calibration is not None:
        return calibration
    from netanatomy.analysis.roofline import graph_dtype

    try:
        extra = [graph_dtype(report.graph)]
    except UsageError:
        extra = []
    return calibrate(device, calibration_dtypes(device, extra))


def resident_bytes(report: Report, shapes: Sequence[Any]) -> int:
    """Parameters + buffers + the batch: allocated before the forward starts."""
    from netanatomy.diagnostics.memory import meta_from_shapes

    batch = sum(t.numel() * t.element_size() for t in meta_from_shapes(shapes))
    return int(report.totals.param_bytes) + int(report.totals.buffer_bytes) + batch


def check_fits(estimate: int, device: str) -> None:
    from netanatomy.diagnostics.memory import check_fits as fits

    fits(estimate, device, "profile", "use a smaller input (batch or image size), or "
                                      "memory_check=False")


class Measured:
    """What the real runs gave: per-module (median, min) seconds and calls, the plain
    forward times, the memory."""

    def __init__(self, per_module: dict[str, tuple[float, float]], calls: dict[str, int],
                 types: dict[str, str], plain: list[float],
                 memory: tuple[int | None, int | None, str]) -> None:
        self.per_module, self.calls, self.types = per_module, calls, types
        self.plain, self.memory = plain, memory


def measure(model: nn.Module, shapes: Sequence[Any], device: str, repeats: int,
            warmup: int, seed: int) -> Measured:
    """The real runs, on a private copy in eval mode without autograd."""
    from netanatomy.diagnostics.batch import synthetic_batch

    work = copy.deepcopy(model).to(device).eval()
    inputs = synthetic_batch(work, shapes, seed, device)
    types = {path: type(module).__name__ for path, module in work.named_modules()}

    def forward() -> object:
        return work(*inputs)

    current = torch.cuda.device(device) if torch.device(device).type == "cuda" \
        else contextlib.nullcontext()
    with torch.no_grad(), current:        # CUDA events record on the current device
        plain = time_forward(forward, device, repeats, warmup)
        times = module_times(work, forward, device, repeats, warmup=1)
        memory = measure_memory(forward, device)
    return Measured(times.medians(), times.calls, types, plain, memory)


def assemble(model: nn.Module, shapes: Sequence[Any], device: str, line: Device,
             prediction: Roofline, report: Report, measured: Measured, resident: int,
             repeats: int, warmup: int, depth: int | None, calibration: Calibration | None,
             seconds: float) -> ProfileReport:
    rows = timing_rows(prediction, measured)
    peak, before, method = measured.memory
    memory = MemoryComparison(
        predicted_activation_bytes=int(report.totals.activation_bytes),
        measured_peak_bytes=peak, resident_predicted_bytes=resident,
        resident_measured_bytes=before, method=method)
    total = prediction.time_s
    notes = tuple(note for note in (
        f"{len(report.uncounted)} op(s) without a rule: their time is not predicted "
        f"({', '.join(u.op for u in report.uncounted)})" if report.uncounted else "",
        "hooked forward (root row) took "
        f"{ratio_text(rows, statistics.median(measured.plain))} the plain forward",
    ) if note)
    shown = tuple(row for row in rows if depth is None or row.depth <= depth)
    return ProfileReport(
        model=type(model).__name__, inputs=tuple(map(shape_text, shapes)),
        torch_device=device, device=line, dtype=prediction.dtype, repeats=repeats,
        warmup=warmup, threads=torch.get_num_threads(), rows=shown,
        total_predicted_s=total.value, total_status=total.status,
        total_measured_s=statistics.median(measured.plain), errors=error_stats(rows),
        memory=memory, calibration=calibration, seconds=seconds, notes=notes)


def timing_rows(prediction: Roofline, measured: Measured) -> list[ModuleTiming]:
    """One row per module that ran or that the capture saw ops of, in module order."""
    predicted = prediction.by_module()
    paths = [*measured.types, *(p for p in predicted if p not in measured.types)]
    rows = []
    for path in paths:
        flops, moved, seconds = predicted.get(path, (Total(0, "exact"),) * 3)
        median, fastest = measured.per_module.get(path, (None, None))
        calls = measured.calls.get(path, 0)
        if calls == 0 and path not in predicted:
            continue                                  # never ran, no ops: nothing to say
        rows.append(ModuleTiming(
            path=path, type=measured.types.get(path, "?"),
            depth=path.count(".") + 1 if path else 0, calls=calls,
            predicted_s=seconds.value, status=seconds.status, flops=flops.value,
            bytes=moved.value, measured_s=median, measured_min_s=fastest))
    return containers_summed(rows)


def containers_summed(rows: list[ModuleTiming]) -> list[ModuleTiming]:
    """A container that is never called itself (``ModuleList``, ``ModuleDict``) gets the
    sum of its direct children's measured times (they run one after another), deepest
    first; its ``calls`` stays 0."""
    by_path = {row.path: row for row in rows}
    for row in sorted(rows, key=lambda r: -r.depth):
        if row.calls or row.measured_s is not None:
            continue
        children = [by_path[c.path] for c in rows if c.path != row.path
                    and c.path.rpartition(".")[0] == row.path
                    and by_path[c.path].measured_s is not None]
        if children:
            by_path[row.path] = dataclasses.replace(
                row, measured_s=sum(c.measured_s or 0.0 for c in children),
                measured_min_s=sum(c.measured_min_s or 0.0 for c in children))
    return [by_path[row.path] for row in rows]


def ratio_text(rows: Sequence[ModuleTiming], plain: float) -> str:
    root = next((row for row in rows if row.path == ""), None)
    if root is None or root.measured_s is None or plain <= 0:
        return "an unknown multiple of"
    return f"{root.measured_s / plain:.2f} x"


def shape_text(shape: Any) -> str:
    """A shape as the CLI writes it (``32x3x224x224``); strings as given."""
    if isinstance(shape, str):
        return shape
    if hasattr(shape, "shape"):
        return "x".join(map(str, shape.shape)) + f":{str(shape.dtype).removeprefix('torch.')}"
    return "x".join(map(str, shape))
