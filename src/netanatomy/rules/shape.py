"""Data movement: views, reshapes, concatenation, copies, indexing and tensor creation.

These ops compute nothing: 0 MACs and 0 elementwise FLOPs, by definition rather than by
default (an op is only given one of these kinds when it is known to be pure data movement).
Their memory traffic shows in the activation bytes of the ops that allocate.

Kinds: ``view`` (aliasing: view, permute, transpose, expand, slice, select, ...),
``reshape`` (attrs ``shape``, one entry may be -1), ``concat`` (attrs ``dim``), ``copy``
(clone, dtype/device casts, padding, repeat, gather, index_select, ...), ``create``
(zeros, ones, arange, empty, full, random tensors), ``pad`` (constant, reflection or
replication padding; attrs ``padding`` as ``(before, after)`` per trailing axis).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.errors import RuleError
from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_bytes, no_params, traffic_bytes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import NO_FIELD, POINTWISE, AxisWindow, Relayout
from netanatomy.symbolic import Dim, floordiv, prod

DATA_MOVEMENT_KINDS = ("view", "reshape", "concat", "copy", "create", "pad")


@formula(DATA_MOVEMENT_KINDS, "macs")
def data_movement_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                       attrs: Mapping[str, Any]) -> Dim:
    """Data movement multiplies nothing."""
    return 0


@formula(DATA_MOVEMENT_KINDS, "elementwise_flops")
def data_movement_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                    attrs: Mapping[str, Any]) -> Dim:
    """Data movement computes nothing."""
    return 0


@formula("reshape", "output_shapes")
def reshape_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """``attrs["shape"]`` with a single -1 entry resolved from the element count."""
    wanted = tuple(attrs["shape"])
    if -1 not in wanted:
        return (wanted,)
    known = prod(size for size in wanted if size != -1)
    missing = floordiv(prod(inputs[0]), known)
    return (tuple(missing if size == -1 else size for size in wanted),)


@formula("concat", "output_shapes")
def concat_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """Sizes along ``attrs["dim"]`` add up; the other axes are shared."""
    first = inputs[0]
    axis = attrs["dim"] % len(first)
    total = sum((shape[axis] for shape in inputs[1:]), first[axis])
    return ((*first[:axis], total, *first[axis + 1:]),)


@formula("pad", "output_shapes")
def pad_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """Each padded trailing axis grows by before + after."""
    x_shape = inputs[0]
    rank = len(attrs["padding"])
    padded = tuple(size + before + after
                   for size, (before, after) in zip(x_shape[-rank:], attrs["padding"]))
    return ((*x_shape[:-rank], *padded),)


@formula("pad", "rf")
def pad_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
           attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """Output o is input o − before: a 1-tap window starting at −before."""
    return tuple(AxisWindow(extent=0, stride=1, start=-before)
                 for before, _ in attrs["padding"])


formula(DATA_MOVEMENT_KINDS, "params")(no_params)
formula("view", "bytes")(no_bytes)
formula(("reshape", "concat", "copy", "create", "pad"), "bytes")(traffic_bytes)


@formula("view", "rf")
def view_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> Relayout:
    """A permutation moves axes; a slice shifts and strides one; other views (reshape,
    expand, squeeze) are followed by element strides."""
    return Relayout(permutation=attrs.get("permutation"), slice=attrs.get("slice"))


@formula(("reshape", "copy"), "rf")
def relayout_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Relayout:
    """Row-major data movement: spatial axes are followed by their element strides."""
    return Relayout()


@formula("concat", "rf")
def concat_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> str:
    """Positions are kept; merged fields take the largest (output 0 is the first
    operand's position 0 along the concatenated axis)."""
    return POINTWISE


@formula("create", "rf")
def create_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> str:
    """A new tensor is not made of input positions."""
    return NO_FIELD


convention(DATA_MOVEMENT_KINDS, "data movement: 0 MACs and 0 FLOPs by definition; views "
                                "allocate and move nothing")


@formula(("view", "copy", "create"), "output_shapes")
def given_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """These kinds cover many ops with op-specific shapes (expand, gather, arange, ...):
    the front-end records the op's own output shape as ``attrs["shape"]``.

    Raises:
        RuleError: no shape was recorded.
    """
    if "shape" not in attrs:
        raise RuleError("the output shape of a view, copy or creation is the op's own: the "
                        "front-end must record it as attrs['shape']")
    return (tuple(attrs["shape"]),)
