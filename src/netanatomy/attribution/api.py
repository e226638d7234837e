"""The public entry point :func:`attribute`: one method, or all that apply, on a batch of
inputs, with the user's model left exactly as it was."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from netanatomy.attribution.methods import METHODS, Method
from netanatomy.attribution.result import Attribution
from netanatomy.errors import UsageError
from netanatomy.frontends.torch.devices import check_device
from netanatomy.frontends.torch.guard import globals_preserved, run_preserved

EVAL_NOTE = "model run in eval mode (samples explained independently)"


def attribute(model: nn.Module, inputs: torch.Tensor, method: str = "guided",
              target: int | Sequence[int] | None = None, layer: str | None = None,
              device: str = "cpu", **options: Any) -> Attribution | dict[str, Attribution]:
    """Explain the target scores of ``model`` on ``inputs`` by ``method``.

    Args:
        model: an ``nn.Module`` returning ``(N, classes)`` scores.
        inputs: a floating tensor ``(N, ...)`` (``(N, C, H, W)`` for Grad-CAM and
            occlusion).
        method: a registered name (``saliency``, ``input_x_gradient``, ``deconvnet``,
            ``guided``, ``gradcam``, ``guided_gradcam``, ``integrated_gradients``,
            ``occlusion``, ``deconvnet_projection``) or ``"all"``: a dict of every method
            that applies (the layer methods only when ``layer`` is given).
        target: None (each sample's argmax class), an int, or one int per sample.
        layer: module path for the layer methods (``"features.8"``).
        device: where to run (``cpu``, ``cuda[:N]``); a model elsewhere runs on a copy.
        options: method options (``signed``, ``steps``, ``baseline``, ``window``,
            ``stride``, ``baseline_value``, ``channel``, ``batch_size``).

    The model runs in eval mode under the state guard: parameters, buffers, flags, hooks,
    ``.grad`` and the random generators are as before afterwards.

    Raises:
        UsageError: an unknown method, option, layer path, target or device.
    """
    from netanatomy.api import check_model

    check_model(model, "attribute")
    x = check_inputs(inputs)
    chosen = choose_methods(method, layer)
    per_method = split_options(chosen, {**options, **({"layer": layer} if layer else {})},
                               single=method != "all")
    device = check_device(str(device), "device", real=True)
    with prepared(model, torch.device(device)) as runnable:
        x = x.to(device)
        found = {m.name: with_note(m.function(runnable, x, target, **per_method[m.name]))
                 for m in chosen}
    return found if method == "all" else found[chosen[0].name]


def check_inputs(inputs: Any) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise UsageError(f"attribute() needs a tensor of inputs (N, ...), got "
                         f"{type(inputs).__name__}")
    if not inputs.is_floating_point() or inputs.dim() < 2:
        raise UsageError(f"attribute() needs a floating tensor (N, ...) with a batch "
                         f"dimension, got {inputs.dtype} of shape {tuple(inputs.shape)}")
    return inputs


def choose_methods(method: str, layer: str | None) -> list[Method]:
    """The methods ``method`` names ("all": those that apply with or without a layer)."""
    if method == "all":
        return [m for m in METHODS.values() if layer or not m.needs_layer]
    if method not in METHODS:
        close = difflib.get_close_matches(str(method), list(METHODS), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown attribution method {method!r}{hint}; expected one of "
                         f"{', '.join(METHODS)} or all")
    return [METHODS[method]]


def split_options(methods: list[Method], options: dict[str, Any],
                  single: bool) -> dict[str, dict[str, Any]]:
    """Each method's own options; an option no chosen method takes is a UsageError
    (``layer`` is ignored by the methods that do not use it)."""
    taken = {name for m in methods for name in m.options}
    unknown = sorted(set(options) - taken - {"layer"})
    if unknown:
        accepted = ", ".join(sorted(taken)) or "none"
        where = f"method {methods[0].name!r}" if single else "the chosen methods"
        raise UsageError(f"option {unknown[0]!r} is not taken by {where}; its options: "
                         f"{accepted}")
    return {m.name: {k: v for k, v in options.items() if k in m.options} for m in methods}


def with_note(found: Attribution) -> Attribution:
    from dataclasses import replace

    return replace(found, notes=(*found.notes, EVAL_NOTE))


def on_device(model: nn.Module, device: torch.device) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return all(t.device == device or (device.type == t.device.type and device.index is None)
               for t in tensors)


@contextmanager
def prepared(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """The model ready to explain: eval mode, parameters not requiring grad, grad mode on;
    the model itself under :func:`run_preserved` when it is on ``device``, else a private
    copy moved there. Everything comes back on exit."""
    if on_device(model, device):
        with run_preserved(model, values="buffers"):
            yield ready(model)
        return
    with globals_preserved():
        yield ready(copy.deepcopy(model).to(device))


def ready(model: nn.Module) -> nn.Module:
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    torch.set_grad_enabled(True)
    return model
