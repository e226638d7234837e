"""Empirical receptive field: the gradient support of one central output on the input.

No formula is involved, so it independently checks the computed field. The model is
*linearised* on a private copy: every weight is set positive (and biases to 0), batch
norm uses identity running statistics, activations are replaced by the identity and
max-pooling by average pooling with the same window (a max routes its gradient to one
input only). All values are then positive, nothing cancels, and an input pixel has a
non-zero gradient exactly when it lies in the output's field. Runs in float64 on the CPU.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from netanatomy.errors import CaptureError, UsageError
from netanatomy.frontends.torch.guard import globals_preserved


@dataclass(frozen=True, slots=True)
class MeasuredField:
    """Gradient support of the central output(s) of one tensor, per spatial axis.

    ``size`` is the largest extent over the central output and its next neighbour on each
    axis; ``clipped`` is True on an axis where the support touches the input border (the
    true field may be larger than measured: use a larger input); ``is_global`` when the
    support covers the whole input.
    """

    size: tuple[int, ...]
    first: tuple[int, ...]
    last: tuple[int, ...]
    output_position: tuple[int, ...]
    clipped: tuple[bool, ...]
    is_global: bool


IDENTITY_FUNCTIONS = {
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.leaky_relu_, F.gelu, F.silu, F.elu, F.elu_,
    F.selu, F.celu, F.hardswish, F.hardsigmoid, F.hardtanh, F.hardtanh_, F.mish, F.softplus,
    F.prelu, F.rrelu, F.sigmoid, F.tanh, F.logsigmoid, torch.relu, torch.relu_, torch.sigmoid,
    torch.tanh, torch.nn.functional.threshold, torch.Tensor.relu, torch.Tensor.relu_,
    torch.Tensor.sigmoid, torch.Tensor.tanh, torch.prelu,
}

MAX_TO_AVG: dict[Callable[..., Any], Callable[..., Any]] = {
    F.max_pool1d: F.avg_pool1d, F.max_pool2d: F.avg_pool2d, F.max_pool3d: F.avg_pool3d,
    F.adaptive_max_pool1d: F.adaptive_avg_pool1d, F.adaptive_max_pool2d: F.adaptive_avg_pool2d,
    F.adaptive_max_pool3d: F.adaptive_avg_pool3d,
}


def max_as_average(function: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> torch.Tensor:
    """Call the average-pooling twin of a max-pooling function with the same window."""
    kwargs = dict(kwargs)
    kwargs.pop("return_indices", None)
    if function in (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d):
        return function(args[0], *args[1:2], **{k: v for k, v in kwargs.items()
                                                 if k == "output_size"})
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    bound = dict(zip(names, args)) | kwargs
    if bound.get("dilation", 1) not in (1, (1,), (1, 1), (1, 1, 1), [1], [1, 1], [1, 1, 1]):
        raise UsageError("--measure cannot linearise a dilated max-pool (average pooling "
                         "has no dilation)")
    return function(bound["input"], bound["kernel_size"], bound.get("stride"),
                    bound.get("padding", 0), bound.get("ceil_mode", False), True)


class Linearised(TorchFunctionMode):
    """Activations → identity, max-pooling → average pooling (above autograd)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func in IDENTITY_FUNCTIONS:
            return args[0] if args else kwargs["input"]
        twin = MAX_TO_AVG.get(func)
        if twin is not None:
            result = max_as_average(twin, args, kwargs)
            if kwargs.get("return_indices") or (len(args) > 6 and args[6]):
                return result, torch.zeros_like(result, dtype=torch.long)
            return result
        return func(*args, **kwargs)


def linearised_copy(model: nn.Module) -> nn.Module:
    """A float64 CPU copy with positive weights, zero biases and identity batch norm."""
    clone = copy.deepcopy(model)
    if any(t.is_meta for t in list(clone.parameters()) + list(clone.buffers())):
        clone = clone.to_empty(device="cpu")
    clone = clone.to(device="cpu", dtype=torch.float64).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in clone.named_parameters():
            if parameter.dim() >= 2:
                fan_in = parameter[0].numel()
                values = torch.rand(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.copy_((0.5 + values) / fan_in)
            elif name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.fill_(1.0)
        for module in clone.modules():
            running_mean = getattr(module, "running_mean", None)
            running_var = getattr(module, "running_var", None)
            if isinstance(running_mean, torch.Tensor) and isinstance(running_var, torch.Tensor):
                running_mean.zero_()
                running_var.fill_(1.0)
    return clone


def support(gradient: torch.Tensor) -> tuple[list[int], list[int]]:
    """First and last non-zero index per spatial axis of (1, C, *spatial)."""
    mask = gradient[0].abs().sum(dim=0) != 0
    first, last = [], []
    for axis in range(mask.dim()):
        other = [d for d in range(mask.dim()) if d != axis]
        hits = mask.any(dim=other) if other else mask
        indices = torch.nonzero(hits).flatten()
        if len(indices) == 0:
            raise CaptureError("the central output does not depend on the input at all")
        first.append(int(indices[0]))
        last.append(int(indices[-1]))
    return first, last


def measure_receptive_field(model: nn.Module, input_shape: Sequence[int],
                            layer: str | None = None) -> MeasuredField:
    """Measure the field of the model output (or of module ``layer``'s output).

    Raises:
        UsageError: the input is not (1, C, *spatial), or ``layer`` does not exist or has no
            spatial output. CaptureError: the linearised model fails to run.
    """
    path = layer or ""
    result = measure_receptive_fields(model, input_shape, [path])[path]
    if isinstance(result, str):
        raise UsageError(result)
    return result


def measure_receptive_fields(model: nn.Module, input_shape: Sequence[int],
                             layers: Sequence[str], *, memory_check: bool = True,
                             progress: Callable[[int, int], None] | None = None
                             ) -> dict[str, MeasuredField | str]:
    """Measure several layers' fields on one linearised forward pass (``""`` = the model
    output). A layer that cannot be measured maps to a message saying why.

    With ``memory_check``, a run whose peak (estimated on meta tensors at batch 1, doubled
    for float64) exceeds the free memory is refused before anything is allocated; where
    free memory cannot be read (not Linux), or the model cannot run on meta, it is not
    checked. ``progress(done, total)`` is called after each layer's gradients.

    Raises:
        UsageError: the input is not (N, C, *spatial), or the run would not fit in memory.
    """
    shape = tuple(input_shape)
    if len(shape) < 3:
        raise UsageError(f"--measure needs a (N, C, *spatial) input, got {shape}")
    if memory_check:
        check_measure_memory(model, shape)
    clone = linearised_copy(model)
    modules = dict(clone.named_modules())
    captured: dict[str, Any] = {}
    handles = [modules[path].register_forward_hook(
        lambda mod, args, out, path=path: captured.__setitem__(path, out))
        for path in layers if path and path in modules]
    x = (0.5 + torch.rand((1, *shape[1:]), generator=torch.Generator().manual_seed(1),
                          dtype=torch.float64)).requires_grad_(True)
    try:
        with Linearised(), globals_preserved():  # forward may draw from the RNGs
            captured[""] = clone(x)
    except Exception as error:
        raise CaptureError(f"the linearised model failed: {type(error).__name__}: {error}") \
            from error
    finally:
        for handle in handles:
            handle.remove()
    results: dict[str, MeasuredField | str] = {}
    for done, path in enumerate(layers):
        if progress is not None:
            progress(done, len(layers))
        output = captured.get(path)
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not isinstance(output, torch.Tensor) or output.dim() != len(shape) \
                or not output.requires_grad:
            results[path] = (f"{path or 'the model output'} has no spatial output to measure "
                             f"(got {type(output).__name__} {tuple(getattr(output, 'shape', ()))})")
            continue
        results[path] = measure_from_output(x, output, shape)
    if progress is not None:
        progress(len(layers), len(layers))
    return results


def check_measure_memory(model: nn.Module, shape: tuple[int, ...]) -> None:
    """Refuse a measurement that would not fit (the linearised copy runs in float64 on the
    CPU, at batch 1: twice a float32 model's estimate)."""
    from netanatomy.diagnostics.memory import guard, meta_from_shapes

    guard(model, meta_from_shapes([(1, *shape[1:])]), training=False, device="cpu",
          what="rf --measure", factor=2,
          hint="use a smaller --input (image size), or skip this check with "
               "--no-memory-check (memory_check=False)")


def measure_from_output(x: torch.Tensor, output: torch.Tensor,
                        shape: tuple[int, ...]) -> MeasuredField:
    """Support of the central output and of its next neighbour along every axis."""
    spatial = tuple(output.shape[2:])
    centre = tuple(size // 2 for size in spatial)
    extents: list[list[int]] = []
    first: list[int] = []
    last: list[int] = []
    for shift in (0, 1):
        position = tuple(min(c + shift, s - 1) for c, s in zip(centre, spatial))
        index: tuple[Any, ...] = (0, slice(None), *position)
        (gradient,) = torch.autograd.grad(output[index].sum(), x, retain_graph=True)
        lows, highs = support(gradient)
        extents.append([high - low + 1 for low, high in zip(lows, highs)])
        if shift == 0:
            first, last = lows, highs
    sizes = tuple(max(per_shift) for per_shift in zip(*extents))
    borders = tuple(n - 1 for n in shape[2:])
    clipped = tuple(low == 0 or high == end for low, high, end in zip(first, last, borders))
    covers_all = all(low == 0 and high == end for low, high, end in zip(first, last, borders))
    return MeasuredField(size=sizes, first=tuple(first), last=tuple(last),
                         output_position=centre, clipped=clipped, is_global=covers_all)
