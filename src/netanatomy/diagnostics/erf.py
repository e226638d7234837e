"""Effective receptive field (Luo et al. 2016, "Understanding the Effective Receptive Field
in Deep Convolutional Neural Networks").

Unlike :mod:`netanatomy.diagnostics.measured_rf` (which checks the *theoretical* field on a
linearised copy), this runs the user's model as it is: real weights, real activations, the
caller's train/eval mode and device. The heatmap is the mean over batch and channels of
|d (central output, summed over batch and channels) / d input|, normalised to sum 1. Its
``size`` per axis is the width of the smallest window, symmetric about the marginal's
mass-weighted centre, that holds ``fraction`` of the marginal's mass.

The model is left as found: hooks are removed, parameter ``.grad`` attributes and buffers
(batch-norm running statistics in train mode) are restored, parameters are never written.
Random number generators are not restored: dropout in train mode draws from them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from netanatomy.diagnostics.recorder import first_tensor
from netanatomy.diagnostics.result import EffectiveField
from netanatomy.errors import CaptureError, UsageError

__all__ = ["default_erf_layer", "effective_receptive_field", "window_width"]

# Mass comparisons tolerate float64 summation error (so fraction=1.0 means "all the mass").
MASS_TOLERANCE = 1e-9


def effective_receptive_field(model: nn.Module, inputs: tuple[torch.Tensor, ...],
                              path: str | None = None, fraction: float = 0.95,
                              theoretical: tuple[int, ...] | None = None) -> EffectiveField:
    """Measure the effective field of the central output of module ``path``.

    Args:
        model: the caller's model, already in the wanted mode and on the inputs' device.
        inputs: the forward arguments; ``inputs[0]`` is the image batch (N, C, *spatial)
            with 1 to 3 spatial axes, floating point.
        path: module path (``""`` = the model itself); ``None`` picks
            :func:`default_erf_layer`.
        fraction: share of the gradient mass the reported window holds, in (0, 1].
        theoretical: the computed field's size per spatial axis, copied into the result.

    Returns:
        An :class:`EffectiveField`; sizes and positions in input / output pixels.

    Raises:
        UsageError: bad fraction, input, path, or a layer without a spatial output.
        CaptureError: the model fails, or the central output does not depend on the input.
    """
    check_fraction(fraction)
    image = check_image(inputs)
    if theoretical is not None and len(theoretical) != image.dim() - 2:
        raise UsageError(f"theoretical field {tuple(theoretical)} has {len(theoretical)} axes "
                         f"but the input has {image.dim() - 2} spatial axes")
    x = image.detach().clone().requires_grad_(True)
    with preserved_state(model), torch.enable_grad():
        chosen, output = run_and_capture(model, (x, *inputs[1:]), path)
        position = tuple(size // 2 for size in output.shape[2:])
        heatmap = gradient_heatmap(output, x, position, chosen)
    size = tuple(window_width(marginal(heatmap, axis), fraction) for axis in range(heatmap.ndim))
    return EffectiveField(path=chosen, fraction=fraction, size=size, output_position=position,
                          theoretical=None if theoretical is None else tuple(theoretical),
                          heatmap=heatmap)


def default_erf_layer(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str:
    """The path :func:`effective_receptive_field` measures when given ``path=None``: the
    last module (in order of forward completion, so the model itself counts last) whose
    first tensor output is floating point with as many axes as ``inputs[0]``.

    Runs one forward pass without gradients; the model is left as found.

    Raises:
        UsageError: bad input, or no module has a spatial output. CaptureError: the model
            fails.
    """
    image = check_image(inputs)
    with preserved_state(model), torch.no_grad():
        chosen, _ = run_and_capture(model, (image, *inputs[1:]), None)
    return chosen


def check_fraction(fraction: float) -> None:
    if not 0.0 < fraction <= 1.0:  # also rejects NaN
        raise UsageError(f"ERF fraction must lie in (0, 1], got {fraction!r}; "
                         f"hint: 0.95 keeps 95 % of the gradient mass")


def check_image(inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Input 0, checked to be a floating (N, C, *spatial) tensor with 1–3 spatial axes."""
    image = inputs[0] if inputs else None
    if not isinstance(image, torch.Tensor) or not 3 <= image.dim() <= 5:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise UsageError(f"the effective receptive field needs input 0 of shape "
                         f"(N, C, *spatial) with 1 to 3 spatial axes, got {shape}")
    if not image.is_floating_point():
        raise UsageError(f"the effective receptive field needs a floating-point input 0, "
                         f"got {image.dtype}")
    return image


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[None]:
    """Restore every parameter's ``.grad`` attribute, every buffer's values and every
    module's training flag on exit (normal or not)."""
    grads = [(p, p.grad) for p in model.parameters()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for parameter, grad in grads:
            parameter.grad = grad
        for module, training in modes:
            module.training = training


def run_and_capture(model: nn.Module, args: tuple[Any, ...],
                    path: str | None) -> tuple[str, torch.Tensor]:
    """Run the model once; return the chosen module's path and first tensor output (its
    last call when it runs several times)."""
    modules = dict(model.named_modules())
    if path is not None and path not in modules:
        close = difflib.get_close_matches(path, list(modules), n=3)
        hint = (f"did you mean {', '.join(map(repr, close))}?" if close
                else f"its modules include {', '.join(map(repr, list(modules)[:8]))}")
        raise UsageError(f"no module {path!r} in {type(model).__name__}; {hint}")
    axes = args[0].dim()
    captured: dict[str, Any] = {}

    def record(name: str, output: Any) -> None:
        tensor = first_tensor(output)
        if path is not None:
            captured[name] = output if tensor is None else tensor
        elif tensor is not None and tensor.is_floating_point() and tensor.dim() == axes:
            captured["chosen"], captured["output"] = name, tensor

    targets = {path: modules[path]} if path is not None else modules
    with ExitStack() as stack:
        for name, module in targets.items():
            handle = module.register_forward_hook(
                lambda mod, inp, out, name=name: record(name, out))
            stack.callback(handle.remove)
        run_model(model, args)
    return chosen_output(captured, path, axes)


def run_model(model: nn.Module, args: tuple[Any, ...]) -> None:
    try:
        model(*args)
    except Exception as error:
        raise CaptureError(f"the model failed on the given inputs: "
                           f"{type(error).__name__}: {error}") from error


def chosen_output(captured: dict[str, Any], path: str | None,
                  axes: int) -> tuple[str, torch.Tensor]:
    """Check what the hooks recorded: a spatial output of the requested (or default) layer."""
    if path is None:
        if "chosen" not in captured:
            raise UsageError(f"no module has a floating-point output with {axes - 2} spatial "
                             f"axes like the input; hint: pass the layer's path explicitly")
        return captured["chosen"], captured["output"]
    label = repr(path) if path else "the model output"
    if path not in captured:
        raise UsageError(f"module {label} did not run in the forward pass")
    output = captured[path]
    if not isinstance(output, torch.Tensor) or output.dim() != axes \
            or not output.is_floating_point():
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) \
            else type(output).__name__
        raise UsageError(f"module {label} has no spatial output for the effective receptive "
                         f"field: got {shape}, need {axes} axes (N, C, *spatial) like the input")
    return path, output


def gradient_heatmap(output: torch.Tensor, x: torch.Tensor, position: tuple[int, ...],
                     path: str) -> np.ndarray:
    """Mean |d output[:, :, *position].sum() / d x| over batch and channels (float64, one
    axis per spatial axis), normalised to sum 1."""
    label = repr(path) if path else "the model output"
    if not output.requires_grad:
        raise CaptureError(f"the output of {label} does not depend on the input")
    index: tuple[Any, ...] = (slice(None), slice(None), *position)
    (gradient,) = torch.autograd.grad(output[index].sum(), x, allow_unused=True)
    if gradient is None:
        raise CaptureError(f"the output of {label} does not depend on the input")
    # float64 on the CPU before reducing: half-precision gradients would underflow.
    heatmap = gradient.detach().to("cpu", torch.float64).abs().mean(dim=(0, 1)).numpy()
    total = float(heatmap.sum())
    if not np.isfinite(total):
        raise CaptureError(f"the gradient of {label} at {position} is not finite")
    if total == 0.0:
        raise CaptureError(f"the output of {label} at {position} does not depend on the "
                           f"input there (its gradient is zero everywhere)")
    return np.asarray(heatmap / total, dtype=np.float64)


def marginal(heatmap: np.ndarray, axis: int) -> np.ndarray:
    """The heatmap summed over every axis but ``axis``."""
    others = tuple(a for a in range(heatmap.ndim) if a != axis)
    return np.asarray(heatmap.sum(axis=others) if others else heatmap, dtype=np.float64)


def window_width(mass: np.ndarray, fraction: float) -> int:
    """Width of the smallest window ``[c - r, c + r]`` (clipped at the borders) about the
    mass-weighted centre ``c`` (rounded half up) of a 1-D mass holding ``fraction`` of it.

    Unclipped widths are odd (2r + 1); the search is over r = 0, 1, ….
    """
    total = float(mass.sum())
    count = len(mass)
    centre = int(np.floor(float(np.dot(np.arange(count), mass)) / total + 0.5))
    cumulative = np.concatenate(([0.0], np.cumsum(mass)))
    radii = np.arange(count)
    lows = np.maximum(centre - radii, 0)
    highs = np.minimum(centre + radii, count - 1)
    held = (cumulative[highs + 1] - cumulative[lows]) / total
    radius = int(np.argmax(held >= fraction - MASS_TOLERANCE))
    return int(highs[radius] - lows[radius] + 1)
