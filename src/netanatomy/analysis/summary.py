"""Fold node costs and the parameter table into a per-module :class:`Report`.

Each node's cost is added to its module and every ancestor, so a layer's numbers cover its
subtree and the root's equal the totals. Time is linear in the number of nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.cost import NodeCost, graph_costs, uncounted_ops
from netanatomy.analysis.receptive_field import ReceptiveField, receptive_field
from netanatomy.ir.graph import Graph
from netanatomy.report import LayerRow, Report, Totals, UncountedOp
from netanatomy.symbolic import Dim


@dataclass
class Accumulator:
    """Running sums for one module path."""

    macs: Dim = 0
    elementwise_flops: Dim = 0
    activation_bytes: Dim = 0
    params: Dim = 0
    trainable: Dim = 0
    frozen: Dim = 0
    buffers: Dim = 0
    shared: Dim = 0
    params_total: Dim = 0
    complete: bool = True


def ancestors(path: str) -> list[str]:
    """``"a.b.c"`` → ``["", "a", "a.b", "a.b.c"]``."""
    if path == "":
        return [""]
    parts = path.split(".")
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def fold_costs(graph: Graph, costs: tuple[NodeCost, ...],
               sums: dict[str, Accumulator]) -> None:
    """Add each node's cost to its module and all ancestors."""
    chains: dict[str, list[Accumulator]] = {}
    for node, cost in zip(graph.nodes, costs):
        chain = chains.get(node.path)
        if chain is None:
            chain = [sums.setdefault(p, Accumulator()) for p in ancestors(node.path)]
            chains[node.path] = chain
        for acc in chain:
            if cost.macs is not None and cost.elementwise_flops is not None:
                acc.macs += cost.macs
                acc.elementwise_flops += cost.elementwise_flops
            else:
                acc.complete = False
            acc.activation_bytes += cost.activation_bytes


def fold_params(graph: Graph, sums: dict[str, Accumulator]) -> None:
    """Own parameters per owner; subtree totals per ancestor; shared uses per sharer."""
    for info in graph.params.values():
        own = sums.setdefault(info.owner, Accumulator())
        if info.is_buffer:
            own.buffers += info.numel
            continue
        own.params += info.numel
        if info.trainable:
            own.trainable += info.numel
        else:
            own.frozen += info.numel
        for path in ancestors(info.owner):
            sums.setdefault(path, Accumulator()).params_total += info.numel
        for other in info.shared_with:
            sums.setdefault(other.rpartition(".")[0], Accumulator()).shared += info.numel


def summarize(graph: Graph) -> Report:
    """Analyse ``graph``: per-node costs folded per module, totals and uncounted ops."""
    costs = graph_costs(graph)
    sums: dict[str, Accumulator] = {}
    fold_costs(graph, costs, sums)
    fold_params(graph, sums)
    fields = receptive_field(graph)
    rows = tuple(layer_row(module, sums.get(module.path, Accumulator()), fields)
                 for module in graph.modules)
    uncounted = tuple(UncountedOp(op, count) for op, count in uncounted_ops(graph, costs))
    return Report(totals=totals_of(graph, sums.get("", Accumulator()), len(costs)),
                  layers=rows, uncounted=uncounted, capture=graph.capture, graph=graph,
                  receptive_field=fields)


def layer_row(module: Any, acc: Accumulator, fields: ReceptiveField) -> LayerRow:
    return LayerRow(
        path=module.path, type=module.type, depth=module.depth, calls=module.calls,
        output_shape=module.output_shapes[0] if module.output_shapes else None,
        output_shapes=module.output_shapes, params=acc.params, params_total=acc.params_total,
        trainable_params=acc.trainable, frozen_params=acc.frozen, buffers=acc.buffers,
        shared_params=acc.shared, macs=acc.macs, flops=2 * acc.macs,
        elementwise_flops=acc.elementwise_flops, activation_bytes=acc.activation_bytes,
        output_bytes=module.output_bytes,
        status="exact" if acc.complete else "partial",
        rf=fields.of_tensor(module.output_ids[0]) if module.output_ids else None)


def totals_of(graph: Graph, root: Accumulator, op_count: int) -> Totals:
    params = [p for p in graph.params.values() if not p.is_buffer]
    buffers = [p for p in graph.params.values() if p.is_buffer]
    trainable_bytes = sum(p.nbytes for p in params if p.trainable)
    param_bytes = sum(p.nbytes for p in params)
    buffer_bytes = sum(p.nbytes for p in buffers)
    saved = graph.saved_bytes
    training = None if saved is None else (param_bytes + buffer_bytes + 3 * trainable_bytes
                                           + saved)
    return Totals(
        params=sum(p.numel for p in params),
        trainable_params=sum(p.numel for p in params if p.trainable),
        frozen_params=sum(p.numel for p in params if not p.trainable),
        buffers=sum(p.numel for p in buffers),
        shared_params=sum(p.numel for p in params if p.shared_with),
        macs=root.macs, flops=2 * root.macs, elementwise_flops=root.elementwise_flops,
        total_flops=2 * root.macs + root.elementwise_flops,
        param_bytes=param_bytes, buffer_bytes=buffer_bytes, gradient_bytes=trainable_bytes,
        optimizer_bytes=2 * trainable_bytes, activation_bytes=root.activation_bytes,
        saved_activation_bytes=saved, training_bytes=training, ops=op_count,
        status="exact" if root.complete else "partial")


def fold_by_operator(graph: Graph) -> dict[str, dict[str, Any]]:
    """Per source op: count, MACs and elementwise FLOPs (None when no rule gives them)."""
    result: dict[str, dict[str, Any]] = {}
    for node, cost in zip(graph.nodes, graph_costs(graph)):
        entry = result.setdefault(node.op, {"kind": node.kind, "count": 0, "macs": 0,
                                            "elementwise_flops": 0})
        entry["count"] += 1
        if cost.counted:
            if entry["macs"] is not None:
                entry["macs"] += cost.macs
                entry["elementwise_flops"] += cost.elementwise_flops
        else:
            entry["macs"] = entry["elementwise_flops"] = None
    return dict(sorted(result.items(), key=lambda item: -item[1]["count"]))
