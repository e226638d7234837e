"""The one guard around every run of a user's model: afterwards the model and the
process-wide state a forward pass can reach are exactly as they were.

Two context managers, used together or apart:

* :func:`globals_preserved` — the random generators (torch CPU and initialised CUDA
  devices, Python ``random``, NumPy's global generator when NumPy is loaded), grad mode,
  the default dtype, the number of threads and the deterministic-algorithms flag.
* :func:`model_preserved` — every module's attributes (shallow: ``__dict__`` entries, and
  the contents of the dicts, lists and sets it holds, so training flags, hook dicts,
  ``_parameters``/``_buffers`` and ``self.calls += 1`` counters come back), every
  parameter's and buffer's ``requires_grad`` flag and ``.grad``, and tensor *values*:
  buffers are copied up front (they are small, and forward passes update them), parameters
  either up front or, cheaper, on first write through :meth:`ModelGuard.before_write` (the
  capture's dispatch mode sees every in-place op before it runs). Tensors on ``meta``
  hold no values and are never copied.

A run on a private ``copy.deepcopy`` of the model (diagnostics) needs only
:func:`globals_preserved`; a run of the model itself needs both.
"""

from __future__ import annotations

import random
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, Literal

import torch
from torch import nn

Values = Literal["all", "buffers", "none"]
"""Which tensor values :func:`model_preserved` copies up front."""

Restore = Callable[[], object]
CONTAINERS = (dict, list, set)
FAST_CONTAINERS = frozenset({dict, OrderedDict, list, set})
"""Attribute values whose contents :class:`ModuleSnapshot` saves (one level deep)."""


def global_restorers(cuda_devices: Sequence[int] = ()) -> list[Restore]:
    """One function per piece of process-wide state, each putting back what it held now;
    the generators of ``cuda_devices`` are saved even before CUDA is initialised."""
    rng = torch.random.get_rng_state()
    python_state = random.getstate()
    grad, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    restorers: list[Restore] = [
        lambda: torch.random.set_rng_state(rng),
        lambda: random.setstate(python_state),
        lambda: torch.set_grad_enabled(grad),
        lambda: torch.set_default_dtype(dtype),
        lambda: restore_threads(threads),
        lambda: restore_determinism(*deterministic),
    ]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
        restorers.append(lambda: torch.cuda.set_rng_state_all(cuda))
    elif cuda_devices:
        states = [(index, torch.cuda.get_rng_state(index)) for index in cuda_devices]
        restorers += [partial(torch.cuda.set_rng_state, state, index)
                      for index, state in states]
    numpy = sys.modules.get("numpy")  # not imported here: a model drawing from it has
    if numpy is not None:
        numpy_state = numpy.random.get_state()
        restorers.append(lambda: numpy.random.set_state(numpy_state))
    return restorers


def restore_determinism(mode: bool, warn_only: bool) -> None:
    """Set the deterministic-algorithms flag back, only when it changed (setting it imports
    torch._inductor, a second or more)."""
    if (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled()) != (mode, warn_only):
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)


def restore_threads(threads: int) -> None:
    """Set the thread count back, only when it changed (setting it is not free)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextmanager
def globals_preserved(cuda_devices: Sequence[int] = ()) -> Iterator[None]:
    """Restore the RNGs, grad mode, default dtype, thread count and determinism flag on
    exit (normal or not); ``cuda_devices``: CUDA devices a run will use (their
    generators are saved even when CUDA is not initialised yet)."""
    restorers = global_restorers(cuda_devices)
    try:
        yield
    finally:
        for restore in restorers:
            restore()


def shallow_copy(container: Any) -> Any:
    """A dict, list or set holding the same objects (``()`` for an empty one)."""
    if not container:
        return ()
    if isinstance(container, dict):
        return dict(container)
    return list(container) if isinstance(container, list) else set(container)


def equal(now: Any, saved: Any) -> bool:
    """Whether ``now`` holds what ``saved`` holds. The comparison runs in C and takes the
    same object for equal without calling ``__eq__``; a replaced entry calls it (a
    tensor's raises: then the answer is no, and the saved contents are put back; an
    entry replaced by an equal value counts as unchanged)."""
    try:
        return bool(now == saved)
    except Exception:  # noqa: BLE001 — any __eq__ may raise
        return False


def refill(container: Any, saved: Any) -> None:
    """Put the saved contents back into ``container`` in place (its identity is kept: hook
    handles hold weak references to the module's hook dicts)."""
    container.clear()
    if isinstance(container, list):
        container.extend(saved)
    elif saved:
        container.update(saved)


class ModuleSnapshot:
    """One module's ``__dict__`` and the contents of the dicts, lists and sets in it."""

    __slots__ = ("module", "attrs", "containers")

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.attrs = dict(module.__dict__)
        # (type() first: isinstance asks __class__, which some attribute objects, e.g.
        # transformers' configs, answer slowly)
        self.containers = [(value, shallow_copy(value) if value else ())
                           for value in self.attrs.values()
                           if type(value) in FAST_CONTAINERS or issubclass(type(value), CONTAINERS)]

    def restore(self) -> None:
        current, attrs = self.module.__dict__, self.attrs
        if not equal(current, attrs):
            for key in [key for key in current if key not in attrs]:
                del current[key]
            current.update(attrs)
        for container, saved in self.containers:
            if len(container) != len(saved) or (saved and not equal(container, saved)):
                refill(container, saved)


def storage_key(tensor: torch.Tensor) -> int:
    """Identity of a tensor's storage (shared by its views and detached aliases)."""
    try:
        return int(tensor.untyped_storage()._cdata)
    except (RuntimeError, NotImplementedError):
        return id(tensor)


class ModelGuard:
    """What :func:`model_preserved` saved of one model, and how to put it back."""

    def __init__(self, model: nn.Module, values: Values) -> None:
        self.modules = [ModuleSnapshot(module) for module in model.modules()]
        params = {id(p): p for p in model.parameters()}
        buffers = {id(b): b for b in model.buffers() if id(b) not in params}
        self.tensors = [*params.values(), *buffers.values()]
        self.flags = [(t, t.requires_grad, t.grad) for t in self.tensors if t.is_leaf]
        # meta tensors a capture runs with directly: an alias of what they hold now, put
        # back should a forward swap it (``param.data = ...``); nothing is allocated
        self.meta_data = [(t, t.data) for t in self.tensors if t.is_meta]
        self.saved: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}
        self.by_storage: dict[int, list[torch.Tensor]] = {}
        for tensor in self.tensors:
            if not tensor.is_meta:
                self.by_storage.setdefault(storage_key(tensor), []).append(tensor)
        upfront = {"all": self.tensors, "buffers": buffers.values(), "none": ()}[values]
        for tensor in upfront:
            self.save(tensor)

    def save(self, tensor: torch.Tensor) -> None:
        """Copy a model tensor's values, once, unless it is on meta."""
        if id(tensor) not in self.saved and not tensor.is_meta:
            self.saved[id(tensor)] = (tensor, tensor.detach().clone(), tensor._version)

    def before_write(self, tensor: torch.Tensor) -> None:
        """Called before an op writes into ``tensor``: copy the values of every model
        tensor that shares its storage, the first time."""
        for original in self.by_storage.get(storage_key(tensor), ()):
            self.save(original)

    def restore(self) -> None:
        for snapshot in self.modules:
            snapshot.restore()
        with torch.no_grad():
            for tensor, values, version in self.saved.values():
                # untouched tensors keep their version counter (autograd checks it)
                if tensor._version != version or not torch.equal(tensor, values):
                    tensor.copy_(values)
        for tensor, data in self.meta_data:
            if (tensor.dtype, tensor.shape, tensor.stride()) != (data.dtype, data.shape,
                                                                  data.stride()):
                tensor.data = data
        for tensor, requires_grad, grad in self.flags:
            if tensor.requires_grad != requires_grad:
                tensor.requires_grad_(requires_grad)
            if tensor.grad is not grad:
                tensor.grad = grad


@contextmanager
def model_preserved(model: nn.Module, values: Values = "buffers") -> Iterator[ModelGuard]:
    """Restore ``model``'s attributes, flags, hooks, grads and tensor values on exit
    (normal or not); ``values`` says which values are copied up front, the others are
    copied by :meth:`ModelGuard.before_write`."""
    guard = ModelGuard(model, values)
    try:
        yield guard
    finally:
        guard.restore()


@contextmanager
def run_preserved(model: nn.Module, values: Values = "buffers",
                  cuda_devices: Sequence[int] = ()) -> Iterator[ModelGuard]:
    """Both guards: the model and the process-wide state."""
    with globals_preserved(cuda_devices), model_preserved(model, values) as guard:
        yield guard
