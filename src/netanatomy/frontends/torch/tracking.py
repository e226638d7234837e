"""Module attribution: which module path is running, via hooks that are always removed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


def flatten_tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor inside nested tuples, lists and mappings (e.g. a ModelOutput), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    found: list[torch.Tensor] = []
    collect_tensors(value, found)
    return found


def collect_tensors(value: Any, found: list[torch.Tensor]) -> None:
    """Append every tensor inside ``value`` to ``found`` (one list for the whole walk)."""
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            collect_tensors(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            collect_tensors(item, found)


@dataclass
class ModuleCall:
    """A module currently running: its path, class and the shapes (and dtypes) of the
    tensors it was called with."""

    path: str
    module: nn.Module
    input_shapes: list[tuple[int, ...]]
    input_dtypes: tuple[torch.dtype, ...] = ()


@dataclass
class ModuleTracker:
    """The stack of running modules and, per path, call counts, last output shapes and
    every call's output shapes (``call_shapes``)."""

    stack: list[ModuleCall] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, tuple[tuple[tuple[int, ...], ...], str | None, int]] = field(
        default_factory=dict)
    output_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)
    call_shapes: dict[str, list[tuple[tuple[int, ...], ...]]] = field(default_factory=dict)
    identify: Callable[[torch.Tensor], int] | None = None

    @property
    def current_path(self) -> str:
        """Path of the innermost running module (``""`` when only the root code runs)."""
        return self.stack[-1].path if self.stack else ""

    def enter(self, path: str, module: nn.Module, args: tuple[Any, ...]) -> None:
        tensors = flatten_tensors(args)
        self.stack.append(ModuleCall(path, module, [tuple(t.shape) for t in tensors],
                                     tuple(t.dtype for t in tensors)))

    def leave(self, path: str, output: Any) -> None:
        if self.stack and self.stack[-1].path == path:
            self.stack.pop()
        self.calls[path] = self.calls.get(path, 0) + 1
        tensors = flatten_tensors(output)
        dtype = str(tensors[0].dtype).removeprefix("torch.") if tensors else None
        nbytes = sum(t.numel() * t.element_size() for t in tensors)
        shapes = tuple(tuple(t.shape) for t in tensors)
        self.outputs[path] = (shapes, dtype, nbytes)
        calls = self.call_shapes.get(path)
        if calls is None:
            self.call_shapes[path] = [shapes]
        else:
            calls.append(shapes)
        identify = self.identify
        if identify is not None:
            self.output_ids[path] = tuple(identify(t) for t in tensors)


@contextmanager
def track_modules(model: nn.Module) -> Iterator[ModuleTracker]:
    """Attach forward pre/post hooks to every submodule; remove them all on exit."""
    tracker = ModuleTracker()
    handles = []
    try:
        for path, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(
                lambda mod, args, path=path: tracker.enter(path, mod, args)))
            handles.append(module.register_forward_hook(
                lambda mod, args, output, path=path: tracker.leave(path, output)))
        yield tracker
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def mode_set(model: nn.Module, training: bool) -> Iterator[None]:
    """Put every submodule in train or eval mode, and restore each one's own flag on exit."""
    saved = [(module, module.training) for module in model.modules()]
    try:
        if any(was_training is not training for _, was_training in saved):
            model.train(training)    # (a model already in that mode is left untouched)
        yield
    finally:
        for module, was_training in saved:
            module.training = was_training
