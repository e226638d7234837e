"""The totals of one architecture over a grid of symbol values (MobileNet's α and ρ)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.report import Totals
from netanatomy.analysis.summary import summarize
from netanatomy.ir.graph import Graph


@dataclass(frozen=True)
class SweepPoint:
    """One point of the grid: the varied symbols' values and the totals there."""

    values: Mapping[str, Any]
    totals: Totals


@dataclass(frozen=True)
class Sweep:
    """``target`` analysed at every point of the grid over ``names``, in grid order."""

    target: str
    names: tuple[str, ...]
    points: tuple[SweepPoint, ...]


def sweep(target: str, graph_at: Callable[[Mapping[str, Any]], Graph],
          fixed: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> Sweep:
    """Analyse ``graph_at(values)`` at every combination of the ``grid`` values (the last
    name varying fastest), with the ``fixed`` values beside them."""
    names = tuple(grid)
    points = []
    for combination in itertools.product(*(grid[n] for n in names)):
        varied = dict(zip(names, combination))
        points.append(SweepPoint(varied, summarize(graph_at({**fixed, **varied})).totals))
    return Sweep(target, names, tuple(points))
