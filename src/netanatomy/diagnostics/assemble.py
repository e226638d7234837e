"""Turning what the hooks recorded into a :class:`DiagnoseReport`: per-layer rows, the
initialisation and spectral checks, the verdict, the lints and the effective field."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from netanatomy.analysis.dataflow import DataFlow
from netanatomy.analysis.lints import LintOptions, lint_graph
from netanatomy.analysis.summary import summarize
from netanatomy.diagnostics.init_check import init_checks
from netanatomy.diagnostics.recorder import Recording
from netanatomy.diagnostics.result import (
    DiagnoseReport,
    EffectiveField,
    InitCheck,
    LayerDiagnostics,
    ParamStats,
    StepRecord,
)
from netanatomy.diagnostics.spectral import sigma_max
from netanatomy.diagnostics.verdict import judge
from netanatomy.frontends.torch.fallback import capture_with_fallback


def static_report(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[Any, str]:
    """The training-mode analysis on meta (graph, receptive fields), or a note why not."""
    try:
        return summarize(capture_with_fallback(model, inputs, {}, "meta", True)), ""
    except Exception as error:  # the diagnosis goes on without lints
        return None, f"static analysis failed, lints skipped: {error}"


def assemble(model: nn.Module, work: nn.Module, inputs: tuple[torch.Tensor, ...],
             record: Recording, history: list[StepRecord], loss_name: str, device: str,
             training: bool, seed: int, spectral: bool, effective_field: bool,
             erf_layer: str | None, erf_fraction: float,
             options: LintOptions) -> DiagnoseReport:
    notes: list[str] = []
    modules = dict(work.named_modules())
    report, note = static_report(model, inputs)
    notes += [note] if note else []
    params = dict(work.named_parameters())
    checks = init_checks(DataFlow(report.graph), params) if report is not None else ()
    by_param = {check.param: check for check in checks}
    sigmas = {path: sigma_max(module, record.records[path].input_shape)
              if spectral else (None, None) for path, module in modules.items()}
    rows = tuple(layer_row(path, module, record.records[path],
                           by_param.get(f"{path}.weight" if path else "weight"), sigmas[path])
                 for path, module in modules.items())
    finite = all(math.isfinite(norm) for norm in history[-1].grad_norms.values())
    verdict = judge(record, modules, {p: s[0] for p, s in sigmas.items()}, finite)
    lints = lint_graph(report.graph, report, options, modules, checks) \
        if report is not None else ()
    erf = None
    if effective_field and inputs[0].is_floating_point() and inputs[0].dim() >= 3:
        layer = erf_layer or last_local_layer(record, inputs[0], report)
        work.eval()  # batch-norm statistics would spread the gradient over the image
        erf, note = measure_erf(work, inputs, layer, erf_fraction, report,
                                explicit=erf_layer is not None)
        work.train(training)
        notes += [note] if note else []
    return DiagnoseReport(layers=rows, verdict=verdict, lints=lints, loss=history[-1].loss,
                          loss_name=loss_name, input_shapes=tuple(tuple(t.shape)
                                                                  for t in inputs),
                          device=device, training=training, seed=seed, steps=tuple(history),
                          erf=erf, notes=tuple(notes))


def last_local_layer(record: Recording, image: torch.Tensor, report: Any) -> str | None:
    """The last leaf (execution order) whose output keeps the input's spatial axes, each
    larger than 1, and whose computed field is not global: the deepest layer with a
    meaningful effective field. None: let the ERF module choose."""
    for path in reversed(record.order):
        shape = record.records[path].output_shape
        if shape is None or len(shape) != image.dim() or min(shape[2:]) <= 1:
            continue
        try:
            field = report.layer(path).rf if report is not None else None
        except KeyError:
            continue
        if field is None or not field.is_global:
            return path
    return None


def measure_erf(work: nn.Module, inputs: tuple[torch.Tensor, ...], layer: str | None,
                fraction: float, report: Any, explicit: bool
                ) -> tuple[EffectiveField | None, str]:
    """The ERF of ``layer`` (default: the last spatial one) beside its computed field; a
    failure is an error when the user chose the layer, a note otherwise."""
    from netanatomy.diagnostics.erf import default_erf_layer, effective_receptive_field
    from netanatomy.errors import NetanatomyError

    try:
        path = layer if layer is not None else default_erf_layer(work, inputs)
        theoretical = None
        if report is not None:
            field = report.layer(path).rf
            if field is not None and not field.is_global and all(
                    isinstance(s, int) for s in field.size):
                theoretical = tuple(field.size)
        return effective_receptive_field(work, inputs, path, fraction, theoretical), ""
    except (NetanatomyError, KeyError) as error:
        if explicit:
            raise
        return None, f"effective receptive field not measured: {error}"


def param_stats(module: nn.Module, prefix: str) -> tuple[ParamStats, ...]:
    stats = []
    for name, parameter in module.named_parameters(recurse=False):
        weight_norm = float(parameter.detach().double().norm())
        grad = None if parameter.grad is None else float(parameter.grad.double().norm())
        ratio = grad / weight_norm if grad is not None and weight_norm > 0 else None
        stats.append(ParamStats(f"{prefix}.{name}" if prefix else name,
                                tuple(parameter.shape), weight_norm, grad, ratio))
    return tuple(stats)


def layer_row(path: str, module: nn.Module, record: Any, init: InitCheck | None,
              sigma: tuple[float | None, str | None]) -> LayerDiagnostics:
    gain = None
    if record.grad_output_norm and record.grad_input_norm is not None:
        gain = record.grad_input_norm / record.grad_output_norm
    return LayerDiagnostics(
        path=path, type=type(module).__name__, depth=0 if not path else path.count(".") + 1,
        calls=record.calls, output_shape=record.output_shape, act_mean=record.act_mean,
        act_std=record.act_std, dead_fraction=record.dead_fraction,
        saturated_fraction=record.saturated_fraction,
        grad_output_norm=record.grad_output_norm, grad_input_norm=record.grad_input_norm,
        gain=gain, params=param_stats(module, path), init=init, sigma_max=sigma[0],
        sigma_method=sigma[1])
