"""Numbers and symbolic expressions in specs (``64``, ``F``, ``2*F``, ``D*K**2 + 1``).

Expressions are parsed with Python's ``ast`` and only arithmetic on numbers and names is
accepted, so a spec can never run code. Names become sympy symbols (positive integers),
unless a value is given for them.

Every expression is bounded (see :mod:`.limits`): its length, how deep it nests, the
exponent of ``**`` (checked before the power is computed) and the size of every number it
computes, intermediate results included; a division by zero, an infinity or a NaN is an
error. All of these raise :class:`ExpressionError`, which the callers locate.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import sympy

from netanatomy.frontends.spec import limits


def floor_divide(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    return sympy.floor(sympy.sympify(a) / b)


BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: floor_divide, ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
DIVISIONS = (ast.Div, ast.FloorDiv, ast.Mod)
NOT_FINITE = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I)


class ExpressionError(ValueError):
    """An expression uses something other than numbers, names and + - * / // ** %, or it
    passes one of the limits of :mod:`.limits`."""


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol for a spec name: a positive integer."""
    return sympy.Symbol(name, positive=True, integer=True)


def shown(text: Any) -> str:
    """``text`` quoted for a message, shortened when long."""
    text = str(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def evaluate(text: Any, values: Mapping[str, Any]) -> Any:
    """The value of a number or expression: an int (or float) when everything is known,
    else a simplified sympy expression. ``values`` maps names to numbers or expressions.

    Raises:
        ExpressionError: not arithmetic, syntactically invalid, a division by zero, a
            non-finite or too large number, or past a limit of :mod:`.limits`.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"expected a number or expression, found {text!r}")
    if isinstance(text, (int, float)):
        return checked(normalise(checked(text, text)), text)
    if isinstance(text, sympy.Basic):  # a value already evaluated (a symbol's)
        return checked(normalise(checked(text, text)), text)
    if not isinstance(text, str):
        raise ExpressionError(f"expected a number or expression, found {text!r}")
    tree = parse(text)
    try:
        return checked(normalise(checked(walk(tree, values, text), text)), text)
    except (ArithmeticError, ValueError, TypeError) as error:
        if isinstance(error, ExpressionError):
            raise
        raise ExpressionError(f"{shown(text)} cannot be computed: {error}") from None


def parse(text: str) -> ast.expr:
    """The syntax tree of an expression, within :data:`~.limits.MAX_EXPRESSION_CHARS` and
    :data:`~.limits.MAX_EXPRESSION_DEPTH`.

    Raises:
        ExpressionError: too long, too deep, or not a valid expression.
    """
    text = text.strip()
    if len(text) > limits.MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression {shown(text)} has {len(text)} characters, more "
                              f"than MAX_EXPRESSION_CHARS = {limits.MAX_EXPRESSION_CHARS} "
                              "(netanatomy.frontends.spec.limits)")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"{shown(text)} is not a valid expression") from None
    if depth(tree) > limits.MAX_EXPRESSION_DEPTH:
        raise ExpressionError(f"expression {shown(text)} nests more than "
                              f"MAX_EXPRESSION_DEPTH = {limits.MAX_EXPRESSION_DEPTH} "
                              "operations deep (netanatomy.frontends.spec.limits)")
    return tree


def depth(tree: ast.AST) -> int:
    """How deep the nodes of ``tree`` nest (counted without recursion)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def walk(node: ast.AST, values: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return checked(node.value, text)
    if isinstance(node, ast.Name):
        return values[node.id] if node.id in values else symbol(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = walk(node.operand, values, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = walk(node.left, values, text), walk(node.right, values, text)
        if isinstance(node.op, DIVISIONS) and is_zero(right):
            raise ExpressionError(f"{shown(text)} divides by zero")
        if isinstance(node.op, ast.Pow):
            check_exponent(right, text)
        return checked(BINARY[type(node.op)](left, right), text)
    raise ExpressionError(f"{shown(text)}: only numbers, names and + - * / // ** % are "
                          "allowed")


def is_zero(value: Any) -> bool:
    if isinstance(value, sympy.Basic):
        return value.is_zero is True
    return bool(value == 0)


def check_exponent(exponent: Any, text: str) -> None:
    """A known exponent larger than MAX_EXPONENT is an error before the power is taken."""
    if isinstance(exponent, sympy.Basic):
        if not exponent.is_number:
            return
        exponent = int(exponent) if exponent.is_Integer else float(exponent)
    if not abs(exponent) <= limits.MAX_EXPONENT:
        raise ExpressionError(f"{shown(text)}: the exponent {exponent} is larger than "
                              f"MAX_EXPONENT = {limits.MAX_EXPONENT} "
                              "(netanatomy.frontends.spec.limits)")


def checked(value: Any, text: Any) -> Any:
    """``value`` if it is a finite real number (or expression) whose numbers all have at
    most MAX_NUMBER_DIGITS digits.

    Raises:
        ExpressionError: infinite, NaN, complex, or too large.
    """
    if isinstance(value, complex):
        raise ExpressionError(f"{shown(text)} is not a real number")
    if isinstance(value, sympy.Basic):
        if value.has(*NOT_FINITE):
            raise ExpressionError(f"{shown(text)} is not a finite real number")
        for power in value.atoms(sympy.Pow):
            check_exponent(power.exp, text)
        numbers = [number for atom in value.atoms(sympy.Number)
                   for number in ((atom.p, atom.q) if atom.is_Rational else (atom,))]
    else:
        numbers = [value]
    for number in numbers:
        if isinstance(number, float) or getattr(number, "is_Float", False):
            if not math.isfinite(float(number)):
                raise ExpressionError(f"{shown(text)} is not a finite number ({number})")
        if abs(number) >= 10 ** limits.MAX_NUMBER_DIGITS:
            raise ExpressionError(f"{shown(text)} computes a number of more than "
                                  f"MAX_NUMBER_DIGITS = {limits.MAX_NUMBER_DIGITS} digits "
                                  "(netanatomy.frontends.spec.limits)")
    return value


def normalise(value: Any) -> Any:
    """Whole numbers become ints; sympy numbers become Python numbers; others simplified
    (when :func:`small` enough for sympy to do so quickly)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, sympy.Basic):
        value = sympy.simplify(value) if small(value) else value
        if value.is_Integer:
            return int(value)
        if value.is_Rational and value.q != 1:
            return value
        if value.is_Number:
            return float(value)
    return value


def small(value: sympy.Basic) -> bool:
    """True when ``sympy.simplify`` is quick on ``value``: at most MAX_SIMPLIFY_NODES nodes,
    powers only of a name or number, or 1/(...) at most twice. (simplify takes seconds on
    ``(F/(G+1) + H/(F+2) + G/(H+3))**4``; such expressions are kept as written.)"""
    denominators = 0
    for count, node in enumerate(sympy.preorder_traversal(value), start=1):
        if count > limits.MAX_SIMPLIFY_NODES:
            return False
        if node.is_Pow and not node.base.is_Atom:
            denominators += 1
            if node.exp != -1 or denominators > 2:
                return False
    return True
