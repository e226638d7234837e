"""Repeated blocks: runs of consecutive sibling modules that are the same block, so that a
report can show them collapsed as "BasicBlock × 3" with their summed costs. A pure fold
over a summary's layer rows (torch models and specs alike; symbolic sums stay sympy).

Two modules are *the same block* when their signatures are equal. The signature of a
module is, recursively:
- its type, how often it ran (``calls``) and the output shapes of every call;
- its own ``params``, ``trainable_params``, ``buffers`` and ``shared_params``, and its
  subtree's ``params_total``, ``macs``, ``elementwise_flops``, ``activation_bytes`` and
  ``status`` (``flops`` is 2 × ``macs`` and adds nothing);
- the ordered list of its child modules, each as (its last path component, its
  signature).

A *group* is a maximal run of at least two consecutive children of one parent (in
module-definition order) with equal signatures, whose members contain modules of their
own: a repeated leaf (the ``k_proj`` and ``v_proj`` Linears of an attention, two norms)
is one node of the graph already and is not collapsed. Groups nest: a group's members
may hold groups themselves. ``totals`` are the members' rows summed (``None`` when a
member's value is unknown), the same numbers a table of the members adds up to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.report import LayerRow
from netanatomy.symbolic import Dim

SUMMED = ("params_total", "macs", "flops", "elementwise_flops", "activation_bytes")
"""The row values a group's totals add up."""


@dataclass(frozen=True, slots=True)
class RepeatGroup:
    """A run of ``count`` equal sibling blocks: ``parent`` path, ``members`` paths in
    order, their ``type`` and the summed ``totals`` (keys :data:`SUMMED`; None:
    unknown)."""

    parent: str
    members: tuple[str, ...]
    type: str
    totals: Mapping[str, Dim | None]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def label(self) -> str:
        """``"BasicBlock × 3"``."""
        return f"{self.type} × {self.count}"


def parent_of(path: str) -> str | None:
    """The parent module's path (``""`` for a top-level module, None for the root)."""
    if path == "":
        return None
    return path.rpartition(".")[0]


def children_of(rows: Sequence[LayerRow]) -> dict[str, list[LayerRow]]:
    """Each path's child rows, in definition order (rows of a summary list every module,
    parents before their children). A row whose parent is not listed hangs under its
    nearest listed ancestor."""
    paths = {row.path for row in rows}
    children: dict[str, list[LayerRow]] = {row.path: [] for row in rows}
    for row in rows:
        parent = parent_of(row.path)
        while parent is not None and parent not in paths:
            parent = parent_of(parent)
        if parent is not None:
            children[parent].append(row)
    return children


def signatures(rows: Sequence[LayerRow],
               children: Mapping[str, Sequence[LayerRow]]) -> dict[str, Any]:
    """The signature (see the module docstring) of every row, by path; hashable."""
    found: dict[str, Any] = {}
    for row in reversed(rows):              # children come after their parents
        kids = tuple((kid.path.rpartition(".")[2], found[kid.path])
                     for kid in children[row.path])
        found[row.path] = (row.type, row.calls, row.call_shapes or (row.output_shapes,),
                           row.params, row.trainable_params, row.buffers, row.shared_params,
                           row.params_total, row.macs, row.elementwise_flops,
                           row.activation_bytes, row.status, kids)
    return found


def summed(members: Sequence[LayerRow]) -> dict[str, Dim | None]:
    """The members' :data:`SUMMED` values added up; None when any is unknown."""
    totals: dict[str, Dim | None] = {}
    for key in SUMMED:
        values = [getattr(row, key) for row in members]
        totals[key] = None if any(v is None for v in values) else sum(values[1:], values[0])
    return totals


def runs(items: Sequence[Any]) -> list[tuple[int, int]]:
    """``(start, stop)`` of each maximal run of equal consecutive items of length ≥ 2."""
    found, start = [], 0
    for index in range(1, len(items) + 1):
        if index == len(items) or items[index] != items[start]:
            if index - start >= 2:
                found.append((start, index))
            start = index
    return found


def repeated_groups(rows: Sequence[LayerRow]) -> tuple[RepeatGroup, ...]:
    """Every group of repeated sibling blocks among ``rows`` (a summary's ``layers``, all
    depths), parents before children, siblings in order."""
    children = children_of(rows)
    found = signatures(rows, children)
    groups = []
    for row in rows:
        kids = children[row.path]
        for start, stop in runs([found[kid.path] for kid in kids]):
            members = kids[start:stop]
            if not children[members[0].path]:
                continue                    # a repeated leaf: one node already
            groups.append(RepeatGroup(row.path, tuple(m.path for m in members),
                                      members[0].type, summed(members)))
    return tuple(groups)
