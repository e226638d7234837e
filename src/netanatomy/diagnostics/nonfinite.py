"""Where a run first went non-finite: weights, activations, the loss or gradients, and in
which layer and step. ``diagnose`` stops at the first such pass and reports it as its
*exploding / non-finite* verdict instead of computing statistics of NaNs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from netanatomy.diagnostics.recorder import Recording


@dataclass(frozen=True, slots=True)
class NonFinite:
    """The first non-finite value of a run: ``kind`` is ``"weights"``, ``"activations"``,
    ``"loss"`` or ``"gradients"``; ``path`` the module (``""`` the root); ``detail`` what
    exactly (which tensor, nan or inf); ``step`` the pass, counted from 0 as in the
    report's ``steps``."""

    step: int
    kind: str
    path: str
    detail: str

    @property
    def where(self) -> str:
        return f"'{self.path}'" if self.path else "the model's root"


def state_of(tensor: torch.Tensor) -> str | None:
    """``"nan"``, ``"inf"`` or None (finite, or not floating point)."""
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return None
    values = tensor.detach()
    if bool(torch.isnan(values).any()):
        return "nan"
    return "inf" if bool(torch.isinf(values).any()) else None


def own_tensors(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from module.named_parameters(recurse=False)
    yield from ((n, b) for n, b in module.named_buffers(recurse=False) if b is not None)


def bad_weight(model: nn.Module, step: int) -> NonFinite | None:
    """The first parameter or buffer (definition order) holding a NaN or an infinity."""
    for path, module in model.named_modules():
        for name, tensor in own_tensors(module):
            state = state_of(tensor)
            if state is not None:
                return NonFinite(step, "weights", path, f"{name} holds {state}")
    return None


def bad_number(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)


def bad_activation(record: Recording, step: int) -> NonFinite | None:
    """The first leaf (execution order), then any other module, with a non-finite output
    (its mean or std is then non-finite: they are taken in float64)."""
    others = [path for path in record.records if path not in record.order]
    for path in [*record.order, *others]:
        stats = record.records[path]
        if bad_number(stats.act_mean) or bad_number(stats.act_std):
            return NonFinite(step, "activations", path, "its output is not finite")
    return None


def bad_gradient(record: Recording, grad_norms: Mapping[str, float],
                 step: int) -> NonFinite | None:
    """The first leaf in backward order (reversed execution order) whose output or input
    gradient is non-finite; else the first parameter with a non-finite gradient."""
    for path in reversed(record.order):
        stats = record.records[path]
        for side, norm in (("output", stats.grad_output_norm),
                           ("input", stats.grad_input_norm)):
            if bad_number(norm):
                return NonFinite(step, "gradients", path, f"the gradient at its {side} is "
                                                          "not finite")
    for name, norm in grad_norms.items():
        if bad_number(norm):
            return NonFinite(step, "gradients", name.rpartition(".")[0],
                             f"the gradient of {name} is not finite")
    return None


def first_non_finite(record: Recording, loss: float,
                     grad_norms: Mapping[str, float], step: int) -> NonFinite | None:
    """What went non-finite first in one pass, in the order things happen: the weights it
    ran with (checked by the caller before the pass), the activations, the loss, the
    gradients."""
    found = bad_activation(record, step)
    if found is None and not math.isfinite(loss):
        found = NonFinite(step, "loss", "", f"the loss is {loss}")
    return found or bad_gradient(record, grad_norms, step)

