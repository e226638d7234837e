"""Numbers and symbolic expressions in specs (``64``, ``F``, ``2*F``, ``D*K**2 + 1``).

Expressions are parsed with Python's ``ast`` and only arithmetic on numbers and names is
accepted, so a spec can never run code. Names become sympy symbols (positive integers),
unless a value is given for them.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import sympy

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: lambda a, b: sympy.floor(sympy.sympify(a) / b)
    if not (isinstance(a, int) and isinstance(b, int)) else a // b,
    ast.Pow: operator.pow, ast.Mod: operator.mod,
}


class ExpressionError(ValueError):
    """An expression uses something other than numbers, names and + - * / // ** %."""


def symbol(name: str) -> sympy.Symbol:
    """The sympy symbol for a spec name: a positive integer."""
    return sympy.Symbol(name, positive=True, integer=True)


def evaluate(text: Any, values: Mapping[str, Any]) -> Any:
    """The value of a number or expression: an int (or float) when everything is known,
    else a simplified sympy expression. ``values`` maps names to numbers or expressions.

    Raises:
        ExpressionError: not arithmetic, or syntactically invalid.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"expected a number or expression, found {text!r}")
    if isinstance(text, (int, float)):
        return text
    if not isinstance(text, str):
        raise ExpressionError(f"expected a number or expression, found {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError(f"{text!r} is not a valid expression") from None
    return normalise(walk(tree.body, values, text))


def walk(node: ast.AST, values: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id] if node.id in values else symbol(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = walk(node.operand, values, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return BINARY[type(node.op)](walk(node.left, values, text),
                                     walk(node.right, values, text))
    raise ExpressionError(f"{text!r}: only numbers, names and + - * / // ** % are allowed")


def normalise(value: Any) -> Any:
    """Whole numbers become ints; sympy numbers become Python numbers; others simplified."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, sympy.Basic):
        value = sympy.simplify(value)
        if value.is_Integer:
            return int(value)
        if value.is_Rational and value.q != 1:
            return value
        if value.is_Number:
            return float(value)
    return value
