"""Lookups that compute: embedding bags, and scatter-add accumulation (histograms too).

``embedding_bag``: operands ``(weight (V, D), indices (L,), offsets (O,)[,
per_sample_weights (L,)])`` → ``(bags, D)`` with bags = O, or O − 1 when attrs
``include_last_offset``; attrs ``mode`` is ``"sum"``, ``"mean"`` or ``"max"``. Each of the
L gathered rows is combined into its bag: 1 elementwise FLOP per gathered element (an add,
or a compare for max), + 1 per output element for mean (the divide), + 1 per gathered
element for the per-sample-weight multiply (sum mode only). No MACs: a weighted bag is
counted as elementwise multiplies and adds, as a lookup multiplies nothing by a weight
matrix. Rows equal to ``padding_idx`` are skipped at run time (data-dependent): they are
counted, an upper bound.

``scatter_add``: operands ``(target, index, source)`` → target's shape; attrs ``added`` says
which operand has one element per addition: ``"source"`` (index_add: every source element),
``"index"`` (scatter_add / scatter reduce: one per index entry; the source may be larger,
or a scalar), ``"input"`` (histc: operands ``(x,)`` and attrs ``bins``, a scatter-add of a one
per element into ``bins`` counters; + 1 per element for the min and max when the range comes
from the data, attrs ``data_range``). attrs ``reduce = "mean"`` adds 1 per output element (the
divide). A scale ``alpha`` is not counted, as ``α`` of addmm is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import ItemSizes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import NO_FIELD, Mixes
from netanatomy.symbolic import Dim, prod

# --- embedding_bag ------------------------------------------------------------------------


@formula("embedding_bag", "output_shapes")
def embedding_bag_output_shapes(inputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> tuple[Shape]:
    weight_shape, offsets_shape = inputs[0], inputs[2]
    bags = offsets_shape[0] - (1 if attrs.get("include_last_offset", False) else 0)
    return ((bags, weight_shape[-1]),)


@formula("embedding_bag", "macs")
def embedding_bag_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                       attrs: Mapping[str, Any]) -> Dim:
    """A lookup multiplies nothing by a weight matrix (weighted bags are elementwise)."""
    return 0


@formula("embedding_bag", "elementwise_flops")
def embedding_bag_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                    attrs: Mapping[str, Any]) -> Dim:
    """L·D combines (add or max) + B·D divides for mean + L·D per-sample-weight multiplies."""
    gathered = prod(inputs[1]) * inputs[0][-1]
    flops = gathered
    if attrs.get("mode", "mean") == "mean":
        flops = flops + prod(outputs[0])
    if len(inputs) > 3:
        flops = flops + gathered
    return flops


@formula("embedding_bag", "params")
def embedding_bag_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """The table: V · D."""
    return prod(inputs[0])


@formula("embedding_bag", "bytes")
def embedding_bag_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                        attrs: Mapping[str, Any], itemsizes: ItemSizes) -> Dim:
    """Indices, offsets (and per-sample weights) read, the L gathered rows read, the output
    written; not the whole table, nor the bookkeeping outputs (offset2bag, bag sizes)."""
    sizes = itemsizes[0]
    small = sum((prod(inputs[i]) * sizes[i] for i in range(1, len(inputs))), 0)
    gathered = prod(inputs[1]) * inputs[0][-1] * sizes[0]
    return small + gathered + prod(outputs[0]) * itemsizes[1][0]


@formula("embedding_bag", "rf")
def embedding_bag_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                     attrs: Mapping[str, Any]) -> str:
    """Rows of a table, chosen by value: not input positions."""
    return NO_FIELD


# --- scatter_add --------------------------------------------------------------------------

ADDED_OPERAND = {"input": 0, "index": 1, "source": 2}
"""attrs ``added`` → the operand with one element per addition."""


def added_elements(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """Number of additions into the target (see the module docstring)."""
    return prod(inputs[ADDED_OPERAND[attrs.get("added", "source")]])


@formula("scatter_add", "output_shapes")
def scatter_add_output_shapes(inputs: tuple[Shape, ...],
                              attrs: Mapping[str, Any]) -> tuple[Shape]:
    """The target's shape; ``(bins,)`` for a histogram."""
    if "bins" in attrs:
        return ((attrs["bins"],),)
    return (tuple(inputs[0]),)


@formula("scatter_add", "macs")
def scatter_add_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                     attrs: Mapping[str, Any]) -> Dim:
    """Accumulation adds; it multiplies nothing."""
    return 0


@formula("scatter_add", "elementwise_flops")
def scatter_add_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                  attrs: Mapping[str, Any]) -> Dim:
    """1 per addition, + 1 per output element for a mean, + 1 per input element for the
    data range of a histogram."""
    flops = added_elements(inputs, attrs)
    if attrs.get("reduce") == "mean":
        flops = flops + prod(outputs[0])
    if attrs.get("data_range", False):
        flops = flops + prod(inputs[0])
    return flops


@formula("scatter_add", "params")
def scatter_add_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """No weight operands."""
    return 0


@formula("scatter_add", "bytes")
def scatter_add_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                      attrs: Mapping[str, Any], itemsizes: ItemSizes) -> Dim:
    """Target (or histogram input) and index read, the source elements added read, the
    output written."""
    sizes = itemsizes[0]
    read = sum((prod(inputs[i]) * sizes[i] for i in range(min(2, len(inputs)))), 0)
    if len(inputs) > 2:
        read = read + added_elements(inputs, attrs) * sizes[2]
    return read + prod(outputs[0]) * itemsizes[1][0]


@formula("scatter_add", "rf")
def scatter_add_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                   attrs: Mapping[str, Any]) -> Mixes | str:
    """Target positions pass; source positions along ``dim`` land where the index says
    (data-dependent: mixed). A histogram's bins are values, not positions."""
    if "bins" in attrs:
        return NO_FIELD
    return Mixes(((2, (attrs.get("dim", 0),)),))


dim_names("embedding_bag", ("V D", "L", "O", "L"), ("B D",))

convention("embedding_bag", "0 MACs; 1 elementwise FLOP per gathered element (add / max), "
                            "+ 1 per output element for mean, + 1 per gathered element for "
                            "per-sample weights; bytes = indices + offsets + gathered rows + "
                            "output")
convention("scatter_add", "0 MACs; 1 elementwise FLOP per element added (index_add: source "
                          "elements, scatter_add: index entries, histc: input elements), "
                          "+ 1 per output element for a mean; alpha not counted")
