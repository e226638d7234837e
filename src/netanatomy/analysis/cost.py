"""Per-node cost: MACs, FLOPs and elementwise FLOPs from the op rules, and output bytes.

Conventions: MAC = one multiply plus one add; ``flops`` = 2 × MACs (linear algebra only);
``elementwise_flops`` are per-element ops (bias adds, norms, activations, pooling, softmax,
arithmetic) counted apart; ``bytes_accessed`` reads each operand once and writes each
output once (the rules' ``bytes`` metric; views move nothing). A node whose kind has no
rule has unknown (``None``) costs and is listed as uncounted; it is never taken as 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netanatomy.ir.graph import Graph, Node
from netanatomy.rules import get_formula
from netanatomy.symbolic import Dim


@dataclass(frozen=True, slots=True)
class NodeCost:
    """Cost of one node; ``None`` marks a metric no rule gives."""

    macs: Dim | None
    elementwise_flops: Dim | None
    activation_bytes: Dim
    bytes_accessed: Dim | None = None

    @property
    def flops(self) -> Dim | None:
        """2 × MACs (linear-algebra FLOPs)."""
        return None if self.macs is None else 2 * self.macs

    @property
    def counted(self) -> bool:
        return self.macs is not None and self.elementwise_flops is not None


Formulas = tuple[Callable[..., Any] | None, Callable[..., Any] | None, Callable[..., Any] | None]


def cost_formulas(kind: str) -> Formulas:
    """The ``macs``, ``elementwise_flops`` and ``bytes`` formulas of ``kind`` (None: none)."""
    return (get_formula(kind, "macs"), get_formula(kind, "elementwise_flops"),
            get_formula(kind, "bytes"))


def node_cost(node: Node, formulas: dict[str, Formulas] | None = None) -> NodeCost:
    """Apply the node kind's rule to its operand and output shapes; ``formulas`` caches
    :func:`cost_formulas` per kind across the nodes of one graph."""
    in_shapes = tuple(t.shape for t in node.inputs)
    out_shapes = tuple(t.shape for t in node.outputs)
    found = None if formulas is None else formulas.get(node.kind)
    if found is None:
        found = cost_formulas(node.kind)
        if formulas is not None:
            formulas[node.kind] = found
    macs_formula, flops_formula, bytes_formula = found
    macs = None if macs_formula is None else macs_formula(in_shapes, out_shapes, node.attrs)
    elementwise = None if flops_formula is None else flops_formula(in_shapes, out_shapes,
                                                                   node.attrs)
    activation_bytes = sum(t.nbytes for t in node.outputs) if node.allocates else 0
    itemsizes = (tuple(t.itemsize for t in node.inputs), tuple(t.itemsize for t in node.outputs))
    traffic = None if bytes_formula is None else bytes_formula(in_shapes, out_shapes,
                                                               node.attrs, itemsizes)
    return NodeCost(macs=macs, elementwise_flops=elementwise, activation_bytes=activation_bytes,
                    bytes_accessed=traffic)


def graph_costs(graph: Graph) -> tuple[NodeCost, ...]:
    """The cost of every node, in graph order. Rules are pure functions of the kind, the
    shapes, item sizes and attributes, so nodes alike in all of these (the repeated layers
    of a deep model, one optimizer update per parameter shape) are costed once."""
    formulas: dict[str, Formulas] = {}
    alike: dict[Any, NodeCost] = {}
    costs = []
    for node in graph.nodes:
        key = likeness(node)
        cost = alike.get(key) if key is not None else None
        if cost is None:
            cost = node_cost(node, formulas)
            if key is not None:
                alike[key] = cost
        costs.append(cost)
    return tuple(costs)


def likeness(node: Node) -> Any:
    """What a node's cost depends on, hashable; None when an attribute is not hashable
    (such a node is simply costed on its own)."""
    try:
        key = (node.kind, node.allocates,
               tuple((t.shape, t.itemsize) for t in node.inputs),
               tuple((t.shape, t.itemsize) for t in node.outputs),
               tuple(sorted(node.attrs.items())))
        hash(key)
    except TypeError:
        return None
    return key


def uncounted_ops(graph: Graph, costs: tuple[NodeCost, ...]) -> list[tuple[str, int]]:
    """``(op name, count)`` of nodes whose cost is unknown, most frequent first."""
    counts = Counter(node.op for node, cost in zip(graph.nodes, costs) if not cost.counted)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
