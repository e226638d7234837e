"""The roofline per module and phase: FLOPs, bytes, arithmetic intensity, bound, predicted
time and share, for a training step (forward, loss, backward, optimizer) and for serving
(prefill, one decode step). A fold of :class:`~netanatomy.analysis.roofline.Roofline`
nodes (their conventions hold: time = max(FLOPs / peak, bytes / bandwidth) per node,
nodes one after another, a lower bound).

Rows (rules, stated in every output):

- **Scope.** A node belongs to the innermost module that ran it (an optimizer update to
  the module owning its parameter). A ``self`` row sums the nodes a module ran itself
  (its submodules apart: an attention module's own Q·Kᵀ, softmax and P·V, a decoder
  layer's residual adds, a leaf's everything); the ``self`` rows of a phase partition
  its nodes, so their times add up to the phase's time. A ``total`` row sums a module
  with its submodules; one is given for every module that has submodules doing work in
  that phase, and always for the root, ``""``: the whole phase. A leaf has only its ``self`` row;
  a module whose own nodes are all views (no FLOPs, no bytes) has none.
- **Intensity** = FLOPs / bytes of the row (None when nothing is moved or unknown).
- **Bound**: a node is ``compute``-bound when its intensity ≥ the ridge point (peak /
  bandwidth), i.e. FLOPs / peak ≥ bytes / bandwidth, else ``memory``-bound; a row is
  ``compute`` or ``memory`` when every node of it that takes time is, ``mixed`` when its
  nodes fall on both sides, None when none takes time (views only) or none is counted.
- **Share** = the row's time / the predicted time of the run it belongs to: the whole
  training step (every phase), or the prefill, or the one decode step.
- **Status**: ``exact`` when every node is counted, ``partial`` (sums of the counted
  nodes: lower bounds) or ``unknown`` (no node counted: values None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netanatomy.analysis.roofline import Roofline
from netanatomy.analysis.summary import ancestors
from netanatomy.ir.graph import Graph

__all__ = ["CONVENTIONS", "ModuleRoofline", "ModuleRooflines", "combine", "inclusive",
           "module_rooflines"]

CONVENTIONS = (
    "roofline rows: a node belongs to the innermost module that ran it (optimizer updates "
    "to their parameter's module); scope self = the module's own nodes (self rows "
    "partition a phase: their times add to it), scope total = with its submodules",
    "intensity = FLOPs / bytes; bound: compute when intensity >= ridge point (peak / "
    "bandwidth), else memory, per node; a row is mixed when its nodes fall on both sides",
    "time = sum over the row's nodes of max(FLOPs / peak, bytes / bandwidth) (a lower "
    "bound); share = time / the predicted time of the run (training step, prefill, one "
    "decode step)",
)


@dataclass(frozen=True, slots=True)
class ModuleRoofline:
    """One module in one phase on the roofline (module doc); None marks what is unknown."""

    path: str
    type: str
    phase: str
    scope: str
    flops: int | None
    bytes: int | None
    intensity: float | None
    bound: str | None
    time_s: float | None
    share: float | None
    status: str


@dataclass(frozen=True)
class ModuleRooflines:
    """Per-module rows on one device (module doc); ``runs``: the predicted time of each
    run the shares are taken of (``"step"`` for training, else ``"prefill"`` / ``"decode"``)."""

    device: str
    dtype: str
    peak_flops: int
    bandwidth: int
    runs: Mapping[str, float | None]
    modules: tuple[ModuleRoofline, ...]

    @property
    def ridge_point(self) -> float:
        """FLOP per byte where the compute roof meets the memory roof: peak / bandwidth."""
        return self.peak_flops / self.bandwidth

    def top(self, count: int, phases: Sequence[str] | None = None,
            ) -> tuple[list[ModuleRoofline], int]:
        """The ``count`` ``self`` rows (of ``phases``; None: all) that take the most time,
        and how many more rows that take time are not shown."""
        rows = [row for row in self.modules if row.scope == "self" and row.time_s
                and (phases is None or row.phase in phases)]
        rows.sort(key=lambda row: -(row.time_s or 0.0))
        return rows[:count], max(0, len(rows) - count)


class Sums:
    """A running row: sums of the counted values, node tallies by bound."""

    __slots__ = ("flops", "bytes", "time", "flops_known", "bytes_known", "counted",
                 "nodes", "compute", "memory")

    def __init__(self) -> None:
        self.flops = self.bytes = self.flops_known = self.bytes_known = 0
        self.time = 0.0
        self.counted = self.nodes = self.compute = self.memory = 0


def module_rooflines(line: Roofline, graph: Graph, phases: str | Sequence[str],
                     paths: Sequence[str] | None = None, run: str | None = None,
                     ) -> ModuleRooflines:
    """The rows of ``line`` (the roofline of ``graph``) by module and phase.

    Args:
        phases: the phase of every node (by index), or one phase for all.
        paths: the module of every node (default: the node's own path); training gives
            optimizer updates their parameter's module.
        run: the name of the run the shares are of (default: the one phase, or ``"step"``).
    """
    nodes = line.nodes
    phase_of = [phases] * len(nodes) if isinstance(phases, str) else list(phases)
    path_of = [node.path for node in nodes] if paths is None else list(paths)
    total_time = line.time_s.value
    own: dict[tuple[str, str], Sums] = {}
    whole: dict[tuple[str, str], Sums] = {}
    parents: set[tuple[str, str]] = set()
    chains: dict[tuple[str, str], list[Sums]] = {}
    for node in nodes:
        phase, path = phase_of[node.index], path_of[node.index]
        chain = chains.get((phase, path))
        if chain is None:
            chain = [own.setdefault((phase, path), Sums())]
            for owner in ancestors(path):
                chain.append(whole.setdefault((phase, owner), Sums()))
                if owner != path or not owner:
                    parents.add((phase, owner))
            chains[(phase, path)] = chain
        for sums in chain:
            sums.nodes += 1
            if node.flops is not None:
                sums.flops += node.flops
                sums.flops_known += 1
            if node.bytes is not None:
                sums.bytes += node.bytes
                sums.bytes_known += 1
            if node.time_s is not None:
                sums.time += node.time_s
                sums.counted += 1
                if node.bound == "compute":
                    sums.compute += 1
                elif node.bound == "memory":
                    sums.memory += 1
    types = {info.path: info.type for info in graph.modules}
    order = {info.path: i for i, info in enumerate(graph.modules)}
    phase_order = list(dict.fromkeys(phase_of))
    keys = sorted(set(own) | parents, key=lambda key: (phase_order.index(key[0]),
                                                       order.get(key[1], len(order)), key[1]))
    rows: list[ModuleRoofline] = []
    for phase, path in keys:
        found: tuple[tuple[str, Sums | None], ...] = (
            ("total", whole.get((phase, path)) if (phase, path) in parents else None),
            ("self", own.get((phase, path))))
        for scope, summed in found:
            if summed is not None and not idle(summed):
                rows.append(row(path, types.get(path, ""), phase, scope, summed, total_time))
    name = run if run is not None else (phase_order[0] if len(phase_order) == 1 else "step")
    return ModuleRooflines(line.device.key, line.dtype, line.peak_flops, line.bandwidth,
                           {name: total_time}, tuple(rows))


def idle(sums: Sums) -> bool:
    """Every node counted and none moving or computing anything (views only)."""
    return (sums.counted == sums.nodes and not sums.time and not sums.flops
            and not sums.bytes)


def row(path: str, type_: str, phase: str, scope: str, sums: Sums,
        total_time: float | None) -> ModuleRoofline:
    """One row from its sums (module doc: intensity, bound, share, status)."""
    flops = sums.flops if sums.flops_known else None
    moved = sums.bytes if sums.bytes_known else None
    time = sums.time if sums.counted else None
    intensity = flops / moved if flops is not None and moved else None
    bound = ("mixed" if sums.compute and sums.memory else "compute" if sums.compute
             else "memory" if sums.memory else None)
    share = time / total_time if time is not None and total_time else None
    status = ("exact" if sums.counted == sums.nodes else
              "partial" if sums.counted else "unknown")
    return ModuleRoofline(path, type_, phase, scope, flops, moved, intensity, bound, time,
                          share, status)


def combine(*parts: ModuleRooflines | None) -> ModuleRooflines | None:
    """The rows of several runs on one device (prefill and decode) in one set."""
    given = [part for part in parts if part is not None]
    if not given:
        return None
    first = given[0]
    runs: dict[str, float | None] = {}
    for part in given:
        runs.update(part.runs)
    return ModuleRooflines(first.device, first.dtype, first.peak_flops, first.bandwidth,
                           runs, tuple(r for part in given for r in part.modules))


def inclusive(rows: ModuleRooflines) -> dict[str, ModuleRoofline]:
    """Path → the module over every phase, its submodules included (phase ``"all"``,
    scope ``total``): the sums of its per-phase ``total`` rows (``self`` where it has no
    submodule working in that phase); bound ``mixed`` when the phases disagree."""
    parts: dict[str, list[ModuleRoofline]] = {}
    containers = {(r.phase, r.path) for r in rows.modules if r.scope == "total"}
    for r in rows.modules:
        if r.scope == "total" or (r.phase, r.path) not in containers:
            parts.setdefault(r.path, []).append(r)
    total_time = sum(value for value in rows.runs.values() if value)
    merged: dict[str, ModuleRoofline] = {}
    for path, found in parts.items():
        flops = [r.flops for r in found if r.flops is not None]
        moved = [r.bytes for r in found if r.bytes is not None]
        times = [r.time_s for r in found if r.time_s is not None]
        bounds = {r.bound for r in found if r.bound is not None}
        statuses = {r.status for r in found}
        f = sum(flops) if flops else None
        b = sum(moved) if moved else None
        t = sum(times) if times else None
        merged[path] = ModuleRoofline(
            path, found[0].type, "all", "total", f, b, f / b if f is not None and b else None,
            None if not bounds else bounds.pop() if len(bounds) == 1 else "mixed", t,
            t / total_time if t is not None and total_time else None,
            "exact" if statuses == {"exact"} else "unknown" if statuses == {"unknown"}
            else "partial")
    return merged
