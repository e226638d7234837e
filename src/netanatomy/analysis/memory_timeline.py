"""Memory over time of a captured step: live bytes by category before the step and after
every node, and the peak with the module holding the most then.

A storage counts from the node that allocated it to the node during which it was released,
both included; parameters, buffers and inputs are live from the start (``allocated_at``
``-1``). Allocator caching, fragmentation and workspace memory are not modelled. Used by the
training report (:mod:`netanatomy.analysis.training`) and by tensor parallelism
(:mod:`netanatomy.analysis.tensor_parallel`), which re-times the per-device bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.ir.graph import Node

PHASES = ("forward", "loss", "backward", "optimizer")
CATEGORIES = ("parameters", "master_weights", "buffers", "inputs", "gradients",
              "optimizer_state", "activations_saved", "temporaries")
PEAK_MODULE_DEPTH = 3
"""Live bytes at the peak are grouped by module path cut to this many levels."""

@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """Live bytes after node ``node`` (``-1``: before the step), by category."""

    node: int
    phase: str
    path: str
    op: str
    total: int
    by_category: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class MemoryPeak:
    """The most bytes live at once: where (node, phase, module running), by category, and
    the module whose allocations hold the most then (cut to
    :data:`PEAK_MODULE_DEPTH` levels; inputs left out)."""

    point: MemoryPoint
    top_module: str
    top_module_bytes: int


def memory_timeline(allocations: Sequence[Any], nodes: Sequence[Node],
                    phases: Sequence[str]) -> tuple[MemoryPoint, ...]:
    """Live bytes by category before the step and after every node."""
    size = len(nodes)
    changes: dict[int, list[tuple[str, int]]] = {}   # slot → (category, bytes) changes
    for allocation in allocations:
        start = allocation.allocated_at + 1                    # slot 0: before the step
        stop = size + 1 if allocation.freed_at is None else allocation.freed_at + 2
        changes.setdefault(start, []).append((allocation.category, allocation.bytes))
        changes.setdefault(stop, []).append((allocation.category, -allocation.bytes))
    running = dict.fromkeys(CATEGORIES, 0)
    total = 0
    points = []
    for slot in range(size + 1):
        for category, delta in changes.get(slot, ()):
            running[category] += delta
            total += delta
        if slot:
            node = nodes[slot - 1]
            points.append(MemoryPoint(slot - 1, phases[slot - 1], node.path, node.op, total,
                                      dict(running)))
        else:
            points.append(MemoryPoint(-1, "before", "", "", total, dict(running)))
    return tuple(points)


def memory_peak(allocations: Sequence[Any], timeline: Sequence[MemoryPoint]) -> MemoryPeak:
    """The first point with the most live bytes, and who holds the most then."""
    point = max(timeline, key=lambda p: p.total)
    held: dict[str, int] = {}
    for allocation in allocations:
        live = allocation.allocated_at <= point.node and (
            allocation.freed_at is None or allocation.freed_at >= point.node)
        if live and allocation.category != "inputs":
            owner = ".".join(allocation.path.split(".")[:PEAK_MODULE_DEPTH])
            held[owner] = held.get(owner, 0) + allocation.bytes
    top = max(held.items(), key=lambda item: item[1]) if held else ("", 0)
    return MemoryPeak(point, top[0], top[1])
