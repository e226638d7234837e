"""What one training step costs, from its captured nodes: FLOPs by phase (forward, loss,
backward split into input and weight gradients, optimizer step) and by module, and memory
over time by category with its peak.

Conventions (stated in every output, see :data:`CONVENTIONS`):
- MAC = one multiply + one add; FLOPs = 2 × MACs + elementwise FLOPs (bias adds, norms,
  activations, optimizer updates counted per element); a phase or module with an op no rule
  counts is ``partial`` (the sum of the counted ops), with only such ops ``unknown``.
- Backward ``weight`` = the ops that compute a parameter's gradient (within its layer's
  backward); ``input`` = every other backward op (gradients of activations and inputs).
  The first layer computes no input gradient, frozen parameters no weight gradient: the
  graph holds only the ops autograd really runs.
- Memory: live bytes of distinct storages after each node (a storage counts from the node
  that allocated it to the node during which it was released, both included), by
  category; parameters, buffers and inputs are live from the start. Allocator caching,
  fragmentation and workspace memory are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.cost import NodeCost, graph_costs
from netanatomy.analysis.memory_timeline import (
    PHASES,
    MemoryPeak,
    MemoryPoint,
    memory_peak,
    memory_timeline,
)
from netanatomy.analysis.summary import ancestors
from netanatomy.ir.graph import Graph, Node

CONVENTIONS = (
    "MAC = multiply + accumulate; FLOPs = 2 × MACs + elementwise FLOPs (bias, norms, "
    "activations and optimizer updates per element)",
    "backward weight = ops computing a parameter's gradient; backward input = all other "
    "backward ops; only ops autograd runs are counted (no input gradient for the first "
    "layer, none for frozen weights)",
    "memory = live bytes of distinct storages after each node, by category; allocator "
    "caching and workspaces not modelled",
)


@dataclass(frozen=True, slots=True)
class Cost:
    """MACs and elementwise FLOPs of a set of nodes; None when none is counted;
    ``status`` exact / partial / unknown; ``uncounted``: op name → calls."""

    macs: int | None
    elementwise_flops: int | None
    status: str
    uncounted: Mapping[str, int]

    @property
    def flops(self) -> int | None:
        """2 × MACs + elementwise FLOPs."""
        if self.macs is None or self.elementwise_flops is None:
            return None
        return 2 * self.macs + self.elementwise_flops


@dataclass(frozen=True, slots=True)
class ModuleCosts:
    """One module's step (its submodules included): forward, backward input and weight
    gradients, optimizer updates of its parameters."""

    path: str
    type: str
    forward: Cost
    backward_input: Cost
    backward_weight: Cost
    optimizer: Cost


@dataclass(frozen=True, slots=True)
class StepTime:
    """The step on a device's roofline: predicted seconds per phase and in all (a lower
    bound: peak FLOP/s reached, compute and memory overlapped, no launch overhead),
    tokens/s, and two utilisations of the predicted time: ``hfu`` (counted FLOPs / (time ×
    peak)) and ``mfu`` (model FLOPs of ``model_flops`` / (time × peak))."""

    device: str
    dtype: str
    peak_flops: int
    bandwidth: int
    seconds: float | None
    status: str
    by_phase: Mapping[str, float | None]
    tokens_per_second: float | None
    hfu: float | None
    mfu: float | None
    modules: Any = None      # ModuleRooflines: per module and phase (analysis.roofline_modules)


@dataclass(frozen=True)
class TrainingReport:
    """One training step of a model (see the module doc for the conventions)."""

    optimizer: str
    tokens: int
    params: int
    precision: str
    trainable_params: int
    phases: Mapping[str, Cost]
    backward_input: Cost
    backward_weight: Cost
    total: Cost
    modules: tuple[ModuleCosts, ...]
    timeline: tuple[MemoryPoint, ...]
    peak: MemoryPeak
    end: MemoryPoint
    bytes_per_param: Mapping[str, float | None]
    conventions: tuple[str, ...]
    notes: tuple[str, ...]
    graph: Graph
    model_flops: Any = None          # ModelFlops of the forward (None: no token lookup)
    time: StepTime | None = None
    sharding: Any = None             # ShardedMemory per device at the peak (None: not asked)
    shard_unit: str = ""             # the block FSDP / ZeRO-3 gathers
    checkpointing: Any = None        # CheckpointPlan (None: not asked)
    tensor_parallel: Any = None      # TensorParallel per device (None: --tp 1)
    communication: Any = None        # Communication per device (None: one device)

    @property
    def flops_per_token(self) -> float | None:
        flops = self.total.flops
        return None if flops is None or not self.tokens else flops / self.tokens


def fold(nodes: Iterable[Node], costs: Sequence[NodeCost]) -> Cost:
    """The summed cost of ``nodes`` (see :class:`Cost`)."""
    total = Accumulator()
    for node in nodes:
        total.add(node, costs[node.index])
    return total.cost()


def optimizer_path(node: Node, graph: Graph) -> str:
    """The module of the parameters an optimizer node updates: their owner, or the
    innermost module holding all of them when they belong to several (a foreach or fused
    step over a list of parameters: its cost is not split between the modules); the node's
    own path when it reads none."""
    owners = {graph.params[t.param].owner for t in node.inputs
              if t.param is not None and t.param in graph.params}
    if not owners:
        return node.path
    if len(owners) == 1:
        return owners.pop()
    shared: list[str] = []
    for parts in zip(*(owner.split(".") if owner else [] for owner in owners)):
        if len(set(parts)) > 1:
            break
        shared.append(parts[0])
    return ".".join(shared)


COMPUTE_PEAK = {"bf16": "bf16", "bf16-mixed": "bf16", "fp16": "fp16", "fp16-mixed": "fp16"}
"""The device peak a precision policy computes at when no peak dtype is given (the matmuls
run in the half-precision model's dtype; fp32 master-weight updates are a small share);
``fp32``: the parameters' own dtype."""


def training_report(capture: Any, device: Any = None, dtype: str | None = None,
                    convention: Any = "palm", shard: str = "none", dp: int = 1,
                    checkpoint: str = "none", memory_budget: int | None = None,
                    tp: int = 1, sequence_parallel: bool = False) -> TrainingReport:
    """The :class:`TrainingReport` of a
    :class:`~netanatomy.frontends.torch.training.TrainingCapture`; with ``device`` (a
    hardware-table key or Device) also the step's roofline time, tokens/s and
    utilisations; ``convention``: the model-FLOPs convention shown beside the counts
    (:mod:`netanatomy.analysis.model_flops`); ``shard`` and ``dp``: memory per device of
    the peak under that data-parallel sharding (:mod:`netanatomy.analysis.sharding`);
    ``checkpoint`` (``blocks`` / ``auto`` with ``memory_budget`` bytes): the activation
    checkpointing what-if (:mod:`netanatomy.analysis.checkpointing`); ``tp`` (and
    ``sequence_parallel``): Megatron tensor parallelism over ``tp`` devices, composed with
    the data-parallel sharding (devices = dp × tp;
    :mod:`netanatomy.analysis.tensor_parallel`); with either, the bytes one device sends
    per step and their time on the ``device``'s link
    (:mod:`netanatomy.analysis.communication`)."""
    graph: Graph = capture.graph
    phases: Sequence[str] = capture.phases
    roles: Sequence[str | None] = capture.grad_roles
    if dtype is None:
        dtype = COMPUTE_PEAK.get(capture.precision)
    costs = graph_costs(graph)
    nodes = graph.nodes
    by_phase = {phase: fold((n for n in nodes if phases[n.index] == phase), costs)
                for phase in PHASES}
    backward_input = fold((n for n in nodes if roles[n.index] == "input"), costs)
    backward_weight = fold((n for n in nodes if roles[n.index] == "weight"), costs)
    paths = [optimizer_path(n, graph) if phases[n.index] == "optimizer" else n.path
             for n in nodes]
    modules = module_costs(graph, phases, roles, paths, costs)
    timeline = memory_timeline(capture.allocations, nodes, phases)
    peak = memory_peak(capture.allocations, timeline)
    params = [p for p in graph.params.values() if not p.is_buffer]
    count = sum(int(p.numel) for p in params)
    trainable = sum(int(p.numel) for p in params if p.trainable)
    end = timeline[-1]
    per = {"parameters": ratio(end.by_category["parameters"], count),
           "master_weights": ratio(end.by_category["master_weights"], trainable),
           "gradients": ratio(end.by_category["gradients"], trainable),
           "optimizer_state": ratio(end.by_category["optimizer_state"], trainable)}
    known = [v for v in per.values() if v is not None]
    per["total"] = sum(known) if known else None
    model = forward_model_flops(graph, phases, capture.tokens, convention)
    total = fold(nodes, costs)
    time = None if device is None else step_time(graph, phases, device, dtype, total,
                                                 model, capture.tokens, paths)
    from netanatomy.analysis.sharding import largest_block, sharded_memory

    unit_path, whole_unit = largest_block(graph)
    unit_bytes: float = whole_unit
    categories: Mapping[str, float] = peak.point.by_category
    parallel = None
    if tp != 1 or sequence_parallel:
        from netanatomy.analysis.tensor_parallel import tensor_parallel

        parallel = tensor_parallel(graph, phases, capture.allocations, costs, tp,
                                   sequence_parallel, device, dtype)
        categories, unit_bytes = parallel.by_category, parallel.unit_bytes
    sharding = (None if shard == "none" and dp == 1 else
                sharded_memory(categories, shard, dp, unit_bytes))
    communication = None
    if sharding is not None or parallel is not None:
        from netanatomy.analysis.communication import step_communication, step_parameter_bytes

        held, trained = step_parameter_bytes(graph, peak.point.by_category["parameters"],
                                             parallel.plan if parallel is not None else ())
        compute = (parallel.seconds if parallel is not None else
                   time.seconds if time is not None else None)
        communication = step_communication(
            shard, dp, held, trained, parallel.collectives if parallel is not None else (),
            tp, device, compute)
    plan = None
    if checkpoint != "none":
        from netanatomy.analysis.checkpointing import block_candidates, plan_checkpoints

        # sharding lowers the steady state on every device alike: a budget per device is
        # met by the unsharded step when it is that much larger
        per_device = (sharding.total if sharding is not None else
                      parallel.total if parallel is not None else peak.point.total)
        offset = peak.point.total - int(per_device)
        plan = plan_checkpoints(block_candidates(graph, phases, capture.allocations, costs),
                                timeline, checkpoint,
                                None if memory_budget is None else memory_budget + offset,
                                offset)
    return TrainingReport(
        model_flops=model, time=time, sharding=sharding, shard_unit=unit_path,
        checkpointing=plan, tensor_parallel=parallel, communication=communication,
        optimizer=capture.optimizer, tokens=capture.tokens, params=count,
        precision=capture.precision,
        trainable_params=trainable, phases=by_phase, backward_input=backward_input,
        backward_weight=backward_weight, total=total, modules=modules,
        timeline=timeline, peak=peak, end=end, bytes_per_param=per,
        conventions=(*CONVENTIONS, *capture.notes), notes=graph.capture.notes, graph=graph)


def forward_model_flops(graph: Graph, phases: Sequence[str], tokens: int,
                        convention: Any) -> Any:
    """The model FLOPs (per token and per step) of the step's forward, or None when the
    forward has no token lookup (not a language model: the convention does not apply)."""
    from dataclasses import replace

    from netanatomy.analysis.model_flops import model_flops
    from netanatomy.errors import UsageError

    forward = replace(graph, nodes=tuple(n for n in graph.nodes
                                         if phases[n.index] == "forward"))
    try:
        return model_flops(forward, tokens, convention)
    except UsageError:
        return None


def step_time(graph: Graph, phases: Sequence[str], device: Any, dtype: str | None,
              total: Cost, model: Any, tokens: int,
              paths: Sequence[str] | None = None) -> StepTime:
    """The step on ``device``'s roofline (see :class:`StepTime`); ``paths``: the module of
    every node for the per-module rows (default: the node's own)."""
    from netanatomy.analysis.roofline import fold as fold_times
    from netanatomy.analysis.roofline import roofline
    from netanatomy.analysis.roofline_modules import module_rooflines

    line = roofline(graph, device, dtype)
    by_phase = {phase: fold_times(n.time_s for n in line.nodes
                                  if phases[n.index] == phase).value for phase in PHASES}
    seconds = line.time_s
    busy = seconds.value
    capacity = busy * line.peak_flops if busy else None
    hfu = None if capacity is None or total.flops is None else total.flops / capacity
    mfu = None if capacity is None or model is None else float(model.per_step) / capacity
    return StepTime(line.device.key, line.dtype, line.peak_flops, line.bandwidth, busy,
                    seconds.status, by_phase, tokens / busy if busy else None, hfu, mfu,
                    module_rooflines(line, graph, phases, paths, "step"))


def ratio(value: int, count: int) -> float | None:
    return value / count if count else None


class Accumulator:
    """A running :class:`Cost`: MACs, elementwise FLOPs, counted nodes, uncounted ops."""

    __slots__ = ("macs", "elementwise", "counted", "uncounted")

    def __init__(self) -> None:
        self.macs = self.elementwise = self.counted = 0
        self.uncounted: dict[str, int] = {}

    def add(self, node: Node, cost: NodeCost) -> None:
        """Count ``node``, or name its op as uncounted."""
        if cost.macs is not None and cost.elementwise_flops is not None:
            self.macs += int(cost.macs)
            self.elementwise += int(cost.elementwise_flops)
            self.counted += 1
        else:
            self.uncounted[node.op] = self.uncounted.get(node.op, 0) + 1

    def cost(self) -> Cost:
        if self.uncounted and not self.counted:
            return Cost(None, None, "unknown", dict(self.uncounted))
        return Cost(self.macs, self.elementwise, "partial" if self.uncounted else "exact",
                    dict(self.uncounted))


def module_costs(graph: Graph, phases: Sequence[str], roles: Sequence[str | None],
                 paths: Sequence[str], costs: Sequence[NodeCost]) -> tuple[ModuleCosts, ...]:
    """Per module (definition order), the nodes it or its submodules ran, by part."""
    sums: dict[tuple[str, str], Accumulator] = {}
    targets: dict[tuple[str, str], list[Accumulator]] = {}   # (path, part) → its owners'
    for node in graph.nodes:
        index = node.index
        phase = phases[index]
        part = (roles[index] or "input") if phase == "backward" else phase
        totals = targets.get((paths[index], part))
        if totals is None:
            totals = targets[(paths[index], part)] = []
            for owner in ancestors(paths[index]):
                total = sums.get((owner, part))
                if total is None:
                    total = sums[(owner, part)] = Accumulator()
                totals.append(total)
        cost = costs[index]
        macs, elementwise = cost.macs, cost.elementwise_flops
        if macs is not None and elementwise is not None:     # Accumulator.add, inlined
            macs, elementwise = int(macs), int(elementwise)
            for total in totals:
                total.macs += macs
                total.elementwise += elementwise
                total.counted += 1
        else:
            for total in totals:
                total.uncounted[node.op] = total.uncounted.get(node.op, 0) + 1
    empty = Accumulator().cost()
    rows = []
    seen = {owner for owner, _ in sums}
    for info in graph.modules:
        if info.path not in seen:
            continue
        part_cost = {part: (sums[(info.path, part)].cost() if (info.path, part) in sums
                            else empty) for part in ("forward", "input", "weight", "optimizer")}
        rows.append(ModuleCosts(info.path, info.type, part_cost["forward"], part_cost["input"],
                                part_cost["weight"], part_cost["optimizer"]))
    return tuple(rows)
