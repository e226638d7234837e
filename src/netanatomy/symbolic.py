"""Arithmetic helpers that accept plain ints and sympy expressions alike.

Op rules are written once with these helpers, so the same formula returns ``1792`` for
ints and ``F*(D*K**2) + F`` for sympy symbols. sympy is imported only when a symbol is
actually seen, so the torch path never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

Dim = Union[int, Any]  # an int, or a sympy expression
"""A size or count: an ``int`` for concrete models, a sympy expression for symbolic specs."""


def is_concrete(value: Any) -> bool:
    """True when ``value`` is a plain integer (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)


def prod(values: Iterable[Dim]) -> Dim:
    """Product of ``values`` (1 for none); works on ints and sympy expressions."""
    result: Dim = 1
    for value in values:
        result = result * value
    return result


def floordiv(numerator: Dim, denominator: Dim) -> Dim:
    """floor(numerator / denominator) for ints or sympy expressions."""
    if is_concrete(numerator) and is_concrete(denominator):
        return numerator // denominator
    import sympy

    return sympy.floor(sympy.sympify(numerator) / denominator)


def ceildiv(numerator: Dim, denominator: Dim) -> Dim:
    """ceil(numerator / denominator) for ints or sympy expressions."""
    if is_concrete(numerator) and is_concrete(denominator):
        return -(-numerator // denominator)
    import sympy

    return sympy.ceiling(sympy.sympify(numerator) / denominator)


def maximum(first: Dim, second: Dim) -> Dim:
    """max(first, second) for ints or sympy expressions."""
    if is_concrete(first) and is_concrete(second):
        return max(first, second)
    import sympy

    return sympy.Max(first, second)


def to_fraction(numerator: Dim, denominator: Dim) -> Any:
    """numerator / denominator exactly: an int when it divides, else a Fraction (ints) or a
    sympy Rational expression (symbols)."""
    if is_concrete(numerator) and is_concrete(denominator):
        from fractions import Fraction

        value = Fraction(numerator, denominator)
        return int(value) if value.denominator == 1 else value
    import sympy

    return sympy.sympify(numerator) / denominator


def simplest(value: Any) -> Any:
    """A Fraction or sympy number that is whole becomes an int; anything else is returned."""
    denominator = getattr(value, "denominator", None)
    if denominator is not None and not callable(denominator) and denominator == 1:
        return int(value)
    if getattr(value, "is_Integer", False):
        return int(value)
    return value


def total(values: Iterable[Dim]) -> Dim:
    """Σ ``values``: ints added as ints, symbolic terms combined by one sympy ``Add`` (adding
    expressions one at a time re-sorts the growing sum each time, quadratic in the terms)."""
    whole = 0
    terms = []
    for value in values:
        if is_concrete(value):
            whole += value
        else:
            terms.append(value)
    if not terms:
        return whole
    import sympy

    return sympy.Add(whole, *terms)
