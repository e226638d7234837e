"""The one registry of op rules.

A rule is the bundle of facts registered for one IR op kind (listed in
:mod:`netanatomy.ir.kinds`), one formula per metric plus a convention line:

- ``output_shapes(inputs, attrs) -> tuple[Shape, ...]``
- ``params(inputs, attrs) -> Dim``: elements of the operands in the kind's weight
  positions (weight, bias, affine scale/shift, embedding table); 0 for kinds without any.
- ``macs(inputs, outputs, attrs) -> Dim``: multiply-accumulates of linear algebra.
- ``elementwise_flops(inputs, outputs, attrs) -> Dim``: per-element work (bias adds, norms,
  activations, pooling, softmax, arithmetic), counted apart from MACs.
- ``bytes(inputs, outputs, attrs, itemsizes) -> Dim``: bytes the op reads and writes when it
  runs alone (each operand read once, each output written once, unless the rule says
  otherwise); ``itemsizes`` is ``(operand itemsizes, output itemsizes)``.
- ``rf(inputs, outputs, attrs) -> Transfer``: what the op does to input positions (see
  :mod:`netanatomy.rules.transfer`): a window per trailing spatial axis, positions
  unchanged, mixes all positions, mixes some axes, a relayout, or no field.

``inputs`` and ``outputs`` are tuples of shapes (tuples of ints or sympy expressions),
``attrs`` the kind's normalised hyper-parameters. Formulas are pure and use only
:mod:`netanatomy.symbolic` arithmetic, so they work on numbers and symbols alike (and so
``--explain`` can print the formula a rule really evaluates). A metric with no formula is
*unknown* for that kind, never 0; a kind with no formulas at all is reported as uncounted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netanatomy.errors import RuleError
from netanatomy.rules.transfer import GLOBAL, AxisWindow

METRICS = ("output_shapes", "params", "macs", "elementwise_flops", "bytes", "rf")

_FORMULAS: dict[str, dict[str, Callable[..., Any]]] = {}
_CONVENTIONS: dict[str, str] = {}
_DIM_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise RuleError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def formula(kinds: str | tuple[str, ...], metric: str) -> Callable[[F], F]:
    """Register the decorated function as ``metric`` of each op kind in ``kinds``.

    Raises:
        RuleError: the metric is not one of :data:`METRICS`, or the kind has one already.
    """
    check_metric(metric)
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


def convention(kinds: str | tuple[str, ...], text: str) -> None:
    """Register the one-line counting convention of each kind in ``kinds``.

    Raises:
        RuleError: a kind has a convention already.
    """
    kind_names = (kinds,) if isinstance(kinds, str) else kinds
    taken = [kind for kind in kind_names if kind in _CONVENTIONS]
    if taken or len(set(kind_names)) != len(kind_names):
        raise RuleError(f"op kind {(taken or kind_names)[0]!r} already has a convention")
    for kind in kind_names:
        _CONVENTIONS[kind] = text


def dim_names(kinds: str | tuple[str, ...], inputs: tuple[str, ...],
              outputs: tuple[str, ...] = ()) -> None:
    """Register how ``--explain`` names the dims of each operand and output of ``kinds``.

    One template per operand, dims separated by spaces: ``"N C_in *"`` names the first two
    dims and the spatial rest (``*`` → H, W; ``*k`` → k_h, k_w; ``*'`` → H', W'); a
    leading ``...`` names any batch dims. Presentation only: the numbers always come from
    the formulas.
    """
    for kind in (kinds,) if isinstance(kinds, str) else kinds:
        if kind in _DIM_NAMES:
            raise RuleError(f"op kind {kind!r} already has dim names")
        _DIM_NAMES[kind] = (inputs, outputs)


def get_dim_names(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The dim-name templates of ``kind``'s operands and outputs (empty when none)."""
    return _DIM_NAMES.get(kind, ((), ()))


def get_formula(kind: str, metric: str) -> Callable[..., Any] | None:
    """The formula for ``metric`` of ``kind``, or None when the rule does not give it.

    Raises:
        RuleError: ``metric`` is not one of :data:`METRICS` (a misspelt name).
    """
    check_metric(metric)
    return _FORMULAS.get(kind, {}).get(metric)


def get_convention(kind: str) -> str | None:
    """The convention line of ``kind`` (None for a kind without a rule)."""
    return _CONVENTIONS.get(kind)


def has_rule(kind: str) -> bool:
    """True when at least one formula is registered for ``kind``."""
    return kind in _FORMULAS


def known_kinds() -> tuple[str, ...]:
    """All op kinds that have a rule, sorted."""
    return tuple(sorted(_FORMULAS))


@dataclass(frozen=True)
class Rule:
    """The bundle of one kind: its formulas by metric and its convention line."""

    kind: str
    formulas: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    convention: str | None = None

    def missing(self) -> tuple[str, ...]:
        """Metrics this rule does not give (each is *unknown* for the kind)."""
        return tuple(metric for metric in METRICS if metric not in self.formulas)


def rule_for(kind: str) -> Rule:
    """The rule bundle of ``kind`` (empty for a kind without a rule)."""
    return Rule(kind, dict(_FORMULAS.get(kind, {})), _CONVENTIONS.get(kind))


__all__ = ["GLOBAL", "METRICS", "AxisWindow", "Rule", "check_metric", "convention", "dim_names",
           "formula", "get_convention", "get_dim_names", "get_formula", "has_rule",
           "known_kinds", "rule_for"]
