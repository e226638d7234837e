"""Per-element ops: arithmetic, activations, softmax, dropout, and reductions.

Convention: each elementwise op, activation, softmax or dropout costs one elementwise FLOP
per output element, whatever its internal complexity (a GELU counts as much as a ReLU);
a reduction (sum, mean, max, var, ...) costs one per input element. None of them has MACs.
Attrs: ``op`` names the source function (``"relu"``, ``"add"``, ...) for display only;
reductions carry ``dims`` (axes reduced, ``None`` for all) and ``keepdim``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.linalg import broadcast_shapes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import POINTWISE, Mixes
from netanatomy.symbolic import Dim, prod

PER_ELEMENT_KINDS = ("elementwise", "activation", "softmax", "dropout")


@formula(PER_ELEMENT_KINDS, "output_shapes")
def elementwise_output_shapes(inputs: tuple[Shape, ...],
                              attrs: Mapping[str, Any]) -> tuple[Shape]:
    """The broadcast of all operand shapes."""
    result: Shape = ()
    for shape in inputs:
        result = broadcast_shapes(result, shape)
    return (result,)


@formula(PER_ELEMENT_KINDS + ("reduction",), "macs")
def elementwise_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                     attrs: Mapping[str, Any]) -> Dim:
    """Elementwise ops and reductions have no multiply-accumulates."""
    return 0


@formula(PER_ELEMENT_KINDS, "elementwise_flops")
def elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                      attrs: Mapping[str, Any]) -> Dim:
    """One FLOP per output element."""
    return prod(outputs[0])


@formula("reduction", "output_shapes")
def reduction_output_shapes(inputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape = inputs[0]
    dims = attrs.get("dims")
    reduced = set(range(len(x_shape))) if dims is None else {d % len(x_shape) for d in dims}
    if attrs.get("keepdim", False):
        return (tuple(1 if axis in reduced else size for axis, size in enumerate(x_shape)),)
    return (tuple(size for axis, size in enumerate(x_shape) if axis not in reduced),)


@formula("reduction", "elementwise_flops")
def reduction_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> Dim:
    """One FLOP per input element."""
    return prod(inputs[0])


formula(PER_ELEMENT_KINDS + ("reduction",), "params")(no_params)
formula(PER_ELEMENT_KINDS + ("reduction",), "bytes")(traffic_bytes)


@formula(("elementwise", "activation", "dropout"), "rf")
def elementwise_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                   attrs: Mapping[str, Any]) -> str:
    """Output position o reads position o of every (broadcast) operand."""
    return POINTWISE


@formula("softmax", "rf")
def softmax_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
               attrs: Mapping[str, Any]) -> Mixes:
    """Every element of the softmax axis depends on the whole axis."""
    return Mixes(((0, (attrs.get("dim", -1),)),))


@formula("reduction", "rf")
def reduction_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                 attrs: Mapping[str, Any]) -> Mixes:
    """The reduced axes (all when ``dims`` is None) mix; the others are kept or squeezed."""
    dims = attrs.get("dims")
    return Mixes(((0, None if dims is None else tuple(dims)),), rest="reshape")


convention(("elementwise", "activation", "dropout"),
           "1 elementwise FLOP per output element, whatever the function; no MACs")
convention("softmax", "1 elementwise FLOP per output element; no MACs")
convention("reduction", "1 elementwise FLOP per input element; no MACs")
