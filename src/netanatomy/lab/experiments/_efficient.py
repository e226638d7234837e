"""Helpers shared by the "efficient" lab experiments: parameter counts of the built module
(the cross-check of a spec's count), exact ratios, and bar labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from netanatomy import spec


def built_params(target: str, symbols: Mapping[str, Any] | None = None) -> int:
    """Parameters of the real ``nn.Module`` that ``spec.build`` makes for ``target``:
    ``sum(p.numel())``, counted by torch, not by netanatomy's rules."""
    module = spec.build(target, symbols)
    return sum(parameter.numel() for parameter in module.parameters())


def ratio(numerator: Any, denominator: Any) -> Fraction:
    """``numerator / denominator`` of two integer counts, exactly."""
    return Fraction(int(numerator), int(denominator))


def exact(value: float) -> Fraction:
    """A multiplier written in decimal (0.75, 0.857…) as the fraction it names: 0.75 is
    3/4 (Fraction of its text, so 0.3 is 3/10, not the nearest binary float)."""
    return Fraction(str(value))


def label_bars(axis: Any, bars: Any, values: Sequence[float], unit: str = "") -> None:
    """Write each bar's value above it (``0`` for an empty bar, so it is not missed)."""
    for bar, value in zip(bars, values):
        text = f"{value:.3g}{unit}" if value else "0"
        axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                      textcoords="offset points")
