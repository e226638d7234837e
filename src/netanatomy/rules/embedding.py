"""Embedding lookup: ``(weight (V, D), indices)`` → ``indices.shape + (D,)``.

A lookup is a gather: no MACs and no elementwise FLOPs (its cost is memory traffic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.registry import formula
from netanatomy.symbolic import Dim


@formula("embedding", "output_shapes")
def embedding_output_shapes(inputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> tuple[Shape]:
    weight_shape, index_shape = inputs[0], inputs[1]
    return ((*index_shape, weight_shape[-1]),)


@formula("embedding", "macs")
def embedding_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                   attrs: Mapping[str, Any]) -> Dim:
    """A table lookup multiplies nothing."""
    return 0


@formula("embedding", "elementwise_flops")
def embedding_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> Dim:
    """A table lookup computes nothing."""
    return 0
