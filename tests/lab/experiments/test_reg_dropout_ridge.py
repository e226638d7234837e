"""dropout-ridge: MC and exact expectation against the data-dependent ridge closed form."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_dropout_is_a_data_dependent_ridge(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("dropout-ridge")
    assert result.passed, [c for c in result.checks if not c.passed]
    assert math.isclose(result.data["lambda"], 0.3 / 0.7, rel_tol=1e-12)   # p/(1 − p), p = 0.3
    # a positive-definite penalty shrinks the solution: ‖w_ridge‖ < ‖w_OLS‖
    ridge = math.hypot(*result.data["w_ridge"])
    assert ridge < math.hypot(*result.data["w_ols"])
    assert check(result, "MC mean").passed and check(result, "exact E").passed
    assert result.seconds < 10


def test_a_plain_ridge_penalty_does_not_match() -> None:
    result = lab.run("dropout-ridge", penalty="identity")
    assert result.verdict == "fail"
    assert not check(result, "‖w_L-BFGS − w_ridge‖").passed
