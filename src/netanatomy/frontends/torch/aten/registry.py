"""The aten → IR registry: one adapter per aten op, registered by decorator.

An adapter receives the op's call (:class:`AtenCall`: its arguments, a way to name
tensors, its real outputs) and returns the IR node it stands for, as an :class:`Emit`, or
several for a fused kernel (its intermediate tensors made with :meth:`AtenCall.virtual`).
Keys are overload packets (``"aten.convolution"``), full overloads where overloads differ
in meaning (``"aten.max.other"``), or a custom op's name (``"mylib.scaled_mm"``).
In-place variants (``relu_``, ``add_``) share their base op's adapter. Registering a key
twice raises :class:`~netanatomy.errors.RuleError`, as for op rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

import torch

from netanatomy.errors import RuleError
from netanatomy.ir.graph import Shape, TensorInfo

InfoOf = Callable[[torch.Tensor], TensorInfo]


@dataclass(frozen=True, slots=True)
class Emit:
    """One IR node an adapter emits: its kind, operands in the order the kind's rule
    expects, attributes, and outputs (``None``: the op's own outputs)."""

    kind: str
    inputs: tuple[TensorInfo, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[TensorInfo, ...] | None = None


Emitted = Union[Emit, Sequence[Emit]]
Adapter = Callable[["AtenCall"], Emitted]

_VIRTUAL_IDS = itertools.count(-1, -1)
"""Ids of intermediate tensors of fused kernels: negative, so they never meet real ones."""


@dataclass
class AtenCall:
    """One call of an aten op as an adapter sees it."""

    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    info_of: InfoOf
    outputs: tuple[TensorInfo, ...]

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """Positional argument ``index`` or keyword ``name``, else ``default``."""
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)

    def info(self, tensor: torch.Tensor) -> TensorInfo:
        """The TensorInfo of one tensor argument."""
        return self.info_of(tensor)

    def tensors(self, values: Iterable[Any] | None = None) -> tuple[TensorInfo, ...]:
        """TensorInfo of every tensor among ``values`` (default: all arguments, keywords
        included; one level of lists unpacked), in order."""
        info_of, tensor = self.info_of, torch.Tensor
        found: list[TensorInfo] = []
        for group in ((self.args, self.kwargs.values()) if values is None else (values,)):
            for value in group:
                if isinstance(value, tensor):
                    found.append(info_of(value))
                elif isinstance(value, (list, tuple)):
                    found.extend(info_of(v) for v in value if isinstance(v, tensor))
        return tuple(found)

    def virtual(self, shape: Shape, like: TensorInfo) -> TensorInfo:
        """An intermediate tensor of a fused kernel, with ``like``'s dtype."""
        return TensorInfo(id=next(_VIRTUAL_IDS), shape=tuple(shape), dtype=like.dtype,
                          itemsize=like.itemsize)


_ADAPTERS: dict[str, Adapter] = {}

A = TypeVar("A", bound=Adapter)


def register_adapter(names: str | Iterable[str], adapter: Adapter) -> None:
    """Register ``adapter`` for each aten op name (``"aten.mm"``, ``"mylib.my_op"``).

    Raises:
        RuleError: a name has an adapter already, or is given twice.
    """
    register_unique(_ADAPTERS, [names] if isinstance(names, str) else list(names), adapter,
                    "an adapter")


def register_unique(table: dict[str, Any], keys: list[str], value: Any, what: str) -> None:
    """Put ``value`` in ``table`` under each key, refusing the whole registration (the table
    stays unchanged) when a key is taken or given twice.

    Raises:
        RuleError: naming the key and ``what`` it already has.
    """
    taken = [key for key in keys if key in table]
    taken += [key for key in set(keys) if keys.count(key) > 1]
    if taken:
        raise RuleError(f"aten op {taken[0]!r} already has {what}")
    for key in keys:
        table[key] = value


def op_keys(names: tuple[str, ...]) -> list[str]:
    """``"mm"`` → ``"aten.mm"``; a name with a namespace (``"mylib.op"``) as it is."""
    return [name if "." in name else f"aten.{name}" for name in names]


def aten(*names: str) -> Callable[[A], A]:
    """Decorator: register the adapter for ``aten.<name>`` of each name (a name with a
    namespace, ``"mylib.op"``, is taken as it is)."""

    def register(adapter: A) -> A:
        register_adapter(op_keys(names), adapter)
        return adapter

    return register


def plain(kind: str, names: Iterable[str], **attrs: Any) -> None:
    """Register ops whose operands are simply all their tensor arguments; ``attrs["fn"]``
    names the function (``"relu"``, ``"add"``) so analyses never parse op names."""
    for name in names:
        register_adapter(f"aten.{name}", plain_adapter(kind, {**attrs, "fn": name}))


def plain_adapter(kind: str, attrs: Mapping[str, Any]) -> Adapter:
    """An adapter emitting ``kind`` over all tensor arguments, with fixed ``attrs``."""

    def adapt(call: AtenCall) -> Emit:
        return Emit(kind, call.tensors(), dict(attrs))

    return adapt


def adapters() -> Mapping[str, Adapter]:
    """Every registered adapter by op name (read-only view)."""
    return dict(_ADAPTERS)


def find_adapter(func: Any) -> Adapter | None:
    """The adapter for ``func``: by full name, then packet name, then its out-of-place base."""
    packet = str(func.overloadpacket)
    full = f"{packet}.{func._overloadname}"
    adapter = _ADAPTERS.get(full) or _ADAPTERS.get(packet)
    if adapter is None and packet.endswith("_") and not packet.endswith("__"):
        adapter = _ADAPTERS.get(packet[:-1])
    return adapter


MetaFunction = Callable[..., Any]
"""Computes an op's outputs as empty meta tensors from its (meta) arguments."""

_META_OVERRIDES: dict[str, MetaFunction] = {}

M = TypeVar("M", bound=MetaFunction)


def meta_override(*names: str) -> Callable[[M], M]:
    """Decorator: a shape function that stands in for the meta kernel of ``aten.<name>``
    (full names as in :func:`aten`) when that kernel refuses inputs the real kernels take
    (``_grouped_mm``'s demands bfloat16, the CPU kernel runs float32 too). Capture calls it
    instead of the op only when every tensor argument is on meta; it must return what the
    op returns, as empty meta tensors of the right shapes and dtypes.

    Raises:
        RuleError: a name has a meta override already.
    """

    def register(function: M) -> M:
        register_unique(_META_OVERRIDES, op_keys(names), function, "a meta override")
        return function

    return register


def meta_override_of(func: Any) -> MetaFunction | None:
    """The meta override registered for ``func`` (by packet name), or None."""
    return _META_OVERRIDES.get(str(func.overloadpacket))


def all_on_meta(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    """True when the call has tensor arguments (one level of lists unpacked) and every one
    is on meta."""
    values = [*args, *kwargs.values()]
    values += [v for value in values if isinstance(value, (list, tuple)) for v in value]
    tensors = [value for value in values if isinstance(value, torch.Tensor)]
    return bool(tensors) and all(t.is_meta for t in tensors)


def meta_override_for(func: Any, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> MetaFunction | None:
    """The meta override of ``func`` when it has one and every tensor argument is on meta."""
    override = meta_override_of(func)
    return override if override is not None and all_on_meta(args, kwargs) else None


MetaCheck = Callable[[tuple[Any, ...]], None]
_META_CHECKS: dict[str, MetaCheck] = {}
C = TypeVar("C", bound=MetaCheck)


def meta_check(*names: str) -> Callable[[C], C]:
    """Decorator: a check of the arguments that the meta kernel of ``aten.<name>`` skips
    but the real kernels make (e.g. matching dtypes); capture calls it with the op's
    positional arguments before the op runs on meta, and it raises what the real kernel
    would raise.

    Raises:
        RuleError: a name has a check already.
    """

    def register(function: C) -> C:
        register_unique(_META_CHECKS, op_keys(names), function, "a meta check")
        return function

    return register


def meta_check_for(func: Any) -> MetaCheck | None:
    """The meta check of ``func`` (by packet name), or None."""
    return _META_CHECKS.get(str(func.overloadpacket))


def as_emits(emitted: Emitted) -> tuple[Emit, ...]:
    """An adapter's result as a tuple of nodes."""
    return (emitted,) if isinstance(emitted, Emit) else tuple(emitted)


def per_axis(value: Any, rank: int, default: int) -> tuple[int, ...]:
    """Expand an int or a 0/1-element list to ``rank`` entries; an empty list → default."""
    if value is None:
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(int(v) for v in value)
    if len(values) == 0:
        return (default,) * rank
    if len(values) == 1:
        return values * rank
    return values
