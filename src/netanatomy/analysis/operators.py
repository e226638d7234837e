"""The by-operator view (fvcore's ``by_operator``): costs folded per source op name."""

from __future__ import annotations

from typing import Any

from netanatomy.analysis.cost import graph_costs
from netanatomy.ir.graph import Graph


def fold_by_operator(graph: Graph) -> dict[str, dict[str, Any]]:
    """Per source op: count, MACs and elementwise FLOPs (None when no rule gives them),
    most frequent first."""
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
