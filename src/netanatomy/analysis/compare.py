"""Two analyses side by side: their totals and the ratio second / first of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netanatomy.analysis.report import Summary, Totals

COMPARED = ("params", "macs", "flops", "elementwise_flops", "param_bytes", "activation_bytes")
"""The totals compared, in the order shown."""


def ratio(first: Any, second: Any) -> Any:
    """second / first as a float (or a simplified expression); None when first is 0 or
    either is unknown."""
    if first is None or second is None:
        return None
    try:
        if first == 0:
            return None
    except TypeError:
        pass
    try:
        return float(second) / float(first)
    except (TypeError, ValueError):
        import sympy

        return sympy.simplify(sympy.sympify(second) / first)


@dataclass(frozen=True)
class Comparison:
    """``names`` of the two targets, their ``totals``, and per compared quantity the
    values and ratio (second / first)."""

    names: tuple[str, str]
    totals: tuple[Totals, Totals]

    def values(self, key: str) -> tuple[Any, Any]:
        return getattr(self.totals[0], key), getattr(self.totals[1], key)

    def ratio(self, key: str) -> Any:
        return ratio(*self.values(key))


def compare(names: Sequence[str], reports: Sequence[Summary]) -> Comparison:
    """The comparison of two analyses (the first is the baseline)."""
    first, second = reports
    return Comparison((names[0], names[1]), (first.totals, second.totals))
