"""Activation checkpointing, what if: per block, the memory a checkpoint would free and the
forward it would run again, and a plan that fits a memory budget. A pure fold over the
captured step (its forward nodes and storage lifetimes).

For a checkpointed module M (``torch.utils.checkpoint`` around it):
- freed: the activations autograd saves for backward that M's own ops allocate (they are
  recomputed in backward instead), minus what the checkpoint keeps: M's inputs made
  outside it (parameters and the model's inputs are live anyway and not counted);
- added: M's forward FLOPs again (2 × MACs + elementwise), once per step;
- the peak: the part of the step before the optimizer shrinks by the sum freed, plus the
  largest freed block (recomputed during its own backward); the optimizer's part does not
  change. An estimate from the captured lifetimes, stated as such.
Candidates are the instances of the model's most repeated block type (a transformer layer,
a ResNet block: :func:`netanatomy.analysis.sharding.largest_block`'s units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.cost import NodeCost
from netanatomy.errors import UsageError
from netanatomy.ir.graph import Graph


@dataclass(frozen=True, slots=True)
class Candidate:
    """One block: ``saved`` bytes its ops keep for backward, ``kept`` bytes of its inputs
    a checkpoint holds instead, and its forward FLOPs (``None`` when an op is uncounted)."""

    path: str
    type: str
    saved: int
    kept: int
    recompute_flops: int | None

    @property
    def freed(self) -> int:
        return max(self.saved - self.kept, 0)


@dataclass(frozen=True)
class CheckpointPlan:
    """The blocks chosen, bytes freed, FLOPs added, the peak before and (estimated)
    after, the budget asked for and whether the estimate fits it."""

    candidates: tuple[Candidate, ...]
    chosen: tuple[str, ...]
    freed: int
    added_flops: int | None
    peak_before: int
    peak_after: int
    budget: int | None
    fits: bool


def inside(path: str, module: str) -> bool:
    return path == module or path.startswith(module + ".")


def block_candidates(graph: Graph, phases: Sequence[str], allocations: Sequence[Any],
                     costs: Sequence[NodeCost]) -> tuple[Candidate, ...]:
    """Every instance of the most repeated block type, with what checkpointing it means."""
    from netanatomy.analysis.sharding import repeated_units

    units = repeated_units(graph)
    types = {module.path: module.type for module in graph.modules}
    forward = [n for n in graph.nodes if phases[n.index] == "forward"]
    producer = {t.id: n.path for n in forward for t in n.outputs}
    found = []
    for unit in units:
        saved = sum(a.bytes for a in allocations if a.category == "activations_saved"
                    and inside(a.path, unit))
        kept: dict[int, int] = {}
        flops: int | None = 0
        for node in forward:
            if not inside(node.path, unit):
                continue
            cost = costs[node.index]
            if flops is not None:
                flops = (None if cost.macs is None or cost.elementwise_flops is None
                         else flops + 2 * int(cost.macs) + int(cost.elementwise_flops))
            for tensor in node.inputs:
                origin = producer.get(tensor.id)
                if tensor.param is None and origin is not None and not inside(origin, unit):
                    kept[tensor.id] = int(tensor.nbytes)
        found.append(Candidate(unit, types.get(unit, ""), saved, sum(kept.values()), flops))
    return tuple(found)


def check_choice(choice: str, budget: int | None) -> None:
    """Refuse a choice other than ``none``, ``blocks`` or ``auto``, and ``auto`` without a
    budget.

    Raises:
        UsageError: naming the option and what it takes.
    """
    if choice not in ("none", "blocks", "auto"):
        raise UsageError(f"--checkpoint {choice!r}: give none, blocks or auto")
    if choice == "auto" and budget is None:
        raise UsageError("--checkpoint auto needs --memory-budget (GiB per device) or a "
                         "--device-type whose memory is the budget")


def plan_checkpoints(candidates: Sequence[Candidate], timeline: Sequence[Any],
                     choice: str, budget: int | None = None, offset: int = 0
                     ) -> CheckpointPlan:
    """``choice``: ``blocks`` (checkpoint every candidate) or ``auto`` (the fewest, most
    freeing per recomputed FLOP first, until the estimated peak fits ``budget`` bytes).
    ``offset``: bytes the reported peaks are lowered by (what sharding saves per device;
    ``budget`` is then in unsharded terms).

    Raises:
        UsageError: an unknown choice, or ``auto`` without a budget.
    """
    check_choice(choice, budget)
    if choice == "none":
        raise UsageError("--checkpoint none plans nothing: give blocks or auto")
    before_optimizer = max((p.total for p in timeline if p.phase != "optimizer"), default=0)
    optimizer = max((p.total for p in timeline if p.phase == "optimizer"), default=0)
    peak = max(before_optimizer, optimizer)
    order = sorted(candidates, key=lambda c: -c.freed / max(c.recompute_flops or 1, 1))
    chosen: list[Candidate] = []

    def estimate(selected: Sequence[Candidate]) -> int:
        if not selected:
            return peak
        freed = sum(c.freed for c in selected)
        return max(optimizer, before_optimizer - freed + max(c.saved for c in selected))

    if choice == "blocks":
        chosen = list(candidates)
    else:
        for candidate in order:
            if budget is not None and estimate(chosen) <= budget:
                break
            if candidate.freed > 0:
                chosen.append(candidate)
    after = estimate(chosen)
    flops = [c.recompute_flops for c in chosen]
    added = None if any(f is None for f in flops) else sum(f for f in flops if f is not None)
    return CheckpointPlan(tuple(candidates), tuple(c.path for c in chosen),
                          sum(c.freed for c in chosen), added, peak - offset, after - offset,
                          None if budget is None else budget - offset,
                          budget is None or after <= budget)
