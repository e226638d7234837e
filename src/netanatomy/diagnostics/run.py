"""``diagnose``: one (or a few) real forward/backward passes on a private copy of the
model, with per-layer statistics, a gradient verdict, initialisation and spectral checks,
lints and the effective receptive field. The user's model, its gradients and the global
RNG state are left exactly as they were."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from netanatomy.analysis.lints import LintOptions
from netanatomy.diagnostics.assemble import assemble
from netanatomy.diagnostics.batch import (
    check_loss_name,
    default_loss_name,
    loss_value,
    output_tensor,
    synthetic_batch,
    synthetic_target,
)
from netanatomy.diagnostics.memory import guard, meta_from_shapes
from netanatomy.diagnostics.nonfinite import NonFinite, bad_weight, first_non_finite
from netanatomy.diagnostics.recorder import Recording, recording
from netanatomy.diagnostics.result import DiagnoseReport, StepRecord
from netanatomy.diagnostics.verdict import non_finite_verdict
from netanatomy.errors import CaptureError, UsageError
from netanatomy.frontends.torch.guard import globals_preserved, run_preserved


def diagnose(model: nn.Module | str, batch: Any = None, *, target: Any = None,
             input_size: Any = None, loss_fn: str | Callable[[Any, Any], torch.Tensor] |
             None = None, steps: int = 1, lr: float = 0.01, device: str = "cpu",
             training: bool = True, seed: int = 0, spectral: bool = True,
             effective_field: bool = True, erf_layer: str | None = None,
             erf_fraction: float = 0.95, lint_options: LintOptions | None = None,
             progress: Callable[[int, int, float], None] | None = None,
             memory_check: bool = True) -> DiagnoseReport:
    """Run ``model`` for real on a batch and report how well it can learn.

    Args:
        model: an ``nn.Module`` with real (non-meta) parameters; never modified. Or a
            target (``"zoo:NAME"``, ``"pkg.module:name"``, ``"file.py:name"``, a spec), built
            after seeding with ``seed``, so that its initialisation is reproducible too.
        batch: the input tensor, or a tuple of positional inputs. Or give ``input_size``
            (shapes / ``"SHAPE[:dtype]"`` strings) for a synthetic standard-normal batch.
        target: the loss target; synthetic (seeded) when omitted.
        loss_fn: ``"ce"`` (cross entropy), ``"mse"``, ``"sum"`` or a callable
            ``loss_fn(output, target)``; default ce for (N, C) logits, else mse.
        steps: passes; with more than one, SGD steps (``lr``) on the private copy in
            between, and the report holds the last pass and the loss of each.
        device: where the copy runs (``cpu``, ``cuda``).
        training: train mode (batch statistics, dropout on) — the default.
        seed: seeds the synthetic batch, target and dropout (and a target's build).
        spectral, effective_field: skip the power iterations / the ERF pass when False.
        erf_layer, erf_fraction: the layer of the ERF (default: the last spatial one) and
            the share of the gradient mass its size holds.
        lint_options: batch size and object size for the lints.
        progress: called as ``progress(step, steps, loss)`` after every pass.
        memory_check: refuse, before allocating, a run whose peak (estimated on meta
            tensors, see :mod:`netanatomy.diagnostics.memory`) exceeds the free memory.

    A weight, activation, loss or gradient that becomes NaN or infinite stops the run after
    that pass; the verdict is then ``exploding`` and names the first layer and the step.

    Raises:
        UsageError: bad arguments, a model on the meta device, or a run that would not fit
        in memory. CaptureError: the model failed on the batch.
    """
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    if isinstance(model, str):
        with globals_preserved(devices):
            torch.manual_seed(seed)
            model, input_size = build_target(model, batch, input_size)
    if not isinstance(model, nn.Module):
        raise UsageError(f"diagnose() needs an nn.Module, got {type(model).__name__}")
    if steps < 1:
        raise UsageError(f"steps must be at least 1, got {steps}")
    if not 0 < erf_fraction <= 1:
        raise UsageError(f"erf_fraction must lie in (0, 1], got {erf_fraction}; 0.95 keeps "
                         "95 % of the gradient mass")
    if any(p.is_meta for p in model.parameters()):
        raise UsageError("diagnostics run the model for real, but its parameters are on the "
                         "meta device: build it on the CPU (or use 'summary', which needs "
                         "no values)")
    name = loss_fn if isinstance(loss_fn, str) or loss_fn is None else None
    if name is not None:
        check_loss_name(name)
    note = check_memory(model, batch, input_size, training, device) if memory_check else ""
    with run_preserved(model, "none", devices):  # the run itself is on a private copy
        torch.manual_seed(seed)
        report = run_diagnosis(model, batch, target, input_size, loss_fn, steps, lr, device,
                               training, seed, spectral, effective_field, erf_layer,
                               erf_fraction, lint_options or LintOptions(), progress)
    return dataclasses.replace(report, notes=(*report.notes, note)) if note else report


def build_target(target: str, batch: Any, input_size: Any) -> tuple[nn.Module, Any]:
    """The module of a target (a spec is built), and its default input (a zoo model's, a
    spec's own at batch 8) when neither ``batch`` nor ``input_size`` is given."""
    from netanatomy import spec
    from netanatomy.frontends.torch.target import load_target
    from netanatomy.frontends.torch.zoo import ZOO

    if spec.is_spec_target(target):
        model = spec.build(target)
        if batch is None and input_size is None:
            shape = ("x".join(map(str, (8, *spec.input_shape(target)[1:])))
                     + f":{spec.input_dtype(target)}")
            input_size = shape
        return model, input_size
    model = load_target(target)
    name = target.partition(":")[2]
    if batch is None and input_size is None and target.startswith("zoo:") and name in ZOO:
        input_size = ZOO[name].default_input
    return model, input_size


def check_memory(model: nn.Module, batch: Any, input_size: Any, training: bool,
                 device: str) -> str:
    """Refuse a run whose estimated peak does not fit (see :func:`memory.guard`); a note
    when it could not be checked."""
    if (batch is None) == (input_size is None):
        return ""                                  # prepare_inputs says what is wrong
    if batch is not None:
        inputs = (batch,) if isinstance(batch, torch.Tensor) else tuple(batch)
        if not all(isinstance(t, torch.Tensor) for t in inputs):
            return ""
    else:
        inputs = meta_from_shapes(input_shapes(input_size))
    return guard(model, inputs, training=training, device=device, what="diagnose",
                 hint="use a smaller --input (batch or image size), run on a GPU with "
                      "--device cuda, or skip this check with --no-memory-check "
                      "(memory_check=False)")


def input_shapes(input_size: Any) -> list[Any]:
    """``input_size`` as a list of shapes (one shape or string alone becomes a list)."""
    if isinstance(input_size, str) or (
            isinstance(input_size, Sequence) and all(isinstance(s, int) for s in input_size)):
        return [input_size]
    return list(input_size)


def prepare_inputs(work: nn.Module, batch: Any, input_size: Any, seed: int,
                   device: str) -> tuple[torch.Tensor, ...]:
    if (batch is None) == (input_size is None):
        raise UsageError("give exactly one of batch or input_size=")
    if batch is None:
        return synthetic_batch(work, input_shapes(input_size), seed, device)
    inputs = (batch,) if isinstance(batch, torch.Tensor) else tuple(batch)
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise UsageError("batch must be a tensor or a tuple of tensors")
    return tuple(t.to(device) for t in inputs)


def run_diagnosis(model: nn.Module, batch: Any, target: Any, input_size: Any, loss_fn: Any,
                  steps: int, lr: float, device: str, training: bool, seed: int,
                  spectral: bool, effective_field: bool, erf_layer: str | None,
                  erf_fraction: float, options: LintOptions,
                  progress: Callable[[int, int, float], None] | None) -> DiagnoseReport:
    work = copy.deepcopy(model).to(device)
    work.train(training)
    inputs = prepare_inputs(work, batch, input_size, seed, device)
    history: list[StepRecord] = []
    optimizer = torch.optim.SGD([p for p in work.parameters() if p.requires_grad], lr=lr) \
        if steps > 1 else None
    broken: NonFinite | None = None
    with recording(work) as record:
        for step in range(steps):
            broken = bad_weight(work, step)
            loss, loss_name, target = one_pass(work, inputs, target, loss_fn, record, seed)
            history.append(StepRecord(step, float(loss), grad_norms(work)))
            if progress is not None:
                progress(step + 1, steps, float(loss))
            broken = broken or first_non_finite(record, loss, history[-1].grad_norms,
                                                step)
            if broken is not None:
                break
            if optimizer is not None and step < steps - 1:
                optimizer.step()
    report = assemble(model, work, inputs, record, history, loss_name, device, training,
                      seed, spectral, effective_field and broken is None, erf_layer,
                      erf_fraction, options)
    if broken is None:
        return report
    erf_skipped = effective_field and inputs[0].is_floating_point() and inputs[0].dim() >= 3
    return with_non_finite(report, broken, steps, erf_skipped)


def with_non_finite(report: DiagnoseReport, broken: NonFinite, steps: int,
                    erf_skipped: bool) -> DiagnoseReport:
    """The report with the *non-finite* verdict, and notes on what was cut short."""
    notes = [*report.notes]
    if erf_skipped:
        notes.append("effective receptive field not measured: values are not finite")
    if broken.step < steps - 1:
        notes.append(f"stopped after step {broken.step} of {steps} (counted from 0): "
                     f"non-finite {broken.kind}")
    return dataclasses.replace(report, verdict=non_finite_verdict(broken, steps),
                               notes=tuple(notes))


def one_pass(work: nn.Module, inputs: tuple[torch.Tensor, ...], target: Any, loss_fn: Any,
             record: Recording, seed: int) -> tuple[float, str, Any]:
    """Forward, loss and backward; returns (loss, loss name, target used)."""
    record.new_pass()
    work.zero_grad(set_to_none=True)
    live = tuple(t.detach().clone().requires_grad_(True) if t.is_floating_point() else t
                 for t in inputs)
    try:
        output = work(*live)
    except Exception as error:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise CaptureError(f"the model failed on the batch of shape {shapes}: "
                           f"{type(error).__name__}: {error}") from error
    result = output_tensor(output)
    if callable(loss_fn):
        loss, name = loss_fn(output, target), "custom"
    else:
        name = loss_fn or default_loss_name(result, target)
        target = target if target is not None else synthetic_target(name, result, seed)
        loss = loss_value(name, result, target)
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise UsageError("the loss must be a scalar tensor")
    loss.backward()
    return float(loss.detach()), name, target


def grad_norms(work: nn.Module) -> dict[str, float]:
    return {name: float(p.grad.detach().double().norm()) for name, p in
            work.named_parameters() if p.grad is not None}
