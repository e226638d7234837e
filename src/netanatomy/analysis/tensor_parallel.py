"""Megatron-LM tensor parallelism of a captured training step over a degree ``t``: which
weights are split and how, found from the step's forward dataflow (not from config names),
and what one device then holds, computes and sends. netanatomy models the engine; it
launches none.

What is found (Shoeybi et al. 2019, "Megatron-LM", §3):
- a **weight matmul** is a forward ``matmul``/``linear`` node one of whose operands is a
  2-D parameter (through views: ``nn.Linear``'s ``t(W)``, GPT-2's ``Conv1D`` used as is);
- a **TP region**: the weight matmuls (``column``-parallel, their output features split)
  whose outputs reach, through pointwise ops, softmax, dropout, attention, matmuls of two
  activations, copies, concatenations and views only, other weight matmuls (``row``-
  parallel, their input features split) — attention q/k/v (or a fused qkv) → o, MLP
  up/gate → down. Any other op on the way (a norm, a reduction, the loss, an elementwise op
  that combines the split tensor with a whole one of its size: the residual add) means the
  weight is not column-parallel;
- a **vocab-parallel embedding**: an embedding looked up by the model's input ids; the
  **vocab-parallel LM head**: a weight matmul outside the regions whose output goes only to
  the loss with as many outputs as that embedding has rows (Megatron's parallel
  cross-entropy keeps the logits split);
- everything else — norms, biases of row-parallel linears, position embeddings, routers —
  is replicated. A column's bias is split with it.
Heads are read from the first view that splits a column's output features into
(heads, head_dim); ``t`` must divide the attention heads, the intermediate size, the
vocabulary and every split axis. A column with fewer heads (GQA's KV heads) than ``t``
is replicated when ``t`` is a multiple of them: each device holds one KV head (Megatron,
vLLM), 1/h of the weight.

Per device (``share`` = the fraction of a tensor one device holds):
- parameters, master weights, gradients and optimizer state: each allocation scaled by its
  module's parameter share (elements held per device / elements, the module's own and tied
  parameters; the whole model's trainable share where a module holds none);
- activations and temporaries made by forward ops inside a region: the share of the
  columns that reach the op (1/t; 1/h for ops reached only from replicated KV heads); the
  rest whole, or 1/t with sequence parallelism (Korthikanti et al. 2022, §4.2.2: norms,
  dropouts and the saved linear inputs run on s/t of the sequence); backward allocations
  by their module's FLOP-weighted forward share; inputs and buffers whole. The timeline is
  recomputed with these bytes and its peak taken;
- FLOPs: forward ops by the same shares, backward ops by their module's FLOP-weighted
  forward share, optimizer updates by the share of the parameters they read.
Communication per step (ring collectives; bytes sent by one device):
- per region, without sequence parallelism: forward one all-reduce of the row outputs,
  backward one all-reduce of the columns' input gradient, each 2(t−1)/t × message bytes;
  with it: forward all-gather + reduce-scatter, backward reduce-scatter + all-gather +
  the all-gather that rebuilds the saved sequence-parallel input, each (t−1)/t × message;
- the vocab-parallel embedding: a forward all-reduce (SP: reduce-scatter) of its output;
  the LM head: a backward all-reduce of its input gradient (SP: all-gather forward,
  reduce-scatter backward). The parallel cross-entropy's per-token scalars are not counted.
No pipeline or expert parallelism; communication time is not added to the step time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from netanatomy.analysis.cost import NodeCost
from netanatomy.analysis.memory_timeline import PHASES, memory_peak, memory_timeline
from netanatomy.errors import UsageError
from netanatomy.ir.graph import Graph, Node, TensorInfo

WEIGHT_KINDS = ("matmul", "linear")
PASSING = frozenset(("view", "reshape", "copy", "concat", "elementwise", "activation",
                     "dropout", "softmax", "attention", "matmul", "create", "pad"))
"""Op kinds a split activation passes through inside a region."""
TRANSPOSING = ("aten.t.default", "aten.transpose.int", "aten.permute.default",
               "aten.numpy_T.default")
STEADY = ("parameters", "master_weights", "gradients", "optimizer_state")

CONVENTIONS = (
    "tensor parallel (Megatron-LM): column-parallel weights split on their output "
    "features, row-parallel on their input features, vocab-parallel embedding and LM head "
    "on the vocabulary; norms, row biases and everything outside the regions replicated",
    "per device: steady state by each module's parameter share; activations made inside a "
    "region divided by t (whole outside, divided by t with sequence parallelism); "
    "backward by each module's forward share; the timeline recomputed, its peak taken",
    "communication: ring collectives, bytes sent per device: all-reduce 2(t−1)/t × "
    "message, all-gather and reduce-scatter (t−1)/t × message; not added to the time",
)


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """How one parameter is held: ``role`` (column, row, vocab, replicated), the split
    ``axis`` (None: whole), the ``share`` a device holds, the region it belongs to and
    the heads found for it (None: not an attention projection)."""

    module: str
    param: str
    shape: tuple[int, ...]
    role: str
    axis: int | None
    share: Fraction
    region: int | None = None
    heads: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Region:
    """One TP region: its column- and row-parallel modules, the attention heads and KV
    heads found (None: an MLP), and the bytes of its row outputs (forward message) and
    of its columns' distinct inputs (backward message)."""

    index: int
    columns: tuple[str, ...]
    rows: tuple[str, ...]
    heads: int | None
    kv_heads: int | None
    forward_bytes: int
    backward_bytes: int


@dataclass(frozen=True, slots=True)
class Collective:
    """One collective of the step: phase, kind, what it serves, message and sent bytes
    per device."""

    phase: str
    kind: str
    where: str
    message_bytes: int
    sent_bytes: float


@dataclass(frozen=True)
class TensorParallel:
    """Tensor parallelism over ``degree`` devices (see the module doc)."""

    degree: int
    sequence_parallel: bool
    plan: tuple[PlanEntry, ...]
    regions: tuple[Region, ...]
    peak: Any                              # MemoryPeak of the per-device timeline
    by_category: Mapping[str, int]
    total: int
    unit_bytes: float                      # the FSDP unit's params + grads per device
    flops: Mapping[str, float | None]      # per phase, per device
    total_flops: float | None
    seconds: float | None                  # roofline time per device (None: no device)
    collectives: tuple[Collective, ...]
    sent_bytes: float
    saved_activations: int = 0             # bytes autograd keeps for backward, per device
    conventions: tuple[str, ...] = CONVENTIONS

    @property
    def sharded(self) -> tuple[PlanEntry, ...]:
        return tuple(entry for entry in self.plan if entry.role != "replicated")


def check_degree(tp: Any, sequence_parallel: bool = False) -> int:
    """Raises: UsageError unless ``tp`` is a whole number ≥ 1 (and ≥ 2 with sequence
    parallelism)."""
    if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
        raise UsageError(f"--tp must be a whole number of devices ≥ 1, got {tp!r}")
    if sequence_parallel and tp < 2:
        raise UsageError("--sequence-parallel splits the sequence over the tensor-parallel "
                         "group: give --tp 2 or more with it")
    return tp


class Dataflow:
    """The forward part of a step as dataflow: who reads each tensor, which tensors are
    views of parameters (and transposed) or of the model's inputs, and view bases."""

    def __init__(self, graph: Graph, phases: Sequence[str]) -> None:
        self.graph, self.phases = graph, phases
        self.forward = [n for n in graph.nodes if phases[n.index] == "forward"]
        self.readers: dict[int, list[Node]] = {}
        self.origin: dict[int, tuple[str, bool]] = {}
        self.base: dict[int, int] = {}
        self.from_input = {t.id for t in graph.inputs}
        params = graph.params
        for node in graph.nodes:
            for tensor in node.inputs:
                self.readers.setdefault(tensor.id, []).append(node)
            if node.kind != "view" or not node.inputs or phases[node.index] != "forward":
                continue
            source = node.inputs[0]
            flips = node.op in TRANSPOSING
            found = (self.origin.get(source.id) if source.param is None else
                     (source.param, False) if source.param in params
                     and not params[source.param].is_buffer else None)
            for out in node.outputs:
                self.base[out.id] = self.base.get(source.id, source.id)
                if found is not None:
                    self.origin[out.id] = (found[0], found[1] != flips)
                if source.id in self.from_input:
                    self.from_input.add(out.id)

    def param_of(self, tensor: TensorInfo) -> tuple[str, bool] | None:
        """(parameter, transposed) when ``tensor`` is a parameter or a view of one."""
        if tensor.param is not None:
            info = self.graph.params.get(tensor.param)
            return None if info is None or info.is_buffer else (tensor.param, False)
        return self.origin.get(tensor.id)

    def weight(self, node: Node) -> tuple[str, bool, TensorInfo] | None:
        """(parameter, transposed, activation operand) of a weight matmul, else None."""
        if node.kind not in WEIGHT_KINDS:
            return None
        weights, acts = [], []
        for tensor in node.inputs:
            found = self.param_of(tensor)
            if found is None:
                acts.append(tensor)
            elif len(tensor.shape) == 2:
                weights.append(found)
        if len(weights) != 1 or not acts:
            return None
        name, transposed = weights[0]
        return name, transposed or node.kind == "linear", acts[0]


@dataclass
class Reach:
    """Where a column candidate's output goes: the weight matmuls it ends in, the nodes and
    tensors on the way, operands met from elsewhere, and why it is no column (or "")."""

    ends: set[int]
    nodes: set[int]
    tensors: set[int]
    met: list[tuple[TensorInfo, TensorInfo]]
    failure: str = ""
    to_loss_only: bool = False


def reach(flow: Dataflow, start: Node, weights: Mapping[int, Any]) -> Reach:
    """Follow ``start``'s outputs forward through :data:`PASSING` ops (module doc)."""
    found = Reach(set(), {start.index}, set(), [])
    stack = list(start.outputs)
    passing_only = True
    while stack:
        tensor = stack.pop()
        if tensor.id in found.tensors:
            continue
        found.tensors.add(tensor.id)
        for node in flow.readers.get(tensor.id, ()):
            phase = flow.phases[node.index]
            if phase in ("backward", "optimizer"):     # saved for backward: not dataflow
                continue
            if phase != "forward":
                found.failure = found.failure or f"its output reaches the {phase}"
                continue
            weight = weights.get(node.index)
            if weight is not None and weight[2].id == tensor.id and node.index != start.index:
                found.ends.add(node.index)
                passing_only = False
                continue
            if node.kind not in PASSING:
                found.failure = found.failure or (
                    f"its output reaches {node.kind} {node.op} in {node.path or '<root>'}")
                passing_only = False
                continue
            if node.kind not in ("view", "reshape", "copy", "elementwise"):
                passing_only = False
            found.nodes.add(node.index)
            found.met += [(other, node.outputs[0]) for other in node.inputs
                          if other.id != tensor.id and node.outputs]
            stack.extend(node.outputs)
    found.to_loss_only = passing_only and not found.ends and found.failure.startswith(
        "its output reaches the loss")
    return found


def heads_of(flow: Dataflow, node: Node) -> int | None:
    """Heads of a column: the first view of its output (through views only) that splits
    the last axis into (heads, head_dim)."""
    stack, seen = list(node.outputs), set()
    while stack:
        tensor = stack.pop(0)
        if tensor.id in seen:
            continue
        seen.add(tensor.id)
        for reader in flow.readers.get(tensor.id, ()):
            if reader.kind not in ("view", "reshape") or flow.phases[reader.index] != "forward":
                continue
            for out in reader.outputs:
                shape, before = out.shape, tensor.shape
                if (len(shape) == len(before) + 1 and len(shape) >= 3
                        and shape[-2] * shape[-1] == before[-1] and shape[:-2] == before[:-1]
                        and int(shape[-2]) > 1):
                    return int(shape[-2])
            stack.extend(reader.outputs)
    return None


def whole(other: TensorInfo, out: TensorInfo) -> bool:
    """An operand of the split tensor's size from outside (not a broadcast, not empty)."""
    return int(other.numel) > 0 and int(other.numel) >= int(out.numel)


def find_regions(flow: Dataflow, weights: Mapping[int, Any]
                 ) -> tuple[list[tuple[list[int], set[int], Reach]], dict[int, Reach]]:
    """Regions in execution order: (column nodes, row nodes, their merged reach)."""
    reaches = {index: reach(flow, flow.graph.nodes[index], weights) for index in weights}
    rows: set[int] = set()
    used: set[int] = set()
    regions = []
    for index in sorted(weights):
        first = reaches[index]
        if index in rows or index in used or first.failure or not first.ends:
            continue
        columns, ends = [index], set(first.ends)
        nodes, tensors = set(first.nodes), set(first.tensors)
        grown = True
        while grown:
            grown = False
            for other in sorted(weights):
                more = reaches[other]
                if (other in columns or other in rows or other in used or other in ends
                        or more.failure or not (more.ends & ends or more.nodes & nodes)):
                    continue
                columns.append(other)
                ends |= more.ends
                nodes |= more.nodes
                tensors |= more.tensors
                grown = True
        merged = Reach(ends, nodes, tensors, [m for c in columns for m in reaches[c].met])
        if any(other.id not in tensors and flow.param_of(other) is None and whole(other, out)
               for other, out in merged.met):
            for column in columns:
                reaches[column].failure = ("its output is combined with a whole tensor of "
                                           "its size (a residual add)")
            continue
        used.update(columns)
        rows |= ends
        regions.append((sorted(columns), ends, merged))
    return regions, reaches


def describe(info: Any) -> str:
    return "×".join(str(int(d)) for d in info.shape)


def divisible(degree: int, size: int, what: str, module: str, weight: Any) -> None:
    if size % degree:
        raise UsageError(
            f"--tp {degree} does not divide the {size} {what} of {module} (weight "
            f"{describe(weight)}); give a --tp that divides {size}")


class Planner:
    """Builds the per-parameter plan and the per-node shares of one step."""

    def __init__(self, graph: Graph, phases: Sequence[str], degree: int) -> None:
        self.graph, self.degree = graph, degree
        self.flow = Dataflow(graph, phases)
        self.entries: dict[str, PlanEntry] = {}
        self.node_share: dict[int, Fraction] = {}

    def weights(self) -> dict[int, tuple[str, bool, TensorInfo]]:
        found = {}
        for node in self.flow.forward:
            weight = self.flow.weight(node)
            if weight is not None:
                found[node.index] = weight
        return found

    def put(self, name: str, role: str, axis: int | None, share: Fraction, **extra: Any) -> None:
        info = self.graph.params[name]
        known = self.entries.get(name)
        if known is not None and (known.role, known.axis) != (role, axis):
            raise UsageError(
                f"{info.owner}: parameter {name} would be split as {known.role} and as "
                f"{role} (it is used twice in different places); tensor parallelism of "
                "shared weights is not modelled — run with --tp 1")
        self.entries[name] = PlanEntry(info.owner, name, tuple(int(d) for d in info.shape),
                                       role, axis, share, **extra)

    def split_bias(self, node: Node, name: str, out_size: int, share: Fraction,
                   region: int) -> None:
        for tensor in node.inputs:
            found = self.flow.param_of(tensor)
            if (found is not None and found[0] != name and len(tensor.shape) == 1
                    and int(tensor.shape[0]) == out_size):
                self.put(found[0], "column", 0, share, region=region,
                         note="bias of a column-parallel linear")

    def plan(self) -> tuple[list[Region], dict[int, Any]]:
        weights = self.weights()
        regions, reaches = find_regions(self.flow, weights)
        found = []
        for number, (columns, rows, merged) in enumerate(regions):
            found.append(self.region(number, columns, rows, merged, weights, reaches))
        extras = self.vocabulary(weights, reaches, {i for c, r, _ in regions for i in (*c, *r)})
        return found, extras

    def region(self, number: int, columns: list[int], rows: set[int], merged: Reach,
               weights: Mapping[int, Any], reaches: Mapping[int, Reach]) -> Region:
        t, nodes = self.degree, self.graph.nodes
        heads = {c: heads_of(self.flow, nodes[c]) for c in columns}
        most = max((h for h in heads.values() if h), default=None)
        shares: dict[int, Fraction] = {}
        for column in columns:
            name, transposed, _ = weights[column]
            info, out_axis = self.graph.params[name], 0 if transposed else 1
            path, out_size = info.owner, int(info.shape[out_axis])
            count = heads[column]
            if count is not None and most is not None and count < most and count < t:
                if t % count:
                    raise UsageError(
                        f"--tp {t} is neither a divisor nor a multiple of the {count} KV "
                        f"heads of {path} (weight {describe(info)}); give a --tp that "
                        f"divides {count} or a multiple of it")
                share = Fraction(1, count)
                note = f"{count} KV heads < t: each device holds one (replicated {t // count}×)"
            else:
                divisible(t, count if count is not None else out_size,
                          "output features" if count is None else
                          "KV heads" if most is not None and count < most else "heads",
                          path, info)
                divisible(t, out_size, "output features", path, info)
                share, note = Fraction(1, t), ""
            shares[column] = share
            self.put(name, "column", out_axis, share, region=number, heads=count, note=note)
            self.split_bias(nodes[column], name, out_size, share, number)
        for row in rows:
            name, transposed, _ = weights[row]
            info = self.graph.params[name]
            in_axis = 1 if transposed else 0
            divisible(t, int(info.shape[in_axis]), "input features", info.owner, info)
            self.put(name, "row", in_axis, Fraction(1, t), region=number)
            self.node_share[row] = Fraction(1, t)
        for index in merged.nodes:
            reached = [shares[c] for c in columns if index in reaches[c].nodes]
            self.node_share[index] = min(reached) if reached else Fraction(1, t)
        kv = min((h for h in heads.values() if h), default=None)
        forward = sum(int(out.nbytes) for r in rows for out in nodes[r].outputs[:1])
        bases = {self.flow.base.get(weights[c][2].id, weights[c][2].id): weights[c][2]
                 for c in columns}
        backward = sum(int(t.nbytes) for t in bases.values())
        return Region(number, tuple(self.graph.params[weights[c][0]].owner for c in columns),
                      tuple(self.graph.params[weights[r][0]].owner for r in sorted(rows)),
                      most, kv if kv != most else None, forward, backward)

    def vocabulary(self, weights: Mapping[int, Any], reaches: Mapping[int, Reach],
                   taken: set[int]) -> dict[int, Any]:
        """The vocab-parallel embedding(s) and LM head: node index → (role, message)."""
        t, found, vocab = self.degree, {}, set()
        for node in self.flow.forward:
            if node.kind != "embedding" or len(node.inputs) < 2:
                continue
            table, ids = node.inputs[0], node.inputs[1]
            if ids.id not in self.flow.from_input or self.flow.param_of(table) is None:
                continue
            name = self.flow.param_of(table)[0]  # type: ignore[index]
            info = self.graph.params[name]
            divisible(t, int(info.shape[0]), "vocabulary rows", node.path, info)
            self.put(name, "vocab", 0, Fraction(1, t), note="vocab-parallel embedding")
            vocab.add(int(info.shape[0]))
            found[node.index] = ("embedding", int(node.outputs[0].nbytes))
        for index, (name, transposed, act) in weights.items():
            info = self.graph.params[name]
            out_axis = 0 if transposed else 1
            if index in taken or not reaches[index].to_loss_only or \
                    int(info.shape[out_axis]) not in vocab:
                continue
            self.put(name, "vocab", out_axis, Fraction(1, t),
                     note="vocab-parallel LM head (parallel cross-entropy)")
            self.node_share[index] = Fraction(1, t)
            found[index] = ("head", int(act.nbytes))
        return found


def param_shares(graph: Graph, entries: Mapping[str, PlanEntry]
                 ) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """Per module path: the share of its parameters' elements one device holds (its own
    and tied ones), over all of them and over the trainable ones; ``""``: the model."""
    sums: dict[tuple[str, bool], list[Fraction]] = {}
    for info in graph.params.values():
        if info.is_buffer:
            continue
        share = entries[info.name].share if info.name in entries else Fraction(1)
        numel = int(info.numel)
        owners = {info.owner, ""} | {name.rpartition(".")[0] for name in info.shared_with}
        for owner in owners:
            for trainable in {False, info.trainable}:
                held = sums.setdefault((owner, trainable), [Fraction(0), Fraction(0)])
                held[0] += numel * share
                held[1] += numel
    every = {o: h[0] / h[1] for (o, tr), h in sums.items() if not tr and h[1]}
    trained = {o: h[0] / h[1] for (o, tr), h in sums.items() if tr and h[1]}
    return every, trained


def path_shares(flow: Dataflow, node_share: Mapping[int, Fraction],
                costs: Sequence[NodeCost], fallback: Fraction) -> dict[str, Fraction]:
    """Per module path: the FLOP-weighted share of its forward ops (views weigh 1)."""
    sums: dict[str, list[Fraction]] = {}
    for node in flow.forward:
        cost = costs[node.index]
        weight = node_flops(cost) or 1
        held = sums.setdefault(node.path, [Fraction(0), Fraction(0)])
        held[0] += weight * node_share.get(node.index, fallback)
        held[1] += weight
    return {path: held[0] / held[1] for path, held in sums.items()}


def tensor_parallel(graph: Graph, phases: Sequence[str], allocations: Sequence[Any],
                    costs: Sequence[NodeCost], degree: int, sequence_parallel: bool = False,
                    device: Any = None, dtype: str | None = None) -> TensorParallel:
    """The :class:`TensorParallel` of a captured step over ``degree`` devices.

    Raises:
        UsageError: a bad degree, a degree that does not divide what it must split (the
            module and sizes named), or a model with nothing to split.
    """
    check_degree(degree, sequence_parallel)
    planner = Planner(graph, phases, degree)
    regions, extras = planner.plan()
    if degree > 1 and not regions and not extras:
        raise UsageError(
            "--tp: this model's structure gives nothing to split — no linear whose output "
            "reaches another linear through pointwise ops, attention and reshapes only, and "
            "no embedding of the input ids; run it with --tp 1 (data parallelism only)")
    entries = planner.entries
    for info in graph.params.values():
        if not info.is_buffer and info.name not in entries:
            entries[info.name] = PlanEntry(info.owner, info.name,
                                           tuple(int(d) for d in info.shape), "replicated",
                                           None, Fraction(1))
    outside = Fraction(1, degree) if sequence_parallel else Fraction(1)
    flow = planner.flow
    forward_share = {n.index: planner.node_share.get(n.index, outside) for n in flow.forward}
    by_path = path_shares(flow, forward_share, costs, outside)
    every, trained = param_shares(graph, entries)
    shares = node_shares(graph, phases, forward_share, by_path, every, flow)
    scaled = [scale(a, phases, forward_share, by_path, every, trained) for a in allocations]
    timeline = memory_timeline(scaled, graph.nodes, phases)
    peak = memory_peak(scaled, timeline)
    flops = {phase: phase_flops(graph, phases, costs, shares, phase) for phase in PHASES}
    known = [v for v in flops.values() if v is not None]
    collectives = communication(regions, extras, graph, degree, sequence_parallel)
    return TensorParallel(
        degree, sequence_parallel, tuple(entries[name] for name in graph.params
                                         if name in entries),
        tuple(regions), peak, dict(peak.point.by_category), peak.point.total,
        unit_share(graph, entries), flops, sum(known) if known else None,
        device_seconds(graph, shares, device, dtype), tuple(collectives),
        sum(c.sent_bytes for c in collectives),
        sum(a.bytes for a in scaled if a.category == "activations_saved"))


def node_shares(graph: Graph, phases: Sequence[str], forward: Mapping[int, Fraction],
                by_path: Mapping[str, Fraction], every: Mapping[str, Fraction],
                flow: Dataflow) -> list[Fraction]:
    """Every node's share of its FLOPs on one device (module doc)."""
    shares = []
    for node in graph.nodes:
        phase = phases[node.index]
        if phase == "forward":
            shares.append(forward[node.index])
        elif phase == "backward":
            shares.append(by_path.get(node.path, Fraction(1)))
        elif phase == "optimizer":
            held = [(int(t.numel), every.get(graph.params[found[0]].owner, Fraction(1)))
                    for t in node.inputs if (found := flow.param_of(t)) is not None]
            total = sum(n for n, _ in held)
            shares.append(sum((n * s for n, s in held), Fraction(0)) / total if total
                          else every.get(node.path, Fraction(1)))
        else:
            shares.append(Fraction(1))
    return shares


def scale(allocation: Any, phases: Sequence[str], forward: Mapping[int, Fraction],
          by_path: Mapping[str, Fraction], every: Mapping[str, Fraction],
          trained: Mapping[str, Fraction]) -> Any:
    """``allocation`` with the bytes one device holds of it."""
    category, path = allocation.category, allocation.path
    if category == "parameters":
        share = every.get(path, every.get("", Fraction(1)))
    elif category in STEADY:
        share = trained.get(path, trained.get("", Fraction(1)))
    elif category in ("activations_saved", "temporaries") and allocation.allocated_at >= 0:
        at = allocation.allocated_at
        share = (forward.get(at, Fraction(1)) if phases[at] == "forward" else
                 by_path.get(path, Fraction(1)) if phases[at] == "backward" else Fraction(1))
    else:
        share = Fraction(1)
    return replace(allocation, bytes=int(allocation.bytes * share))


def node_flops(cost: NodeCost) -> int:
    """2 × MACs + elementwise FLOPs (0 when a metric is unknown)."""
    if cost.macs is None or cost.elementwise_flops is None:
        return 0
    return 2 * int(cost.macs) + int(cost.elementwise_flops)


def phase_flops(graph: Graph, phases: Sequence[str], costs: Sequence[NodeCost],
                shares: Sequence[Fraction], phase: str) -> float | None:
    total, counted = Fraction(0), False
    for node in graph.nodes:
        cost = costs[node.index]
        if phases[node.index] != phase or not cost.counted:
            continue
        counted = True
        total += node_flops(cost) * shares[node.index]
    return float(total) if counted else None


def unit_share(graph: Graph, entries: Mapping[str, PlanEntry]) -> float:
    """Bytes of the FSDP / ZeRO-3 gathered unit per device (its parameters and gradients
    held by one device of the TP group)."""
    from netanatomy.analysis.checkpointing import inside
    from netanatomy.analysis.sharding import largest_block, repeated_units

    unit, _ = largest_block(graph)
    units = repeated_units(graph)
    total = Fraction(0)
    for info in graph.params.values():
        if info.is_buffer:
            continue
        within = inside(info.owner, unit) if unit else not any(
            inside(info.owner, u) for u in units)
        if within:
            total += int(info.nbytes) * (2 if info.trainable else 1) * entries[info.name].share
    return float(total)


def device_seconds(graph: Graph, shares: Sequence[Fraction], device: Any,
                   dtype: str | None) -> float | None:
    """Roofline seconds of one device: each node's time × its share."""
    if device is None:
        return None
    from netanatomy.analysis.roofline import roofline

    line = roofline(graph, device, dtype)
    known = [n.time_s * float(shares[n.index]) for n in line.nodes if n.time_s is not None]
    return sum(known) if known else None


def communication(regions: Sequence[Region], extras: Mapping[int, Any], graph: Graph,
                  degree: int, sequence_parallel: bool) -> list[Collective]:
    """The step's tensor-parallel collectives (module doc)."""
    t = degree
    ring = Fraction(2 * (t - 1), t)
    half = Fraction(t - 1, t)
    found = []

    def add(phase: str, kind: str, where: str, size: int) -> None:
        factor = ring if kind == "all-reduce" else half
        found.append(Collective(phase, kind, where, size, float(size * factor)))

    for region in regions:
        where = f"region {region.index}: " + ", ".join(region.columns) + " → " + \
            ", ".join(region.rows)
        if sequence_parallel:
            add("forward", "all-gather", where, region.backward_bytes)
            add("forward", "reduce-scatter", where, region.forward_bytes)
            add("backward", "all-gather", where + " (saved input re-gathered)",
                region.backward_bytes)
            add("backward", "reduce-scatter", where, region.backward_bytes)
            add("backward", "all-gather", where, region.forward_bytes)
        else:
            add("forward", "all-reduce", where, region.forward_bytes)
            add("backward", "all-reduce", where, region.backward_bytes)
    for index, (role, size) in sorted(extras.items()):
        path = graph.nodes[index].path
        if role == "embedding":
            add("forward", "reduce-scatter" if sequence_parallel else "all-reduce",
                f"vocab-parallel embedding {path}", size)
        else:
            if sequence_parallel:
                add("forward", "all-gather", f"vocab-parallel LM head {path}", size)
            add("backward", "reduce-scatter" if sequence_parallel else "all-reduce",
                f"vocab-parallel LM head {path}", size)
    return found
