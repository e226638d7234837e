"""Memory per device of a training step under data-parallel sharding (ZeRO stages and
FSDP), from the step's own memory categories. netanatomy models the engine; it launches
none.

Over a data-parallel degree ``N`` (devices that each run the captured batch; tensor and
pipeline parallelism are not modelled here), with P, G, S the bytes of parameters,
gradients and optimizer state the step keeps, and A the activations and temporaries live at
the step's peak (per device: each runs the captured batch):

| strategy | per device | source |
|---|---|---|
| ``none`` (DDP) | P + G + S + A | every device holds everything |
| ``zero1`` | P + G + S/N + A | ZeRO stage 1, optimizer states partitioned |
| ``zero2`` | P + (G + S)/N + A | ZeRO stage 2, + gradients |
| ``zero3`` / ``fsdp`` | (P + G + S)/N + U + A | stage 3 / FSDP, + parameters, U gathered |

(Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", Figure 1 and §5.) ``U``: the parameters and gradients of the largest repeated
block (the module type that occurs most often with parameters: a transformer layer, a
ResNet block), gathered whole while it runs (FSDP's wrapping unit, one at a time, no
prefetch). Communication buffers and fragmentation are not modelled.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from netanatomy.analysis.summary import ancestors
from netanatomy.errors import UsageError
from netanatomy.ir.graph import Graph

STRATEGIES = ("none", "zero1", "zero2", "zero3", "fsdp")
STEADY = ("parameters", "gradients", "optimizer_state")


@dataclass(frozen=True, slots=True)
class ShardedMemory:
    """Bytes per device: by category (after sharding), the gathered unit, the total, and
    the strategy with its degree."""

    strategy: str
    degree: int
    by_category: Mapping[str, float]
    gathered_unit: float
    total: float


def sharded_memory(categories: Mapping[str, float], strategy: str, degree: int,
                   unit_bytes: float = 0.0) -> ShardedMemory:
    """Per-device bytes of ``categories`` (bytes at the step's peak by category: the
    steady parameters, gradients and optimizer state, the rest live activations and
    temporaries) under ``strategy`` over ``degree`` devices (module doc).

    Raises:
        UsageError: an unknown strategy or a degree below 1.
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"--shard {strategy!r} is not known; give one of "
                         f"{', '.join(STRATEGIES)}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise UsageError(f"--dp must be a whole number of devices ≥ 1, got {degree!r}")
    divided = {"none": (), "zero1": ("optimizer_state",),
               "zero2": ("optimizer_state", "gradients"),
               "zero3": STEADY, "fsdp": STEADY}[strategy]
    shares = {category: (value / degree if category in divided else float(value))
              for category, value in categories.items()}
    unit = float(unit_bytes) if strategy in ("zero3", "fsdp") and degree > 1 else 0.0
    return ShardedMemory(strategy, degree, shares, unit, sum(shares.values()) + unit)


def parameter_bytes(graph: Graph) -> dict[str, int]:
    """Bytes of parameters, and gradients of the trainable ones, per module path (its
    submodules included; ``""`` the whole model)."""
    held: dict[str, int] = {"": 0}
    for param in graph.params.values():
        if param.is_buffer:
            continue
        size = int(param.nbytes) * (2 if param.trainable else 1)
        for path in ancestors(param.owner):
            held[path] = held.get(path, 0) + size
    return held


def repeated_units(graph: Graph) -> tuple[str, ...]:
    """The instances of the most frequent repeated module type that contains other modules
    and holds parameters (a transformer layer, a ResNet block); () when none repeats."""
    held = parameter_bytes(graph)
    paths = [module.path for module in graph.modules]
    # a path is a container when another path extends it by a dotted suffix: one of that
    # path's dotted prefixes (linear in the modules, not quadratic)
    known = set(paths)
    containers = {prefix for other in paths
                  for prefix in itertools.accumulate(other.split(".")[:-1],
                                                     lambda head, part: f"{head}.{part}")
                  if prefix and prefix in known}
    by_type: dict[str, list[str]] = {}
    for module in graph.modules:
        if module.path in containers and held.get(module.path):
            by_type.setdefault(module.type, []).append(module.path)
    repeated: list[list[str]] = [found for found in by_type.values() if len(found) > 1]
    if not repeated:
        return ()
    most: list[str] = max(repeated, key=len)
    return tuple(most)


def largest_block(graph: Graph) -> tuple[str, int]:
    """The unit FSDP / ZeRO-3 gathers at most at once, and its bytes (parameters, and
    gradients of the trainable ones): the wrapping units are :func:`repeated_units`; what
    lies outside them is the root unit. The largest of all is returned (``("", bytes of
    everything)`` when no type repeats: the model is one unit)."""
    held = parameter_bytes(graph)
    units = repeated_units(graph)
    if not units:
        return "", held[""]
    biggest = max(units, key=lambda path: held[path])
    outside = held[""] - sum(held[path] for path in units)
    return (biggest, held[biggest]) if held[biggest] >= outside else ("", outside)
