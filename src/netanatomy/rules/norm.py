"""Normalisation: batch, group, instance, layer and RMS norm.

Operands: ``(x, *affine)`` where ``affine`` holds the scale and/or shift tensors present.
Attrs: ``type`` ("batch", "group", "instance", "layer", "rms") and ``stats`` (True when the
statistics are computed from the input — training-mode batch norm and every other norm —
False when running statistics are used).

Convention, in elementwise FLOPs per element of ``x``: 2 to normalise (subtract, divide),
plus 2 when statistics are computed (accumulate mean and variance), plus 1 per affine
tensor (scale, shift). No MACs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import operand_elements, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import POINTWISE
from netanatomy.symbolic import Dim, prod


@formula("norm", "output_shapes")
def norm_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    return (inputs[0],)


@formula("norm", "macs")
def norm_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Dim:
    """Normalisation has no multiply-accumulates."""
    return 0


@formula("norm", "elementwise_flops")
def norm_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """elements × (2 + 2·[statistics computed] + number of affine tensors)."""
    per_element = 2 + (2 if attrs["stats"] else 0) + (len(inputs) - 1)
    return prod(inputs[0]) * per_element


@formula("norm", "params")
def norm_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """Elements of the affine scale and shift operands."""
    return operand_elements(inputs, range(1, len(inputs)))


formula("norm", "bytes")(traffic_bytes)


@formula("norm", "rf")
def norm_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> str:
    """Positions unchanged: statistics are not counted as mixing positions."""
    return POINTWISE


convention("norm", "elementwise FLOPs = elements × (2 + 2 when statistics are computed + 1 "
                   "per affine tensor); no MACs")
dim_names("norm", ("N C *",), ("N C *",))
