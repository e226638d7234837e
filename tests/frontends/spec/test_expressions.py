"""The spec expression evaluator: attribute access (the way out of a sandbox) is refused
with a located SpecError, and ``//`` on symbols stays a floor division."""

from __future__ import annotations

import pytest
import sympy

from netanatomy import spec
from netanatomy.errors import SpecError
from netanatomy.frontends.spec.expressions import ExpressionError, evaluate, symbol

ESCAPES = ["x.__class__", "().__class__.__bases__", "F.real", "(1).real", "x[0]", "f(1)"]


@pytest.mark.parametrize("text", ESCAPES)
def test_attribute_access_and_calls_are_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="only numbers, names"):
        evaluate(text, {"F": 4, "x": 2})


@pytest.mark.parametrize("text", ESCAPES[:3])
def test_attribute_access_in_a_spec_is_a_located_spec_error(text: str) -> None:
    line = f"  - conv: {{out: '{text}', k: 3}}"
    source = f"input: [3, 8, 8]\nlayers:\n{line}\n"
    with pytest.raises(SpecError) as caught:
        spec.analyze(source)
    error, column = caught.value, line.index("'") + 1              # 1-based, at the value
    assert (error.line, error.column) == (3, column)
    assert str(error).startswith(f"<spec>:3:{column}: ")
    assert text in str(error) and error.layer == "layers[0] (conv)"


@pytest.mark.parametrize(("h", "expected"), [(7, 3), (8, 4), (1, 0), (9, 4)])
def test_floor_division_of_a_symbol_stays_a_floor(h: int, expected: int) -> None:
    half = evaluate("H//2", {})
    assert isinstance(half, sympy.Basic)
    assert half.subs(symbol("H"), h) == expected == h // 2
    assert evaluate("H//2", {"H": h}) == expected
    assert evaluate("(H + 1)//2", {}).subs(symbol("H"), h) == (h + 1) // 2


def test_true_division_is_not_floored() -> None:
    assert evaluate("H/2", {}).subs(symbol("H"), 7) == sympy.Rational(7, 2)
    assert evaluate("7//2", {}) == 3 and isinstance(evaluate("7//2", {}), int)
