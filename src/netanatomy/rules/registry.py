"""The one registry of op rules.

A rule is the set of formulas registered for one IR op kind, one formula per metric:

- ``output_shapes(inputs, attrs) -> tuple[Shape, ...]``
- ``macs(inputs, outputs, attrs) -> Dim``: multiply-accumulates of linear algebra.
- ``elementwise_flops(inputs, outputs, attrs) -> Dim``: per-element work (bias adds, norms,
  activations, pooling, softmax, arithmetic), counted apart from MACs.
- ``rf(inputs, outputs, attrs) -> tuple[AxisWindow, ...] | "global"``: how the op maps each
  trailing spatial axis of its output onto its input (window ops only; ops that mix every
  position return ``GLOBAL``).

``inputs`` and ``outputs`` are tuples of shapes (tuples of ints or sympy expressions),
``attrs`` the kind's normalised hyper-parameters. Formulas are pure and use only
:mod:`netanatomy.symbolic` arithmetic, so they work on numbers and symbols alike. A metric
with no formula is *unknown* for that kind, never 0; a kind with no formulas at all is
reported as uncounted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from netanatomy.errors import RuleError
from netanatomy.symbolic import Dim

METRICS = ("output_shapes", "macs", "elementwise_flops", "rf")

GLOBAL = "global"
"""What an ``rf`` formula returns when every output position sees the whole input."""


@dataclass(frozen=True, slots=True)
class AxisWindow:
    """The input window of output position ``o`` along one spatial axis, in input indices.

    Output ``o`` reads input positions from ``o·stride + start`` to ``o·stride + start +
    extent``. ``extent`` = (kernel − 1)·dilation for a conv or pool; ``start`` = −padding.
    For upsampling and transposed convs ``stride`` is a fraction (1/scale) and ``extent``
    the largest input distance any output spans. Values are ints, Fractions or symbols.
    """

    extent: Dim
    stride: Dim
    start: Dim

_FORMULAS: dict[str, dict[str, Callable[..., Any]]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def formula(kinds: str | tuple[str, ...], metric: str) -> Callable[[F], F]:
    """Register the decorated function as ``metric`` of each op kind in ``kinds``.

    Raises:
        RuleError: the metric is not one of :data:`METRICS`, or the kind has one already.
    """
    if metric not in METRICS:
        raise RuleError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    kind_names = (kinds,) if isinstance(kinds, str) else kinds

    def register(function: F) -> F:
        taken = [kind for kind in kind_names if metric in _FORMULAS.get(kind, {})]
        taken += [kind for kind in set(kind_names) if kind_names.count(kind) > 1]
        if taken:  # refuse the whole registration: the registry stays unchanged
            raise RuleError(f"op kind {taken[0]!r} already has a {metric!r} formula")
        for kind in kind_names:
            _FORMULAS.setdefault(kind, {})[metric] = function
        return function

    return register


def get_formula(kind: str, metric: str) -> Callable[..., Any] | None:
    """The formula for ``metric`` of ``kind``, or None when the rule does not give it.

    Raises:
        RuleError: ``metric`` is not one of :data:`METRICS` (a misspelt name).
    """
    if metric not in METRICS:
        raise RuleError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    return _FORMULAS.get(kind, {}).get(metric)


def has_rule(kind: str) -> bool:
    """True when at least one formula is registered for ``kind``."""
    return kind in _FORMULAS


def known_kinds() -> tuple[str, ...]:
    """All op kinds that have a rule, sorted."""
    return tuple(sorted(_FORMULAS))
