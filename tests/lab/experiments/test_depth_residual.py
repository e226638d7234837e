"""residual-vs-plain: the plain tanh stack loses the gradient, the residual one keeps it."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_residual_keeps_what_plain_loses(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("residual-vs-plain")
    assert result.passed
    assert result.data["residual_gradient"] >= 1.0
    # mean field at torch's default init: n·Var(w) = n·(1/√n)²/3 = 1/3, tanh' ≤ 1, so the
    # plain gradient is at most about 3^(−50/2) = 1.2e-12 (× e^4.4 for its spread)
    assert result.data["plain_gradient"] < 3 ** -25 * math.exp(5 * math.sqrt(50 / 64))


def test_a_plain_stack_in_the_residual_arm_fails() -> None:
    result = lab.run("residual-vs-plain", residual=False)
    assert result.verdict == "fail"
    assert not check(result, "plain (residual=False): ‖∂(u·y)/∂x‖ after 50").passed
