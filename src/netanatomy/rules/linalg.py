"""Linear algebra: fully connected layers, (batched) matrix products and attention.

Conventions: MACs = multiply-accumulates (FLOPs = 2 × MACs); an added bias or ``β·C`` term
is one elementwise FLOP per output element. Attention counts both products (Q·Kᵀ and
P·V) densely, causal or masked positions included (as FlopCounterMode does); the scale and
the softmax are one elementwise FLOP per score each, plus one per score for an additive mask.
Products of complex operands (``attrs["complex"]``, set by the front-end) count 4 real MACs
per complex MAC (:data:`~netanatomy.rules.common.REAL_MACS_PER_COMPLEX_MAC`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import complex_factor, no_params, operand_elements, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim, prod


def broadcast_dim(first: Dim, second: Dim) -> Dim:
    """The broadcast of two sizes (a size of 1 stretches; otherwise they are equal)."""
    if first == 1:
        return second
    return first


def broadcast_shapes(first: Shape, second: Shape) -> Shape:
    """NumPy-style broadcast of two shapes."""
    rank = max(len(first), len(second))
    padded_first = (1,) * (rank - len(first)) + tuple(first)
    padded_second = (1,) * (rank - len(second)) + tuple(second)
    return tuple(broadcast_dim(a, b) for a, b in zip(padded_first, padded_second))


@formula("linear", "output_shapes")
def linear_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape, weight_shape = inputs[0], inputs[1]
    return ((*x_shape[:-1], weight_shape[0]),)


@formula("linear", "macs")
def linear_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Dim:
    """prod(batch dims) · in_features · out_features (× 4 when complex)."""
    x_shape, weight_shape = inputs[0], inputs[1]
    return complex_factor(attrs) * prod(x_shape) * weight_shape[0]


@formula("matmul", "output_shapes")
def matmul_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """torch.matmul semantics: 1-D operands are promoted and squeezed, batch dims broadcast."""
    a_shape, b_shape = inputs[0], inputs[1]
    if len(a_shape) == 1 and len(b_shape) == 1:
        return ((),)
    if len(b_shape) == 1:
        return (tuple(a_shape[:-1]),)
    if len(a_shape) == 1:
        return ((*b_shape[:-2], b_shape[-1]),)
    batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
    return ((*batch, a_shape[-2], b_shape[-1]),)


@formula("matmul", "macs")
def matmul_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Dim:
    """Output elements × the contracted size K (the last dim of the left operand), × 4
    when complex."""
    return complex_factor(attrs) * prod(outputs[0]) * inputs[0][-1]


@formula(("linear", "matmul"), "elementwise_flops")
def linalg_bias_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                      attrs: Mapping[str, Any]) -> Dim:
    """One add per output element when a bias operand is present, else 0."""
    return prod(outputs[0]) if len(inputs) > 2 else 0


@formula("attention", "output_shapes")
def attention_output_shapes(inputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> tuple[Shape]:
    query_shape, value_shape = inputs[0], inputs[2]
    return ((*query_shape[:-1], value_shape[-1]),)


@formula("attention", "macs")
def attention_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                   attrs: Mapping[str, Any]) -> Dim:
    """batch·heads · L · S · (E + E_v): Q·Kᵀ (L·S·E) plus P·V (L·S·E_v), × 4 when
    complex."""
    query_shape, key_shape, value_shape = inputs[0], inputs[1], inputs[2]
    scores = prod(query_shape[:-1]) * key_shape[-2]
    return complex_factor(attrs) * scores * (query_shape[-1] + value_shape[-1])


@formula("attention", "elementwise_flops")
def attention_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> Dim:
    """Per score: scale and softmax, plus the mask add when a mask operand is given."""
    query_shape, key_shape = inputs[0], inputs[1]
    scores = prod(query_shape[:-1]) * key_shape[-2]
    per_score = 2 + (1 if len(inputs) > 3 else 0)
    return scores * per_score


@formula("linear", "params")
def linear_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """Weight (out · in) + bias (out)."""
    return operand_elements(inputs, (1, 2))


formula(("matmul", "attention"), "params")(no_params)
formula(("linear", "matmul", "attention"), "bytes")(traffic_bytes)


@formula("linear", "rf")
def linear_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Mixes:
    """Every output feature combines the whole last axis of x."""
    return Mixes(((0, (-1,)),))


@formula("matmul", "rf")
def matmul_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Mixes:
    """The contracted axes mix: the last of a, the second to last of b (its only one when
    1-D); the other axes pass to the output."""
    b_contracted = -1 if len(inputs[1]) == 1 else -2
    return Mixes(((0, (-1,)), (1, (b_contracted,))))


@formula("attention", "rf")
def attention_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                 attrs: Mapping[str, Any]) -> Mixes:
    """Each query position reads every key and value position; query rows pass."""
    return Mixes(((0, (-1,)), (1, None), (2, None)))


convention("linear", "MACs = rows · in_features · out_features, × 4 real MACs for complex "
                     "operands; bias add 1 elementwise FLOP per output element")
convention("matmul", "MACs = output elements × contracted size K, × 4 real MACs for complex "
                     "operands; an added bias or β·C is 1 elementwise FLOP per output "
                     "element")
convention("attention", "MACs = batch·heads·L·S·(E + E_v) for Q·Kᵀ and P·V (× 4 when "
                        "complex), dense (causal and masked positions included); scale and "
                        "softmax 1 elementwise FLOP per score each, + 1 per score for an "
                        "additive mask")
dim_names("linear", ("... F_in", "F_out F_in", "F_out"), ("... F_out",))
dim_names("matmul", ("... M K", "... K N", "... M N"), ("... M N",))
dim_names("attention", ("B H L E", "B H S E", "B H S E_v", "... L S"), ("B H L E_v",))
