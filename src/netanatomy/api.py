"""The Python entry point: :func:`analyze` a PyTorch model into a :class:`Report`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netanatomy.errors import UncountedOpsError, UsageError
from netanatomy.report import Report

__all__ = ["analyze", "diagnose", "lint"]


def analyze(model: Any, input_size: Any = None, *, example_inputs: Any = None,
            dtype: Any = None, device: str = "meta", training: bool = False,
            strict: bool = False) -> Report:
    """Analyse ``model`` on one forward pass and return its per-layer report.

    Args:
        model: an ``nn.Module``.
        input_size: the shape of the single input (``(1, 3, 224, 224)``), or a list of
            shapes / ``"SHAPE[:dtype]"`` strings for several positional inputs; a string
            ``"NAME=SHAPE[:dtype]"`` is the keyword input ``NAME`` of ``forward``.
        example_inputs: instead of ``input_size``: a tensor, a tuple of positional inputs,
            or a dict of keyword inputs. Only their shapes and dtypes are used on meta.
        dtype: torch dtype of inputs given by ``input_size`` as plain shapes
            (default float32).
        device: ``"meta"`` (default: nothing allocated), ``"cpu"`` or another torch device
            to run for real. A model that cannot run on meta (data-dependent ops) is re-run
            on the CPU when its parameters fit in 8 GiB, and the report says so.
        training: analyse the train-mode forward (dropout active, batch statistics).
        strict: raise :class:`UncountedOpsError` when an op has no rule.

    Raises:
        UsageError: bad arguments. CaptureError: the model failed on the inputs (the
        message names the layer, its input shapes and what it expects).
    """
    check_model(model, "analyze")
    args, kwargs = resolve_inputs(input_size, example_inputs, dtype)
    return analyze_inputs(model, args, kwargs, device, training, strict)


def analyze_inputs(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                   device: str = "meta", training: bool = False,
                   strict: bool = False) -> Report:
    """:func:`analyze` on resolved positional and keyword inputs."""
    from netanatomy.analysis.summary import summarize
    from netanatomy.frontends.torch.fallback import capture_with_fallback

    graph = capture_with_fallback(model, args, kwargs, device, training)
    report = Report.of(summarize(graph))
    if strict and report.uncounted:
        listing = ", ".join(f"{u.op} x{u.count}" for u in report.uncounted)
        raise UncountedOpsError(f"ops without a rule: {listing}. Their costs are unknown, "
                                "so the totals are partial.")
    return report


def check_model(model: Any, function: str) -> None:
    """Refuse what is not an eager ``nn.Module`` (TorchScript modules included).

    Raises:
        UsageError: naming ``function`` and what was given.
    """
    from torch import nn

    from netanatomy.frontends.torch.target import check_eager

    if not isinstance(model, nn.Module):
        raise UsageError(f"{function}() needs an nn.Module, got {type(model).__name__}")
    check_eager(model)


def resolve_inputs(input_size: Any, example_inputs: Any,
                   dtype: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword inputs as meta-ready tensors (specs become empty tensors)."""
    import torch

    from netanatomy.frontends.torch.inputs import InputSpec, make_input, parse_input_args

    if (input_size is None) == (example_inputs is None):
        raise UsageError("give exactly one of input_size= or example_inputs=")
    if example_inputs is not None:
        if isinstance(example_inputs, torch.Tensor):
            return (example_inputs,), {}
        if isinstance(example_inputs, Mapping):
            return (), dict(example_inputs)
        if isinstance(example_inputs, Sequence):
            return tuple(example_inputs), {}
        raise UsageError("example_inputs must be a tensor, a tuple or a dict, got "
                         f"{type(example_inputs).__name__}")
    if isinstance(input_size, (str, InputSpec)) or (
            isinstance(input_size, Sequence) and all(isinstance(s, int) for s in input_size)):
        input_size = [input_size]
    specs, named = parse_input_args(input_size, dtype)
    return (tuple(make_input(spec, "meta") for spec in specs),
            {name: make_input(spec, "meta") for name, spec in named.items()})


def diagnose(model: Any, batch: Any = None, **options: Any) -> Any:
    """Run ``model`` for real on ``batch`` (or ``input_size=`` for a synthetic one) and
    return a :class:`~netanatomy.diagnostics.result.DiagnoseReport`: activation and
    gradient statistics per layer, a vanishing/exploding verdict, initialisation and
    spectral checks, lints and the effective receptive field. The model is never changed.
    ``model`` may also be a target string (``"zoo:NAME"``, ``"file.py:name"``, a spec),
    built after seeding with ``seed=`` so that its initialisation is reproducible.
    Options: see :func:`netanatomy.diagnostics.run.diagnose`."""
    from netanatomy.diagnostics.run import diagnose as run_diagnose

    if not isinstance(model, str):          # a target is built (seeded) by run_diagnose
        check_model(model, "diagnose")
    return run_diagnose(model, batch, **options)


def lint(model: Any, input_size: Any = None, *, example_inputs: Any = None,
         dtype: Any = None, batch_size: int | None = None,
         object_size: int | None = None) -> tuple[Any, ...]:
    """Static checks (codes NA001…NA008, see :mod:`netanatomy.analysis.lints`) on the
    training-mode graph captured on meta tensors; the weight-initialisation checks need
    real parameter values and are skipped for a model on the meta device.

    Args:
        batch_size: the training batch, for NA002 (default: the input's first axis; an
            input of batch 1 is taken for an inference shape and NA002 is skipped).
        object_size: typical object size in input pixels, for NA005.

    A batch-1 input is captured at batch 2, since training-mode batch norm cannot run on
    one sample; nothing else depends on the batch.
    """
    from netanatomy.analysis.dataflow import DataFlow
    from netanatomy.analysis.lints import LintOptions, lint_graph
    from netanatomy.diagnostics.init_check import init_checks

    check_model(model, "lint")
    args, kwargs = resolve_inputs(input_size, example_inputs, dtype)
    import torch

    first = next(iter([*args, *kwargs.values()]), None)
    single = isinstance(first, torch.Tensor) and first.dim() > 0 and first.shape[0] == 1
    if single:
        args = tuple(doubled(a) for a in args)
        kwargs = {k: doubled(v) for k, v in kwargs.items()}
    report = analyze_inputs(model, args, kwargs, training=True)
    params = {name: p for name, p in model.named_parameters() if not p.is_meta}
    checks = init_checks(DataFlow(report.graph), params)
    options = LintOptions(batch_size or (1 if single else None), object_size,
                          check_batch=batch_size is not None or not single)
    return lint_graph(report.graph, report, options, dict(model.named_modules()), checks)


def doubled(value: Any) -> Any:
    """A tensor of batch 1 expanded to batch 2 (a view: nothing allocated)."""
    import torch

    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == 1:
        return value.expand(2, *value.shape[1:])
    return value
