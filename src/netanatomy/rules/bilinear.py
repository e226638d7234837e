"""Bilinear forms (``nn.Bilinear``) and pairwise distances (``torch.cdist``).

``bilinear``: operands ``(x1 (..., in1), x2 (..., in2), weight (out, in1, in2)[, bias (out,)])``
→ ``(..., out)``, ``y_k = x1ᵀ·A_k·x2 (+ b_k)``. Per row and output feature the row vector
``x1ᵀ·A_k`` costs in1·in2 MACs and its product with x2 in2 more: ATen's ``_trilinear``
contracts in1 first (in1 is summed in the product of the operands x1 and weight, in2 in
the product with x2). FlopCounterMode has no formula for ``_trilinear`` (it counts 0).

``distance``: operands ``(x1 (*B1, P, M), x2 (*B2, R, M))`` → ``(*B, P, R)`` (B the
broadcast batch); attrs ``p`` (a number, or ``"inf"``) and ``form``: ``"mm"`` when ATen takes
the matrix-product route of the Euclidean distance (``_euclidean_dist``:
``sqrt(clamp(‖x‖² + ‖y‖² − 2·x·y, 0))``), ``"direct"`` when it loops over ``|x − y|`` pairs
(``cdist`` kernel: map, reduce, finish per p; aten/src/ATen/native/cpu/DistanceOpsKernel.cpp).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, operand_elements, traffic_bytes
from netanatomy.rules.linalg import broadcast_shapes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim, prod

# --- bilinear -----------------------------------------------------------------------------


@formula("bilinear", "output_shapes")
def bilinear_output_shapes(inputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> tuple[Shape]:
    x1_shape, weight_shape = inputs[0], inputs[2]
    return ((*x1_shape[:-1], weight_shape[0]),)


@formula("bilinear", "macs")
def bilinear_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                  attrs: Mapping[str, Any]) -> Dim:
    """rows · out · (in1·in2 + in2): x1ᵀ·A_k (in1·in2), then · x2 (in2)."""
    x1_shape, weight_shape = inputs[0], inputs[2]
    out_features, in1, in2 = weight_shape[0], weight_shape[1], weight_shape[2]
    return prod(x1_shape[:-1]) * out_features * (in1 * in2 + in2)


@formula("bilinear", "elementwise_flops")
def bilinear_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                               attrs: Mapping[str, Any]) -> Dim:
    """One add per output element when a bias operand is present, else 0."""
    return prod(outputs[0]) if len(inputs) > 3 else 0


@formula("bilinear", "params")
def bilinear_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """Weight (out · in1 · in2) + bias (out)."""
    return operand_elements(inputs, (2, 3))


@formula("bilinear", "rf")
def bilinear_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Mixes:
    """Every output feature combines the whole last axis of x1 and of x2; rows pass."""
    return Mixes(((0, (-1,)), (1, (-1,))))


# --- distance -----------------------------------------------------------------------------

DIRECT_PER_COMPONENT = {0: 3, 1: 3, "inf": 3}
"""Elementwise FLOPs per (pair, component) of the direct kernel for p ≠ 2: subtract, map
(``≠ 0`` for p = 0, ``|·|`` for p = 1 and ∞), reduce (add; max for ∞). Any other p: subtract,
``|·|``, ``pow``, add = 4. For p = 2 the square-and-add is a MAC and the subtract 1 FLOP."""

NO_FINISH = (0, 1, "inf")
"""p whose direct kernel needs no root per output (the others take ``sqrt`` or ``^(1/p)``)."""


@formula("distance", "output_shapes")
def distance_output_shapes(inputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> tuple[Shape]:
    """Broadcast batch, then the P rows of x1 and the R rows of x2."""
    x1_shape, x2_shape = inputs[0], inputs[1]
    batch = broadcast_shapes(x1_shape[:-2], x2_shape[:-2])
    return ((*batch, x1_shape[-2], x2_shape[-2]),)


@formula("distance", "macs")
def distance_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                  attrs: Mapping[str, Any]) -> Dim:
    """p = 2: B·P·R·M, the products x·y (``mm``) or (x − y)² (``direct``); else 0."""
    if attrs["p"] != 2:
        return 0
    return prod(outputs[0]) * inputs[0][-1]


@formula("distance", "elementwise_flops")
def distance_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                               attrs: Mapping[str, Any]) -> Dim:
    """``mm``: 3·|x1| + 2·|x2| + 4·B·P·R; ``direct``: per component and per output as
    :data:`DIRECT_PER_COMPONENT` and :data:`NO_FINISH` say."""
    pairs = prod(outputs[0])
    if attrs.get("form") == "mm":
        # |x1|: square, add into ‖x‖², scale by −2; |x2|: square, add into ‖y‖²;
        # per output: add ‖x‖², add ‖y‖² (ATen folds both into the product), clamp, sqrt
        return 3 * prod(inputs[0]) + 2 * prod(inputs[1]) + 4 * pairs
    p = attrs["p"]
    components = pairs * inputs[0][-1]
    finish = 0 if p in NO_FINISH else pairs
    if p == 2:
        return components + finish
    return components * DIRECT_PER_COMPONENT.get(p, 4) + finish


formula("distance", "params")(no_params)
formula(("bilinear", "distance"), "bytes")(traffic_bytes)


@formula("distance", "rf")
def distance_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Mixes:
    """Each distance combines the whole component axis of both operands; rows pass."""
    return Mixes(((0, (-1,)), (1, (-1,))))


dim_names("bilinear", ("... F_1", "... F_2", "F_out F_1 F_2", "F_out"), ("... F_out",))
dim_names("distance", ("... P M", "... R M"), ("... P R",))

convention("bilinear", "MACs = rows · out · (in1·in2 + in2): x1ᵀ·A_k, then · x2 (ATen's "
                       "order); bias 1 elementwise FLOP per output element")
convention("distance", "p = 2: MACs = B·P·R·M (x·y or (x−y)²); mm form + 3·|x1| + 2·|x2| + "
                       "4·B·P·R elementwise (norms, −2 scale, norm adds, clamp, sqrt), direct "
                       "+ B·P·R·M subtracts + B·P·R roots; other p: 0 MACs, 3 (p = 0, 1, ∞) "
                       "or 4 elementwise per component + 1 root per output (not p = 0, 1, ∞)")
