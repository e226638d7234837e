"""What kind of number a spec value is: whole, fractional, or symbolic, and what sympy can
prove about a symbolic one's sign.

Sizes and counts are integers. A fractional value is an error unless it comes from a
*multiplier*: an expression (not a lone number or name) with a fractional factor, such as
``32*alpha`` with alpha = 0.3 or ``224*rho``; those round half up to the nearest integer
(MobileNet's width and resolution multipliers, see ``docs/spec-format.md``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from netanatomy.frontends.spec.expressions import ExpressionError, parse


def fraction_of(value: Any) -> Fraction | None:
    """The exact value of a plain or sympy number; ``None`` for anything symbolic, for
    booleans and for infinities and NaN."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value) if math.isfinite(value) else None
    if getattr(value, "is_Rational", False):
        return Fraction(int(value.p), int(value.q))
    if getattr(value, "is_Float", False) and value.is_finite:
        return Fraction(float(value))
    return None


def half_up(value: Fraction) -> int:
    """The nearest integer, halves rounded up: 8.5 → 9 (Python's ``round`` gives 8)."""
    return math.floor(value + Fraction(1, 2))


def is_number(value: Any) -> bool:
    """True for a finite number (int, float, sympy Rational or Float), bool excluded."""
    return fraction_of(value) is not None


def names_in(text: Any) -> list[str]:
    """The names an expression uses, in the order written (none for numbers or bad text)."""
    if not isinstance(text, str):
        return []
    try:
        tree = parse(text)  # bounded (length, depth): netanatomy.frontends.spec.limits
    except ExpressionError:
        return []
    found = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]
    return list(dict.fromkeys(found))


def is_multiplier(text: Any, values: Mapping[str, Any]) -> bool:
    """True when ``text`` is arithmetic (not a lone number or name) with a fractional
    factor: a non-integer literal or a name whose value is a non-integer number."""
    if not isinstance(text, str):
        return False
    try:
        tree = parse(text)  # bounded (length, depth): netanatomy.frontends.spec.limits
    except ExpressionError:
        return False
    while isinstance(tree, ast.UnaryOp):
        tree = tree.operand
    if isinstance(tree, (ast.Name, ast.Constant)):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float) \
                and not node.value.is_integer():
            return True
        if isinstance(node, ast.Name) and node.id in values:
            exact = fraction_of(values[node.id])
            if exact is not None and exact.denominator != 1:
                return True
    return False


def proven_negative(value: Any, allow_zero: bool) -> bool:
    """True when sympy proves a symbolic ``value`` negative (or ≤ 0 when zero is not
    allowed either), symbols being positive integers: ``-F``, ``-2*F``, ``1 - F``. A sign
    it cannot decide (``F - 10``) is not an error here."""
    if not getattr(value, "free_symbols", None):
        return False
    return (value.is_negative if allow_zero else value.is_nonpositive) is True


def proven_at_least(first: Any, second: Any) -> bool:
    """True when ``first >= second`` holds for certain (ints, or sympy can prove it)."""
    exact_first, exact_second = fraction_of(first), fraction_of(second)
    if exact_first is not None and exact_second is not None:
        return exact_first >= exact_second
    import sympy

    return sympy.sympify(first - second).is_nonnegative is True
