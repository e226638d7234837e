"""Mixture of experts: the grouped matrix product that runs every expert in one kernel.

Operands: ``(a, b, offs)``, ``offs`` absent when both ``a`` and ``b`` are 3-D, and a bias
last when ``attrs["bias"]``. The layouts are those of ``torch._grouped_mm``:

- ``a (M, K)``, ``b (G, K, N)``: the M rows of ``a`` are split into G groups by ``offs``,
  group g is multiplied by ``b[g]``; output ``(M, N)``. This is the forward of MoE experts
  (M = routed rows = tokens · top_k).
- ``a (G, M, K)``, ``b (K, N)``: the N columns of ``b`` are split; output ``(M, N)``.
- ``a (M, K)``, ``b (K, N)``: the contracted K is split (weight gradients); output
  ``(G, M, N)``.
- ``a (G, M, K)``, ``b (G, K, N)``: a batched product; output ``(G, M, N)``.

Conventions: MACs = Σ over groups of rows · K · N = every row of the jagged operand times
the sizes of the other two axes, independent of how rows split over groups (the offsets
are data, unknown on meta, and do not change the sum). Rows past ``offs[-1]`` (which the
kernel skips; transformers uses them only for expert-parallel sentinels) are counted as
routed. An added bias is 1 elementwise FLOP per output element. ``params`` is 0: the
expert weights are parameters of the model's table, as for ``matmul``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim, prod


@formula("grouped_matmul", "output_shapes")
def grouped_matmul_output_shapes(inputs: tuple[Shape, ...],
                                 attrs: Mapping[str, Any]) -> tuple[Shape]:
    """(M, N) when one operand is 2-D and the other 3-D; (G, M, N) otherwise."""
    a_shape, b_shape = inputs[0], inputs[1]
    if len(a_shape) == 2 and len(b_shape) == 2:
        groups = inputs[2][0]
        return ((groups, a_shape[0], b_shape[1]),)
    if len(a_shape) == 2:
        return ((a_shape[0], b_shape[-1]),)
    if len(b_shape) == 2:
        return ((a_shape[1], b_shape[1]),)
    return ((a_shape[0], a_shape[1], b_shape[-1]),)


@formula("grouped_matmul", "macs")
def grouped_matmul_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                        attrs: Mapping[str, Any]) -> Dim:
    """Output elements × K; when K itself is split over groups (both operands 2-D), the
    groups share it: M · N · K_total."""
    a_shape, b_shape = inputs[0], inputs[1]
    out_shape = outputs[0]
    if len(a_shape) == 2 and len(b_shape) == 2:
        return prod(out_shape[1:]) * a_shape[-1]
    return prod(out_shape) * a_shape[-1]


@formula("grouped_matmul", "elementwise_flops")
def grouped_matmul_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                     attrs: Mapping[str, Any]) -> Dim:
    """One add per output element when a bias is given, else 0."""
    return prod(outputs[0]) if attrs.get("bias") else 0


formula("grouped_matmul", "params")(no_params)
formula("grouped_matmul", "bytes")(traffic_bytes)


@formula("grouped_matmul", "rf")
def grouped_matmul_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                      attrs: Mapping[str, Any]) -> Mixes:
    """As a matmul: the contracted axes (last of a, second to last of b) mix, rows pass."""
    return Mixes(((0, (-1,)), (1, (-2,))))


convention("grouped_matmul", "MACs = Σ_groups rows · K · N = routed rows · K · N (independent "
                             "of the split over groups; all rows of the jagged operand "
                             "counted); bias 1 elementwise FLOP per output element")
dim_names("grouped_matmul", ("M K", "G K N", "G", "G N"), ("M N",))  # the experts layout
