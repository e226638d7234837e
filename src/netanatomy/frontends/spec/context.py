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
from netanatomy.frontends.spec.values import fraction_of, half_up, is_multiplier, proven_negative
from netanatomy.ir.graph import ModuleInfo, Node, ParamInfo, Shape, TensorInfo
from netanatomy.rules import get_formula
from netanatomy.symbolic import is_concrete

CONTAINERS = {"Sequential": "sequential", "Branch": "branch", "Residual": "residual",
              "DenseBlock": "dense", "SpecNetwork": "network"}
"""Container module types and their factory names."""

REQUIRED = object()
"""Marks a layer option that has no default."""

FLOAT_NOISE = 1e-9
"""A float this close (relatively) to an integer is that integer: 224 * (192/224)."""

WHOLE_HINT = ("sizes and counts are integers: write a whole number, '//' for floor division, "
              "or a multiplier product such as 32*alpha (rounded to the nearest integer)")


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
    origins: dict[str, str] = field(default_factory=dict)
    """Per symbol given from outside the spec: where (``--set K=5``)."""
    roundings: dict[str, list[Any]] = field(default_factory=dict)
    """Per rounding (``32*alpha = 9.6 → 10``): [first place, how many times]."""

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
        """Evaluate option ``key`` as a number or expression, checking its sign (for a
        symbolic value: when sympy proves it negative). ``whole`` values are sizes and
        counts: an integer-valued float (``3.0``) is taken as the int, a multiplier product
        (``224*rho`` with rho = 0.857) rounds half up (noted, see :meth:`rounding_notes`),
        any other fraction (``2.5``, ``K`` with K = 2.5, ``F/2`` with F = 5) is an error."""
        raw = options[key]
        value = self.value_of(raw, key, where)
        if whole:
            value = self.whole(value, raw, key, where)
        if positive:
            self.check_sign(value, key, where, allow_zero)
        return value

    def value_of(self, raw: Any, key: str, where: Where) -> Any:
        try:
            return evaluate(raw, self.values)
        except ExpressionError as error:
            raise self.error(str(error), where, key,
                             hint="use numbers, symbol names and + - * / // ** %") from None

    def whole(self, value: Any, raw: Any, key: str, where: Where) -> Any:
        """``value`` as an int (see :meth:`number`); symbolic values unchanged."""
        exact = fraction_of(value)
        if exact is None:
            if isinstance(value, float):
                raise self.error(f"'{key}' must be a finite number, found {value}", where, key)
            return value
        rounded = half_up(exact)
        if exact.denominator == 1 or abs(exact - rounded) <= FLOAT_NOISE * max(1, rounded):
            return rounded
        shown = f"{value:.10g}" if isinstance(value, float) else str(value)
        if is_multiplier(raw, self.values):
            seen = self.roundings.setdefault(f"{raw} = {shown} → {rounded}",
                                             [f"{where.label} '{key}'", 0])
            seen[1] += 1
            return rounded
        raise self.error(f"'{key}' must be a whole number, found {shown}"
                         f"{self.written(raw, key)}", where, key, hint=WHOLE_HINT)

    def written(self, raw: Any, key: str) -> str:
        """`` (k: K, K from --set K=2.5)``: how a value was written, when not literally."""
        if not isinstance(raw, str):
            return ""
        name = raw.strip()
        origin = f", {name} from {self.origins[name]}" if name in self.origins else ""
        return f" ({key}: {name}{origin})"

    def check_sign(self, value: Any, key: str, where: Where, allow_zero: bool) -> None:
        bound = "0 or more" if allow_zero else "positive"
        exact = fraction_of(value)
        if exact is not None and (exact < 0 or (exact == 0 and not allow_zero)):
            raise self.error(f"'{key}' must be {bound}, found {value}", where, key)
        if exact is None and proven_negative(value, allow_zero):
            raise self.error(f"'{key}' must be {bound}, found {value}, which is "
                             f"{'negative' if allow_zero else 'at most 0'} for every value "
                             "of its symbols", where, key,
                             hint="symbols are positive integers: check the sign")

    def flag(self, options: Mapping[str, Any], key: str, where: Where) -> bool:
        """Option ``key`` as a boolean: YAML ``true``/``false`` only (``'false'`` quoted,
        ``0`` or ``'no'`` are errors, not truthy values)."""
        value = options[key]
        if isinstance(value, bool):
            return value
        raise self.error(f"'{key}' must be true or false, found {value!r}", where, key,
                         hint="write true or false (unquoted)")

    def real(self, options: Mapping[str, Any], key: str, where: Where,
             positive: bool = False) -> float:
        """Option ``key`` as a concrete real number (a slope, an epsilon)."""
        raw = options[key]
        value = self.value_of(raw, key, where)
        if fraction_of(value) is None:
            raise self.error(f"'{key}' must be a number, found {raw!r}", where, key,
                             hint="e.g. 0.2 (a symbol here needs a value)")
        if positive:
            self.check_sign(value, key, where, allow_zero=False)
        return float(value)

    def rounding_notes(self) -> tuple[str, ...]:
        """``rounded 32*alpha = 9.6 → 10 at layers[0] (conv) 'out'`` per rounding."""
        return tuple(f"rounded {text} at {place}" + (f" (and {count - 1} more)"
                                                    if count > 1 else "")
                     for text, (place, count) in self.roundings.items())

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
                                        output_bytes=output.nbytes, output_ids=(output.id,),
                                        call_shapes=(*info.call_shapes, (output.shape,)))

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
