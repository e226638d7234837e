"""Receptive fields of every tensor of the graph, per spatial axis, from the op rules.

Each tensor derived from a spatial input carries a :class:`FieldState`: which of its axes
are the input's spatial axes and, per axis, the field's size, jump (effective stride) and
start (input coordinate of the left edge of output 0's field; effective padding = −start),
following Araujo, Norris and Sim, "Computing Receptive Fields of CNNs" (Distill, 2019):

    size' = size + extent·jump      jump' = jump·stride      start' = start + first·jump

for a window op whose rule gives ``AxisWindow(extent, stride, start=first)``. Where paths
merge the largest field is taken and misaligned centres are reported. Ops that mix every
position (global/adaptive-to-1 pooling, reductions over spatial axes, a matmul or attention
contracting over positions, a spatial softmax) make the field *global*, naming the node.
What each op does to positions is its rule's ``rf`` transfer (:mod:`netanatomy.rules.
transfer`); this module only composes them. Conventions: normalisation statistics are not
counted as mixing positions; an op whose transfer is unknown stops the field (downstream
layers show none) and is listed in ``unknown_ops``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from netanatomy.ir.graph import Graph, Node, Shape, TensorInfo
from netanatomy.rules import GLOBAL, NO_FIELD, POINTWISE, UNKNOWN, Mixes, Relayout, get_formula
from netanatomy.rules.transfer import AlongAxis, AxisWindow, Regrid, is_windows
from netanatomy.symbolic import Dim, is_concrete, simplest


@dataclass(frozen=True, slots=True)
class AxisField:
    """Field along one spatial axis: size, jump (effective stride) and start (input
    coordinate of the left edge of output 0's field; −start is the effective padding)."""

    size: Any
    jump: Any
    start: Any

    @property
    def centre(self) -> Any:
        """Input coordinate of the centre of output 0's field."""
        return self.start + (self.size - 1) / 2


@dataclass(frozen=True, slots=True)
class FieldState:
    """The field of one tensor, or global.

    Spatial axis i of the input lives in tensor axis ``axes[i]``, at index stride
    ``subs[i][0]`` within that axis and with ``subs[i][1]`` positions; it is *flattened*
    when merged with other axes (stride ≠ 1 or the tensor axis is larger), which a later
    reshape can undo. ``lost`` when a reshape split a spatial axis apart.
    """

    axes: tuple[int, ...] = ()
    fields: tuple[AxisField, ...] = ()
    subs: tuple[tuple[Any, Any], ...] = ()
    flattened: bool = False
    lost: bool = False
    global_by: str | None = None

    @property
    def is_global(self) -> bool:
        return self.global_by is not None


@dataclass(frozen=True, slots=True)
class Field:
    """The public receptive field of a tensor (see :func:`field_json` for its JSON)."""

    size: tuple[Any, ...] = ()
    stride: tuple[Any, ...] = ()
    padding: tuple[Any, ...] = ()
    is_global: bool = False
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Misalignment:
    """Two merged paths whose field centres (or jumps) differ along an axis."""

    node: int
    path: str
    op: str
    axis: int
    centres: tuple[Any, ...]
    sizes: tuple[Any, ...]

    @property
    def offset(self) -> Any:
        """Largest distance between the merged centres, in input pixels (with symbols: the
        distance between the first two)."""
        if all(is_concrete(c) or isinstance(c, float) or hasattr(c, "denominator")
               for c in self.centres):
            return max(self.centres) - min(self.centres)
        return abs(self.centres[0] - self.centres[1])


@dataclass(frozen=True)
class ReceptiveField:
    """Fields of every node's first output, of the model output, and the merge reports."""

    nodes: tuple[Field | None, ...]
    by_tensor: dict[int, Field | None]
    output: Field | None
    misalignments: tuple[Misalignment, ...]
    unknown_ops: tuple[str, ...]

    def of_tensor(self, tensor_id: int) -> Field | None:
        return self.by_tensor.get(tensor_id)


def public_field(state: FieldState | None) -> Field | None:
    if state is None or (not state.is_global and (state.flattened or state.lost
                                                  or not state.fields)):
        return None
    if state.is_global:
        return Field(is_global=True, by=state.global_by)
    return Field(size=tuple(f.size for f in state.fields),
                 stride=tuple(f.jump for f in state.fields),
                 padding=tuple(-f.start for f in state.fields))


def plain_number(value: Any) -> Any:
    """Fractions and sympy rationals that are whole become ints; others floats or strings."""
    if is_concrete(value):
        return value
    try:
        if value == int(value):
            return int(value)
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def field_json(field: Field | None) -> dict[str, Any] | None:
    """``null``; ``{"size", "stride", "padding", "global": false}``; or
    ``{"global": true, "by": path}``."""
    if field is None:
        return None
    if field.is_global:
        return {"global": True, "by": field.by}
    return {"size": [plain_number(v) for v in field.size],
            "stride": [plain_number(v) for v in field.stride],
            "padding": [plain_number(v) for v in field.padding], "global": False}


def input_state(tensor: TensorInfo) -> FieldState | None:
    """Inputs of rank ≥ 3 in (N, C, *spatial) layout start with a 1-pixel field."""
    if len(tensor.shape) < 3 or tensor.dtype.startswith(("int", "uint", "bool")):
        return None
    axes = tuple(range(2, len(tensor.shape)))
    return FieldState(axes=axes, fields=tuple(AxisField(1, 1, 0) for _ in axes),
                      subs=tuple((1, tensor.shape[a]) for a in axes))


def shifted(state: FieldState, offset: int) -> FieldState:
    """The state with every axis position moved by ``offset`` (broadcast to a higher rank)."""
    return replace(state, axes=tuple(a + offset for a in state.axes))


def merge(node: Node, states: list[FieldState], misalignments: list[Misalignment]
          ) -> FieldState:
    """The largest field per axis of states aligned on the output; report misalignment."""
    for state in states:
        if state.is_global:
            return state
    spatial = [s for s in states if s.fields]
    if not spatial:
        return states[0]
    first = spatial[0]
    comparable = [s for s in spatial
                  if s.axes == first.axes and len(s.fields) == len(first.fields)]
    fields = []
    for axis in range(len(first.fields)):
        options = [s.fields[axis] for s in comparable]
        fields.append(widest_field(options))
        centres = tuple(f.centre for f in options)
        if len(set(centres)) > 1 or len({f.jump for f in options}) > 1:
            misalignments.append(Misalignment(node.index, node.path, node.op, axis, centres,
                                              tuple(f.size for f in options)))
    return replace(first, fields=tuple(fields), flattened=any(s.flattened for s in spatial),
                   lost=any(s.lost for s in spatial))


def widest_field(options: list[AxisField]) -> AxisField:
    """The largest field (leftmost start on ties); with symbols, the first one that is
    provably at least as large as every other, else the first."""
    if all(is_concrete(f.size) and is_concrete(f.start) for f in options):
        return max(options, key=lambda f: (f.size, -f.start))
    import sympy

    for candidate in options:
        if all(sympy.simplify(candidate.size - other.size).is_nonnegative for other in options):
            return candidate
    return options[0]


def apply_windows(state: FieldState, windows: Any, node: Node) -> FieldState:
    """Compose ``state`` with the rule's windows (one per trailing spatial axis)."""
    if windows == GLOBAL:
        return FieldState(global_by=node.path or "<root>")
    fields = list(state.fields)
    for offset, window in enumerate(windows):
        index = len(fields) - len(windows) + offset
        if index < 0:   # a window along a leading axis that carries no positions
            continue
        f = fields[index]
        fields[index] = AxisField(size=simplest(f.size + window.extent * f.jump),
                                  jump=simplest(f.jump * window.stride),
                                  start=simplest(f.start + window.start * f.jump))
    return replace(state, fields=tuple(fields))


def reshape_axes(state: FieldState, in_shape: Shape, out_shape: Shape) -> FieldState:
    """Follow spatial axes through a row-major reshape by their element strides: an axis
    lands inside the output axis that holds its stride; it is exact again when it fills
    that axis alone."""
    if tuple(in_shape) == tuple(out_shape) or state.lost:
        return state
    if not all(is_concrete(d) for d in (*in_shape, *out_shape)):
        return replace(state, lost=True)
    axes, subs, flattened = [], [], False
    for axis, (sub, size) in zip(state.axes, state.subs):
        element_stride = sub * prod_of(in_shape[axis + 1:])
        placed = place_axis(element_stride, size, out_shape)
        if placed is None:
            return replace(state, lost=True)
        new_axis, new_sub = placed
        axes.append(new_axis)
        subs.append((new_sub, size))
        flattened = flattened or new_sub != 1 or out_shape[new_axis] != size
    return replace(state, axes=tuple(axes), subs=tuple(subs), flattened=flattened)


def prod_of(sizes: Shape) -> int:
    result = 1
    for size in sizes:
        result *= size
    return result


def place_axis(element_stride: int, size: int, out_shape: Shape) -> tuple[int, int] | None:
    """The output axis and index stride holding ``size`` positions of ``element_stride``."""
    inner = 1
    for axis in range(len(out_shape) - 1, -1, -1):
        outer = inner * out_shape[axis]
        if element_stride % inner == 0 and element_stride * size <= outer \
                and (out_shape[axis] > 1 or size == 1):
            return axis, element_stride // inner
        inner = outer
    return None


def view_state(node: Node, state: FieldState, transfer: Relayout) -> FieldState:
    """Permutes move axes; a slice along a spatial axis shifts and strides its field."""
    sliced = transfer.slice
    if sliced is not None:
        dim, begin, step = sliced
        if dim not in state.axes:
            return state
        if state.flattened:
            return replace(state, lost=True)
        index = state.axes.index(dim)
        fields = list(state.fields)
        f = fields[index]
        fields[index] = AxisField(size=f.size, jump=f.jump * step, start=f.start + begin * f.jump)
        subs = list(state.subs)
        subs[index] = (1, node.outputs[0].shape[dim])
        return replace(state, fields=tuple(fields), subs=tuple(subs))
    permutation = transfer.permutation or tuple(range(len(node.outputs[0].shape)))
    inverse = {old: new for new, old in enumerate(permutation)}
    return replace(state, axes=tuple(inverse[a] for a in state.axes))


def mixed_state(node: Node, transfer: Mixes, states: dict[int, FieldState],
                data_tensor: TensorInfo, data_state: FieldState) -> FieldState | None:
    """Global when a mixed axis of an operand carries positions; else the other axes pass
    (aligned on the output's rank) or are followed through the shape change."""
    where = node.path or "<root>"
    for index, axes in transfer.operands:
        if index >= len(node.inputs):
            continue
        tensor = node.inputs[index]
        state = states.get(tensor.id) if tensor.param is None else None
        if state is None:
            continue
        rank = max(len(tensor.shape), 1)
        if axes is None or {a % rank for a in axes} & set(state.axes):
            return FieldState(global_by=state.global_by or where)
    if transfer.rest == "reshape":
        return reshape_axes(data_state, data_tensor.shape, node.outputs[0].shape)
    out_rank = len(node.outputs[0].shape)
    return shifted(data_state, out_rank - len(data_tensor.shape))


def relayout_state(node: Node, transfer: Relayout, operands: list[tuple[TensorInfo, FieldState]],
                   misalignments: list[Misalignment]) -> FieldState:
    """Permutes and slices move or shift axes; other data movement is followed by element
    strides (several operands are merged first)."""
    data_tensor, data_state = operands[0]
    if transfer.permutation is not None or transfer.slice is not None:
        return view_state(node, data_state, transfer)
    out_shape = node.outputs[0].shape
    if len(operands) == 1:
        return reshape_axes(data_state, data_tensor.shape, out_shape)
    out_rank = len(out_shape)
    merged = merge(node, [shifted(s, out_rank - len(t.shape)) for t, s in operands],
                   misalignments)
    if len(data_tensor.shape) == out_rank and not same_spatial(merged, data_tensor.shape,
                                                               out_shape):
        return reshape_axes(merged, data_tensor.shape, out_shape)
    return merged


def node_state(node: Node, states: dict[int, FieldState], unknown: list[str],
               misalignments: list[Misalignment]) -> FieldState | None:
    """The field of the node's outputs from its operands' fields and the kind's transfer."""
    operands = [(t, states[t.id]) for t in node.inputs if t.param is None and t.id in states]
    if not operands:
        return None
    for _, state in operands:
        if state.is_global:
            return state
    data_tensor, data_state = operands[0]
    rf_formula = get_formula(node.kind, "rf")
    transfer = UNKNOWN if rf_formula is None else rf_formula(
        tuple(t.shape for t in node.inputs), tuple(t.shape for t in node.outputs), node.attrs)
    if transfer == GLOBAL or is_windows(transfer):
        if data_state.flattened or data_state.lost:
            return replace(data_state, lost=True)
        out_shape = node.outputs[0].shape
        windowed = apply_windows(data_state, transfer, node)
        return replace(windowed, subs=tuple((1, out_shape[a]) for a in windowed.axes)) \
            if windowed.fields else windowed
    if transfer == POINTWISE:
        out_rank = len(node.outputs[0].shape) if node.outputs else 0
        return merge(node, [shifted(s, out_rank - len(t.shape)) for t, s in operands],
                     misalignments)
    if isinstance(transfer, Mixes):
        return mixed_state(node, transfer, states, data_tensor, data_state)
    if isinstance(transfer, Relayout):
        return relayout_state(node, transfer, operands, misalignments)
    if isinstance(transfer, AlongAxis):
        return along_axis_state(node, data_state, transfer, data_tensor.shape)
    if isinstance(transfer, Regrid):
        return regrid_state(node, transfer, data_tensor.shape, data_state)
    if transfer == NO_FIELD:
        return None
    unknown.append(node.op)
    return replace(data_state, lost=True)


def along_axis_state(node: Node, state: FieldState, transfer: AlongAxis,
                     in_shape: Shape) -> FieldState:
    """The window applied to the field that lives in tensor axis ``transfer.dim`` (lost
    when positions there are flattened); unchanged when that axis carries none."""
    dim = transfer.dim % max(len(in_shape), 1)
    if dim not in state.axes or state.lost:
        return state
    if state.flattened:
        return replace(state, lost=True)
    index = state.axes.index(dim)
    identity = AxisWindow(extent=0, stride=1, start=0)
    windows = (transfer.window,) + (identity,) * (len(state.fields) - index - 1)
    return apply_windows(state, windows, node)


def regrid_state(node: Node, transfer: Regrid, in_shape: Shape, state: FieldState
                 ) -> FieldState:
    """Windows over the operand read row-major as ``before``, their grid (``after``, of
    the same rank) stored row-major as the output: both regroupings are followed by
    element strides, as a reshape is (an unfold's grid is flattened, a fold's restored)."""
    out_shape = node.outputs[0].shape
    before = tuple(in_shape if transfer.before is None else transfer.before)
    after = tuple(out_shape if transfer.after is None else transfer.after)
    state = reshape_axes(state, in_shape, before)
    if state.flattened or state.lost or len(state.fields) < len(transfer.windows):
        return replace(state, lost=True)
    windowed = apply_windows(state, transfer.windows, node)
    windowed = replace(windowed, subs=tuple((1, after[a]) for a in windowed.axes))
    return reshape_axes(windowed, after, out_shape)


def same_spatial(state: FieldState, in_shape: Shape, out_shape: Shape) -> bool:
    return all(a < len(out_shape) and in_shape[a] == out_shape[a] for a in state.axes)


def receptive_field(graph: Graph) -> ReceptiveField:
    """Propagate fields from the graph's spatial inputs through every node."""
    states: dict[int, FieldState] = {}
    for tensor in graph.inputs:
        state = input_state(tensor)
        if state is not None:
            states[tensor.id] = state
    unknown: list[str] = []
    misalignments: list[Misalignment] = []
    per_node: list[Field | None] = []
    for node in graph.nodes:
        state = node_state(node, states, unknown, misalignments)
        for tensor in node.outputs:
            if state is None:
                states.pop(tensor.id, None)
            else:
                states[tensor.id] = state
        per_node.append(public_field(state))
    by_tensor = {tensor_id: public_field(state) for tensor_id, state in states.items()}
    output = by_tensor.get(graph.outputs[0].id) if graph.outputs else None
    return ReceptiveField(nodes=tuple(per_node), by_tensor=by_tensor, output=output,
                          misalignments=tuple(misalignments),
                          unknown_ops=tuple(sorted(set(unknown))))


__all__ = ["AxisField", "Field", "FieldState", "Misalignment", "ReceptiveField", "field_json",
           "receptive_field", "Dim"]
