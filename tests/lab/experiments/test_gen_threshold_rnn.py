"""threshold-rnn-logic: exact on every input pair of length 1…8 under 1[z ≥ 1]; under
1[z > 0] it outputs 1 for ever and gets every disagreeing pair wrong."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check

LENGTHS = range(1, 9)


def test_the_design_is_exact(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("threshold-rnn-logic")
    assert result.passed
    assert result.data["sequences"] == [4 ** n for n in LENGTHS]
    # under gt0 only the 2ⁿ always-agreeing pairs of length n are right
    assert result.data["wrong_other_convention"] == [4 ** n - 2 ** n for n in LENGTHS]


def test_the_other_step_convention_fails() -> None:
    result = lab.run("threshold-rnn-logic", step="gt0")
    assert result.verdict == "fail"
    assert check(result, "wrong sequences").measured == sum(4 ** n - 2 ** n for n in LENGTHS)
    assert not check(result, "p = AND").passed
    assert check(result, "q = AND").passed          # integer votes: both conventions agree
