"""The roofline of a graph on a device: per node FLOPs, bytes moved, arithmetic intensity,
whether compute or memory bounds it, and its predicted time; folded per module and in
total, with tokens/s and MFU.

Conventions:
- FLOPs = 2 × MACs + elementwise FLOPs (:mod:`netanatomy.analysis.cost`); bytes = the
  rules' ``bytes`` metric (each operand read once, each output written once; views 0).
- One peak for every node: the device's dense peak for ``dtype`` (tensor-core peak for
  bf16/fp16/…, the vector peak for fp32/fp64), and the device's peak memory bandwidth.
- time = max(FLOPs / peak, bytes / bandwidth), the classic roofline: it assumes the peak
  is reached and that compute and memory traffic overlap perfectly within a node, with no
  kernel-launch overhead, no caching between nodes and no fusion; nodes run one after
  another, so times add. It is a lower bound on the real time, not a forecast of it.
- A node no rule counts has unknown (None) FLOPs, bytes and time, never 0; a sum over
  some unknown nodes is ``partial`` (the time a lower bound of a lower bound), over only
  unknown nodes ``unknown``.

Any IR :class:`~netanatomy.ir.graph.Graph` works (forward today; a training graph with
backward and optimizer nodes the same way). Symbolic graphs (specs with free symbols) are
refused: give the symbols values first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.cost import NodeCost, graph_costs
from netanatomy.analysis.summary import ancestors
from netanatomy.errors import UsageError
from netanatomy.hardware import Device, dtype_key
from netanatomy.hardware import device as find_device
from netanatomy.ir.graph import Graph, Node
from netanatomy.symbolic import is_concrete

__all__ = ["NodeRoofline", "Roofline", "Total", "roofline"]


@dataclass(frozen=True, slots=True)
class Total:
    """A summed value with its status: ``exact`` (every node counted), ``partial`` (the sum
    of the counted ones) or ``unknown`` (none counted: ``value`` is None)."""

    value: float | None
    status: str


@dataclass(frozen=True, slots=True)
class NodeRoofline:
    """One node on the roofline; ``None`` marks what no rule gives.

    Attributes:
        flops: 2 × MACs + elementwise FLOPs.
        bytes: bytes read and written (0 for views).
        intensity: FLOP per byte (None when unknown or nothing is moved).
        bound: ``"compute"`` when intensity ≥ the ridge point, ``"memory"`` below it,
            None when unknown or the node does no work.
        time_s: max(flops / peak, bytes / bandwidth), seconds.
    """

    index: int
    path: str
    kind: str
    op: str
    flops: int | None
    bytes: int | None
    intensity: float | None
    bound: str | None
    time_s: float | None

    @property
    def counted(self) -> bool:
        return self.time_s is not None

    @property
    def attainable_flops(self) -> float | None:
        """FLOP/s the roofline allows this node: min(peak, intensity × bandwidth)."""
        if self.time_s is None or self.flops is None:
            return None
        return self.flops / self.time_s if self.time_s else None


@dataclass(frozen=True)
class Roofline:
    """The roofline of a graph on one device for one dtype (see the module doc)."""

    device: Device
    dtype: str
    peak_flops: int
    bandwidth: int
    nodes: tuple[NodeRoofline, ...]

    @property
    def ridge_point(self) -> float:
        """FLOP per byte where the compute roof meets the memory roof."""
        return self.peak_flops / self.bandwidth

    @property
    def flops(self) -> Total:
        return fold(node.flops for node in self.nodes)

    @property
    def bytes(self) -> Total:
        return fold(node.bytes for node in self.nodes)

    @property
    def time_s(self) -> Total:
        """Predicted seconds: the sum of the node times."""
        return fold(node.time_s for node in self.nodes)

    @property
    def attainable_flops(self) -> Total:
        """FLOP/s over the whole graph: total FLOPs / total predicted time."""
        flops, time = self.flops, self.time_s
        if flops.value is None or not time.value:
            return Total(None, "unknown")
        return Total(flops.value / time.value, worst(flops.status, time.status))

    def by_module(self) -> dict[str, tuple[Total, Total, Total]]:
        """Module path → (FLOPs, bytes, time) of the nodes it ran, its submodules'
        included (``""`` is the whole graph), in order of first appearance."""
        groups: dict[str, list[NodeRoofline]] = {}
        for node in self.nodes:
            for path in ancestors(node.path):
                groups.setdefault(path, []).append(node)
        return {path: (fold(n.flops for n in members), fold(n.bytes for n in members),
                       fold(n.time_s for n in members)) for path, members in groups.items()}

    def tokens_per_second(self, tokens: int) -> Total:
        """Predicted throughput: ``tokens`` (or samples) processed by one run of the graph,
        divided by its predicted time (partial: an upper bound)."""
        if not is_concrete(tokens) or tokens <= 0:
            raise UsageError(f"tokens must be a positive integer, got {tokens!r}")
        time = self.time_s
        if not time.value:
            return Total(None, "unknown")
        return Total(tokens / time.value, time.status)

    def mfu(self, measured_s: float) -> Total:
        """Model FLOPs utilisation of a measured run of the graph: FLOPs / (measured
        seconds × peak). FLOPs are this roofline's (2 × MACs + elementwise); partial when
        some nodes are uncounted (then a lower bound)."""
        if not isinstance(measured_s, (int, float)) or not measured_s > 0:
            raise UsageError(f"the measured time must be positive seconds, got {measured_s!r}")
        flops = self.flops
        if flops.value is None:
            return Total(None, "unknown")
        return Total(flops.value / (measured_s * self.peak_flops), flops.status)


def roofline(graph: Graph, device: str | Device, dtype: str | None = None) -> Roofline:
    """The roofline of every node of ``graph`` on ``device`` (a table key or a Device).

    Args:
        dtype: the peak to use, a table key (``"bf16"``, ``"tf32"``, ``"fp64_tensor"``) or a
            tensor dtype (``"bfloat16"``); default: the one floating dtype of the graph's
            parameters (or, without parameters, of its inputs).

    Raises:
        UsageError: unknown device or dtype, a dtype the device has no figure for, a graph
            of several floating dtypes without ``dtype``, or a symbolic graph.
    """
    chosen = find_device(device)
    key = dtype_key(dtype if dtype is not None else graph_dtype(graph))
    peak = chosen.peak_flops(key)
    costs = graph_costs(graph)
    nodes = tuple(node_roofline(node, cost, peak, chosen.bandwidth)
                  for node, cost in zip(graph.nodes, costs))
    return Roofline(chosen, key, peak, chosen.bandwidth, nodes)


def node_roofline(node: Node, cost: NodeCost, peak: int, bandwidth: int) -> NodeRoofline:
    """FLOPs, bytes, intensity, bound and time of one node (module doc)."""
    flops = None if cost.macs is None or cost.elementwise_flops is None else numeric(
        2 * cost.macs + cost.elementwise_flops, node, "FLOPs")
    moved = None if cost.bytes_accessed is None else numeric(cost.bytes_accessed, node, "bytes")
    if flops is None or moved is None:
        return NodeRoofline(node.index, node.path, node.kind, node.op, flops, moved, None,
                            None, None)
    intensity = flops / moved if moved else None
    time = max(flops / peak, moved / bandwidth)
    bound = None if time == 0 else ("compute" if flops / peak >= moved / bandwidth
                                    else "memory")
    return NodeRoofline(node.index, node.path, node.kind, node.op, flops, moved, intensity,
                        bound, time)


def numeric(value: Any, node: Node, what: str) -> int:
    """``value`` if it is a number; a symbolic one is refused."""
    if not is_concrete(value):
        raise UsageError(f"roofline needs numbers, but node {node.index} ({node.op} in "
                         f"{node.path or '<root>'}) has {what} {value}: give every symbol a "
                         "value (spec --set, or spec.analyze(spec, values))")
    return int(value)


def graph_dtype(graph: Graph) -> str:
    """The one floating dtype of the parameters (or inputs) of ``graph``."""
    tensors: Iterable[Any] = graph.params.values() or graph.inputs
    found = sorted({t.dtype for t in tensors if "float" in t.dtype or t.dtype in ("half",
                                                                                 "double")})
    if len(found) != 1:
        held = ", ".join(found) or "no floating tensor"
        raise UsageError(f"give dtype= (e.g. 'bf16'): the graph holds {held}")
    return found[0]


def fold(values: Iterable[float | int | None]) -> Total:
    """Sum with status: None values are skipped and make the sum partial."""
    listed = list(values)
    known = [v for v in listed if v is not None]
    if len(known) < len(listed) and not known:
        return Total(None, "unknown")
    return Total(sum(known), "partial" if len(known) < len(listed) else "exact")


def worst(*statuses: str) -> str:
    order = ("exact", "partial", "unknown")
    return max(statuses, key=order.index)
