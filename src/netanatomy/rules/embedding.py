"""Embedding lookup: ``(weight (V, D), indices)`` → ``indices.shape + (D,)``.

A lookup is a gather: no MACs and no elementwise FLOPs (its cost is memory traffic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import ItemSizes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import NO_FIELD
from netanatomy.symbolic import Dim, prod


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


@formula("embedding", "params")
def embedding_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """The table: V · D."""
    return prod(inputs[0])


@formula("embedding", "bytes")
def embedding_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                    attrs: Mapping[str, Any], itemsizes: ItemSizes) -> Dim:
    """Indices read, the gathered rows read, the output written (not the whole table)."""
    index_bytes = prod(inputs[1]) * itemsizes[0][1]
    return index_bytes + 2 * prod(outputs[0]) * itemsizes[1][0]


@formula("embedding", "rf")
def embedding_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                 attrs: Mapping[str, Any]) -> str:
    """Rows of a table, chosen by value: not input positions."""
    return NO_FIELD


convention("embedding", "a lookup: 0 MACs, 0 FLOPs; bytes = indices + gathered rows read + "
                        "output written")
dim_names("embedding", ("V D", "..."), ("... D",))
