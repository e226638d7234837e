"""gaussian-vs-bernoulli-dropout: both factors have mean 1 and variance p/(1 − p)."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_gaussian_and_bernoulli_share_two_moments(lab_default: Callable[[str], LabResult]
                                                  ) -> None:
    result = lab_default("gaussian-vs-bernoulli-dropout")
    assert result.passed
    assert math.isclose(check(result, "Gaussian factor variance").expected, 0.25 / 0.75,
                        rel_tol=1e-12)                   # p/(1 − p) at p = 0.25 (drop)
    assert check(result, "Bernoulli factor values").expected == [0.0, round(1 / 0.75, 12)]


def test_reading_p_as_the_keep_probability_breaks_the_match() -> None:
    result = lab.run("gaussian-vs-bernoulli-dropout", p_gaussian_as="keep")
    assert result.verdict == "fail"
    assert not check(result, "Gaussian factor variance").passed   # (1 − p)/p = 3, not 1/3
