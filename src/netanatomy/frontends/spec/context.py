"""The state of a spec being turned into an IR graph: tensors, nodes, modules, params,
symbol values, and error reporting with positions."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netanatomy.errors import SpecError
from netanatomy.frontends.spec.expressions import ExpressionError, evaluate
from netanatomy.frontends.spec.source import LocatedDict, Position
from netanatomy.ir.graph import ModuleInfo, Node, ParamInfo, Shape, TensorInfo
from netanatomy.rules import get_formula
from netanatomy.symbolic import is_concrete

CONTAINERS = {"Sequential": "sequential", "Branch": "branch", "Residual": "residual",
              "DenseBlock": "dense", "SpecNetwork": "network"}
"""Container module types and their factory names."""

REQUIRED = object()


def whole_number(value: Any) -> Any:
    """A float (or a sympy number) rounded to the nearest int; expressions unchanged."""
    if isinstance(value, float):
        return round(value)
    if getattr(value, "is_number", False) and not getattr(value, "free_symbols", True):
        return round(float(value))
    return value
"""Marks a layer option that has no default."""


@dataclass
class Where:
    """A layer's place: its spec path (``layers[3].branch[1][0]``), module path, and the
    mapping holding its options (for option positions)."""

    label: str
    path: str
    position: Position
    options: LocatedDict | None = None

    def of(self, key: str) -> Position:
        if self.options is not None and key in getattr(self.options, "positions", {}):
            return self.options.positions[key]
        return self.position


@dataclass
class GraphContext:
    """Accumulates the IR of a spec."""

    source: str
    values: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)
    modules: dict[str, ModuleInfo] = field(default_factory=dict)
    params: dict[str, ParamInfo] = field(default_factory=dict)
    ids: Any = field(default_factory=itertools.count)
    dtype: str = "float32"
    itemsize: int = 4
    records: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Per module path: (factory name, resolved hyper-parameters), to build the nn.Module."""

    def record(self, path: str, factory: str, **settings: Any) -> None:
        self.records[path] = (factory, settings)

    def error(self, message: str, where: Where, key: str | None = None,
              hint: str = "") -> SpecError:
        position = where.of(key) if key else where.position
        return SpecError(message, source=position.source, line=position.line,
                         column=position.column, layer=where.label, hint=hint)

    def tensor(self, shape: Shape, dtype: str | None = None, itemsize: int | None = None,
               param: str | None = None) -> TensorInfo:
        return TensorInfo(next(self.ids), tuple(shape), dtype or self.dtype,
                          itemsize or self.itemsize, param)

    def number(self, options: Mapping[str, Any], key: str, where: Where,
               positive: bool = True, allow_zero: bool = False, whole: bool = True) -> Any:
        """Evaluate option ``key`` as a number or expression, checking its sign. Sizes are
        ``whole``: a fractional value (``224*rho`` with rho = 0.857) is rounded to the
        nearest integer, as width and resolution multipliers are in practice."""
        raw = options[key]
        try:
            value = evaluate(raw, self.values)
        except ExpressionError as error:
            raise self.error(str(error), where, key,
                             hint="use numbers, symbol names and + - * / // ** %") from None
        value = whole_number(value) if whole else value
        if is_concrete(value) and positive and (value < 0 or (value == 0 and not allow_zero)):
            bound = "0 or more" if allow_zero else "positive"
            raise self.error(f"'{key}' must be {bound}, found {value}", where, key)
        return value

    def numbers(self, options: Mapping[str, Any], key: str, rank: int, where: Where,
                allow_zero: bool = False, whole: bool = True) -> tuple[Any, ...]:
        """An option given as one value or one per spatial axis, expanded to ``rank``."""
        raw = options[key]
        if isinstance(raw, list):
            if len(raw) != rank:
                raise self.error(f"'{key}' has {len(raw)} values but the input has {rank} "
                                 "spatial axes", where, key,
                                 hint=f"give one value or {rank}")
            return tuple(self.number({key: item}, key, where, allow_zero=allow_zero,
                                     whole=whole) for item in raw)
        value = self.number(options, key, where, allow_zero=allow_zero, whole=whole)
        return (value,) * rank

    def param(self, path: str, name: str, shape: Shape, *, trainable: bool = True,
              buffer: bool = False) -> TensorInfo:
        full = f"{path}.{name}" if path else name
        itemsize = 8 if name == "num_batches_tracked" else self.itemsize
        dtype = "int64" if name == "num_batches_tracked" else self.dtype
        self.params[full] = ParamInfo(name=full, owner=path, shape=tuple(shape), dtype=dtype,
                                      itemsize=itemsize, trainable=trainable and not buffer,
                                      is_buffer=buffer)
        return self.tensor(shape, dtype, itemsize, param=full)

    def module(self, path: str, type_name: str) -> None:
        """Declare a module (definition order); its output is set by :meth:`finish`.
        Containers (Sequential, Branch, Residual, DenseBlock, root) record themselves."""
        if path not in self.modules:
            self.modules[path] = ModuleInfo(path=path, type=type_name, calls=0)
            if type_name in CONTAINERS:
                self.record(path, CONTAINERS[type_name])

    def finish(self, path: str, output: TensorInfo) -> None:
        info = self.modules[path]
        self.modules[path] = ModuleInfo(path=path, type=info.type, calls=info.calls + 1,
                                        output_shapes=(output.shape,), output_dtype=output.dtype,
                                        output_bytes=output.nbytes, output_ids=(output.id,))

    def op(self, kind: str, op_name: str, inputs: tuple[TensorInfo, ...], attrs: dict[str, Any],
           where: Where, output_shape: Shape | None = None, path: str | None = None
           ) -> TensorInfo:
        """Add a node; its output shape comes from the kind's rule unless given."""
        if output_shape is None:
            shape_formula = get_formula(kind, "output_shapes")
            assert shape_formula is not None, f"no output_shapes rule for {kind}"
            output_shape = shape_formula(tuple(t.shape for t in inputs), attrs)[0]
        if any(is_concrete(size) and size <= 0 for size in output_shape):
            raise self.error(
                f"output shape {tuple(output_shape[1:])} has a non-positive size (input "
                f"{tuple(inputs[0].shape[1:])})", where,
                hint="the kernel is larger than its (padded) input: use a smaller "
                     "kernel or stride, padding, or a larger input")
        output = self.tensor(output_shape)
        self.nodes.append(Node(index=len(self.nodes), kind=kind, op=op_name,
                               path=where.path if path is None else path, inputs=inputs,
                               outputs=(output,), attrs=attrs))
        return output
