"""Helpers shared by the rule tests: apply a rule, substitute symbols, count torch FLOPs.

Nothing here computes an expected value; the helpers only call the rule under test, or an
independent reference (torch, FlopCounterMode), or substitute numbers into sympy results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sympy
from torch.utils.flop_counter import FlopCounterMode

from netanatomy.rules import get_formula


def rule(kind: str, metric: str) -> Callable[..., Any]:
    """The registered formula, failing the test when it is missing."""
    function = get_formula(kind, metric)
    assert function is not None, f"no {metric!r} formula for kind {kind!r}"
    return function


def evaluate(kind: str, inputs: tuple[Any, ...], attrs: Mapping[str, Any]
             ) -> tuple[tuple[Any, ...], Any, Any]:
    """(output shapes, MACs, elementwise FLOPs) of ``kind`` on ``inputs``."""
    outputs = rule(kind, "output_shapes")(inputs, attrs)
    macs = rule(kind, "macs")(inputs, outputs, attrs)
    flops = rule(kind, "elementwise_flops")(inputs, outputs, attrs)
    return outputs, macs, flops


def symbols(names: str) -> tuple[sympy.Symbol, ...]:
    """Positive integer sympy symbols, as the spec front-end declares sizes."""
    return tuple(sympy.symbols(names, integer=True, positive=True))


def substitute(value: Any, values: Mapping[sympy.Symbol, int]) -> Any:
    """``value`` (nested tuples / dicts of ints, symbols, bools, strings) with symbols
    replaced by ints; sympy numbers that come out whole become ints."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, tuple):
        return tuple(substitute(item, values) for item in value)
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    result = sympy.sympify(value).subs(values)
    assert result.is_Integer, f"{value} did not become an integer with {values}: {result}"
    return int(result)


def assert_symbolic_agrees(kind: str, inputs: tuple[Any, ...], attrs: Mapping[str, Any],
                           values: Mapping[sympy.Symbol, int],
                           metrics: tuple[str, ...] = ("output_shapes", "macs",
                                                       "elementwise_flops")) -> None:
    """House style rule 3: the rule on symbols, then substituted, equals the rule on ints."""
    concrete_inputs = substitute(inputs, values)
    concrete_attrs = substitute(dict(attrs), values)
    sym_out = rule(kind, "output_shapes")(inputs, attrs)
    int_out = rule(kind, "output_shapes")(concrete_inputs, concrete_attrs)
    if "output_shapes" in metrics:
        assert substitute(sym_out, values) == int_out
    for metric in metrics:
        if metric == "output_shapes":
            continue
        symbolic = rule(kind, metric)(inputs, sym_out, attrs)
        concrete = rule(kind, metric)(concrete_inputs, int_out, concrete_attrs)
        assert substitute(symbolic, values) == concrete, metric


def torch_flops(function: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Total FLOPs PyTorch's FlopCounterMode records for one call (it ignores bias adds)."""
    with FlopCounterMode(display=False) as counter:
        function(*args, **kwargs)
    return int(counter.get_total_flops())
