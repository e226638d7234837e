"""Forward and backward hooks that record, per module, activation statistics and the norms
of the gradients at its output and input. Hooks live only inside :func:`recording`."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

RELU_FAMILY_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.RReLU)
SIGMOID_MODULES: tuple[type[nn.Module], ...] = (nn.Sigmoid, nn.Hardsigmoid)
TANH_MODULES: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Hardtanh)
SATURATION_LEVEL = 0.99


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a (nested) output; ``None`` when there is none."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return first_tensor(list(value.values()))
    if hasattr(value, "to_tuple"):           # transformers' ModelOutput
        return first_tensor(value.to_tuple())
    return None


@dataclass
class ModuleRecord:
    """What the hooks saw of one module (last call)."""

    calls: int = 0
    output_shape: tuple[int, ...] | None = None
    act_mean: float | None = None
    act_std: float | None = None
    dead_fraction: float | None = None
    saturated_fraction: float | None = None
    input_shape: tuple[int, ...] | None = None
    input_id: Any = None
    output_id: Any = None
    output_storage: Any = None
    """A weak reference to the output's storage: while it lives, no other tensor can have
    the output's address, so an equal ``identity`` is the same tensor."""
    follows_previous: bool = False
    """A leaf: its input was the previous leaf's output, still alive when it was read."""
    grad_output_norm: float | None = None
    grad_input_norm: float | None = None


@dataclass
class Recording:
    """Per module path its record; ``order`` the paths of leaf modules in execution order."""

    records: dict[str, ModuleRecord] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def new_pass(self) -> None:
        """Forget the execution order and call counts before another forward pass."""
        self.order.clear()
        for record in self.records.values():
            record.calls = 0

    def is_chain(self) -> bool:
        """True when the leaves ran once each, each reading exactly its predecessor's
        output (a plain stack, no branches or skips)."""
        leaves = [self.records[path] for path in self.order]
        if len(set(self.order)) != len(self.order):
            return False
        return all(current.follows_previous for current in leaves[1:])


def activation_stats(module: nn.Module, output: torch.Tensor, record: ModuleRecord) -> None:
    """Mean, std, dead and saturated fractions of a floating output (over the batch)."""
    values = output.detach()
    if not values.is_floating_point() or values.numel() == 0:
        return
    values = values.double()
    record.act_mean = float(values.mean())
    record.act_std = float(values.std()) if values.numel() > 1 else 0.0
    if isinstance(module, RELU_FAMILY_MODULES) and values.dim() >= 1:
        alive = (values > 0).reshape(values.shape[0], -1).any(dim=0)
        record.dead_fraction = 1.0 - float(alive.double().mean())
    elif isinstance(module, SIGMOID_MODULES):
        saturated = (values < 1 - SATURATION_LEVEL) | (values > SATURATION_LEVEL)
        record.saturated_fraction = float(saturated.double().mean())
    elif isinstance(module, TANH_MODULES):
        record.saturated_fraction = float((values.abs() > SATURATION_LEVEL).double().mean())


def identity(tensor: torch.Tensor) -> tuple[Any, ...]:
    """What stays the same when a backward hook wraps a module's output in a new tensor
    object (so ``id()`` would not match the next module's input): storage, shape, strides."""
    return (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype)


def norm_of(value: Any) -> float | None:
    tensor = first_tensor(value)
    return None if tensor is None else float(tensor.detach().double().norm())


@contextmanager
def recording(model: nn.Module) -> Iterator[Recording]:
    """Hook every module of ``model`` (a private copy: in-place activations are turned off
    there, since full backward hooks cannot follow them) for one or more passes."""
    result = Recording()
    handles = []
    for path, module in model.named_modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False  # type: ignore[assignment]
        record = result.records.setdefault(path, ModuleRecord())
        is_leaf = next(module.children(), None) is None
        handles.append(module.register_forward_pre_hook(pre_hook(record, result, is_leaf)))
        handles.append(module.register_forward_hook(forward_hook(module, path, record,
                                                                  result, is_leaf)))
        handles.append(module.register_full_backward_hook(backward_hook(record)))
    try:
        yield result
    finally:
        for handle in handles:
            handle.remove()


def pre_hook(record: ModuleRecord, result: Recording | None = None,
             is_leaf: bool = False) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        tensor = first_tensor(args)
        record.input_shape = None if tensor is None else tuple(tensor.shape)
        record.input_id = None if tensor is None else identity(tensor)
        if is_leaf and result is not None:
            record.follows_previous = reads_previous_output(result, record.input_id)

    return hook


def reads_previous_output(result: Recording, input_id: Any) -> bool:
    """True when ``input_id`` is the last leaf's output and that output still lives (an
    address alone could be a freed output's, reused by a later tensor: a skip connection
    would then look like a plain stack)."""
    if input_id is None or not result.order:
        return False
    previous = result.records[result.order[-1]]
    alive = previous.output_storage is not None and previous.output_storage() is not None
    return alive and input_id == previous.output_id


def forward_hook(module: nn.Module, path: str, record: ModuleRecord, result: Recording,
                 is_leaf: bool) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        record.calls += 1
        tensor = first_tensor(output)
        if tensor is None:
            return
        record.output_shape = tuple(tensor.shape)
        record.output_id = identity(tensor)
        try:
            record.output_storage = weakref.ref(tensor.untyped_storage())
        except (RuntimeError, NotImplementedError, TypeError):   # no storage to follow
            record.output_storage = None
        activation_stats(module, tensor, record)
        if is_leaf:
            result.order.append(path)

    return hook


def backward_hook(record: ModuleRecord) -> Any:
    def hook(module: nn.Module, grad_input: Any, grad_output: Any) -> None:
        record.grad_output_norm = norm_of(grad_output)
        record.grad_input_norm = norm_of(grad_input)

    return hook
