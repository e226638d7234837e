"""Fold node costs and the parameter table into a per-module
:class:`~netanatomy.analysis.report.Summary`.

Each node's cost is added to its module and every ancestor, so a layer's numbers cover its
subtree and the root's equal the totals. Unknown stays unknown when summed: a layer whose
ops are all uncounted has no MAC or FLOP count (None, status "unknown"), one with some
uncounted ops keeps the sum of the others (status "partial"), and one without ops is 0.
Time is linear in the number of nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from netanatomy.analysis.active_params import active_params
from netanatomy.analysis.cost import NodeCost, graph_costs, uncounted_ops
from netanatomy.analysis.operators import fold_by_operator
from netanatomy.analysis.receptive_field import ReceptiveField, receptive_field
from netanatomy.analysis.report import LayerRow, Summary, Totals, UncountedOp
from netanatomy.ir.graph import Graph
from netanatomy.symbolic import Dim, is_concrete, total

__all__ = ["Accumulator", "ancestors", "fold_by_operator", "fold_costs", "fold_params",
           "layer_row", "summarize", "totals_of"]


@dataclass
class Accumulator:
    """Running sums for one module path; ``ops`` nodes seen, ``counted`` of them with MACs
    and elementwise FLOPs known, ``bytes_known`` with known bytes, ``uncounted`` the op
    names of the others."""

    macs: Dim = 0
    elementwise_flops: Dim = 0
    activation_bytes: Dim = 0
    bytes_accessed: Dim = 0
    params: Dim = 0
    trainable: Dim = 0
    frozen: Dim = 0
    buffers: Dim = 0
    shared: Dim = 0
    params_total: Dim = 0
    ops: int = 0
    counted: int = 0
    bytes_known: int = 0
    uncounted: Counter[str] = field(default_factory=Counter)
    pending: dict[str, list[Dim]] = field(default_factory=dict)

    def add(self, name: str, value: Dim) -> None:
        """Add ``value`` to the sum ``name``: ints at once, symbolic terms at :meth:`finish`
        (one sympy Add for all of them, not one per node)."""
        if is_concrete(value):
            setattr(self, name, getattr(self, name) + value)
        else:
            self.pending.setdefault(name, []).append(value)

    def finish(self) -> Accumulator:
        """Fold the pending symbolic terms into their sums."""
        for name, terms in self.pending.items():
            setattr(self, name, total([getattr(self, name), *terms]))
        self.pending.clear()
        return self

    @property
    def status(self) -> str:
        """"exact" (every op counted, or no op), "partial" or "unknown" (none counted)."""
        if self.counted == self.ops:
            return "exact"
        return "unknown" if self.counted == 0 else "partial"

    def known(self, value: Dim, known: int) -> Dim | None:
        """``value`` unless the subtree has ops and none of them gave the metric."""
        return None if self.ops and not known else value

    def uncounted_ops(self) -> tuple[UncountedOp, ...]:
        """The uncounted op names, most frequent first (then by name)."""
        return tuple(UncountedOp(op, count) for op, count in
                     sorted(self.uncounted.items(), key=lambda item: (-item[1], item[0])))


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
        counted = cost.macs is not None and cost.elementwise_flops is not None
        concrete = all(is_concrete(v) for v in (cost.macs, cost.elementwise_flops,
                                                cost.bytes_accessed, cost.activation_bytes)
                       if v is not None)
        for acc in chain:
            acc.ops += 1
            if counted:
                acc.counted += 1
            else:
                acc.uncounted[node.op] += 1
            if cost.bytes_accessed is not None:
                acc.bytes_known += 1
            if concrete:  # the torch path: plain ints, added at once
                if counted:
                    acc.macs += cost.macs or 0              # not None: counted
                    acc.elementwise_flops += cost.elementwise_flops or 0
                if cost.bytes_accessed is not None:
                    acc.bytes_accessed += cost.bytes_accessed
                acc.activation_bytes += cost.activation_bytes
                continue
            if counted:
                acc.add("macs", cost.macs)
                acc.add("elementwise_flops", cost.elementwise_flops)
            if cost.bytes_accessed is not None:
                acc.add("bytes_accessed", cost.bytes_accessed)
            acc.add("activation_bytes", cost.activation_bytes)


def fold_params(graph: Graph, sums: dict[str, Accumulator]) -> None:
    """Own parameters per owner; subtree totals per ancestor; shared uses per sharer."""
    for info in graph.params.values():
        own = sums.setdefault(info.owner, Accumulator())
        numel = info.numel
        if info.is_buffer:
            own.add("buffers", numel)
            continue
        own.add("params", numel)
        own.add("trainable" if info.trainable else "frozen", numel)
        for path in ancestors(info.owner):
            sums.setdefault(path, Accumulator()).add("params_total", numel)
        for other in info.shared_with:
            sums.setdefault(other.rpartition(".")[0], Accumulator()).add("shared", numel)


def summarize(graph: Graph) -> Summary:
    """Analyse ``graph``: per-node costs folded per module, totals and uncounted ops."""
    costs = graph_costs(graph)
    sums: dict[str, Accumulator] = {}
    fold_costs(graph, costs, sums)
    fold_params(graph, sums)
    for acc in sums.values():
        acc.finish()
    fields = receptive_field(graph)
    rows = tuple(layer_row(module, sums.get(module.path, Accumulator()), fields)
                 for module in graph.modules)
    uncounted = tuple(UncountedOp(op, count) for op, count in uncounted_ops(graph, costs))
    return Summary(totals=totals_of(graph, sums.get("", Accumulator()), len(costs)),
                   layers=rows, uncounted=uncounted, capture=graph.capture, graph=graph,
                   receptive_field=fields)


def doubled(value: Dim | None) -> Dim | None:
    return None if value is None else 2 * value


def layer_row(module: Any, acc: Accumulator, fields: ReceptiveField) -> LayerRow:
    macs = acc.known(acc.macs, acc.counted)
    return LayerRow(
        path=module.path, type=module.type, depth=module.depth, calls=module.calls,
        output_shape=module.output_shapes[0] if module.output_shapes else None,
        output_shapes=module.output_shapes, params=acc.params, params_total=acc.params_total,
        trainable_params=acc.trainable, frozen_params=acc.frozen, buffers=acc.buffers,
        shared_params=acc.shared, macs=macs, flops=doubled(macs),
        elementwise_flops=acc.known(acc.elementwise_flops, acc.counted),
        activation_bytes=acc.activation_bytes, output_bytes=module.output_bytes,
        status=acc.status,
        rf=fields.of_tensor(module.output_ids[0]) if module.output_ids else None,
        uncounted=acc.uncounted_ops(),
        bytes_accessed=acc.known(acc.bytes_accessed, acc.bytes_known),
        call_shapes=module.call_shapes)


def totals_of(graph: Graph, root: Accumulator, op_count: int) -> Totals:
    params = [p for p in graph.params.values() if not p.is_buffer]
    buffers = [p for p in graph.params.values() if p.is_buffer]
    trainable_bytes = total(p.nbytes for p in params if p.trainable)
    param_bytes = total(p.nbytes for p in params)
    buffer_bytes = total(p.nbytes for p in buffers)
    saved = graph.saved_bytes
    training = None if saved is None else (param_bytes + buffer_bytes + 3 * trainable_bytes
                                           + saved)
    macs = root.known(root.macs, root.counted)
    elementwise = root.known(root.elementwise_flops, root.counted)
    return Totals(
        params=total(p.numel for p in params),
        trainable_params=total(p.numel for p in params if p.trainable),
        frozen_params=total(p.numel for p in params if not p.trainable),
        buffers=total(p.numel for p in buffers),
        shared_params=total(p.numel for p in params if p.shared_with),
        macs=macs, flops=doubled(macs), elementwise_flops=elementwise,
        total_flops=None if macs is None or elementwise is None else 2 * macs + elementwise,
        param_bytes=param_bytes, buffer_bytes=buffer_bytes, gradient_bytes=trainable_bytes,
        optimizer_bytes=2 * trainable_bytes, activation_bytes=root.activation_bytes,
        saved_activation_bytes=saved, training_bytes=training, ops=op_count,
        status=root.status, active_params=active_params(graph),
        bytes_accessed=root.known(root.bytes_accessed, root.bytes_known))
