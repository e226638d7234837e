"""weight-scaling: exact for a linear layer, a Jensen gap after a nonlinearity."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_weight_scaling_is_exact_for_linear_only(lab_default: Callable[[str], LabResult]
                                                 ) -> None:
    result = lab_default("weight-scaling")
    assert result.passed
    exact = result.data["claimed exact"]
    assert abs(exact["exact_expectation"] - exact["test_time"]) <= 1e-12 * (1 + abs(
        exact["test_time"]))
    gap = check(result, "sigmoid: |exact E − test-time output|")
    assert gap.measured > gap.expected            # the gap exceeds 5 MC standard errors


def test_the_square_gap_has_its_closed_form() -> None:
    result = lab.run("weight-scaling", nonlinear="square")
    assert result.passed
    # E[z²] − (E z)² = Var z = (p/q)·Σ w_j² x_j² with p/q = 1 at p = 0.5
    assert check(result, "square: E[z²] − (E z)²").passed
    assert math.isclose(check(result, "square: E[z²] − (E z)²").expected,
                        result.data["contrast"]["exact_expectation"]
                        - result.data["contrast"]["test_time"], rel_tol=1e-10)


def test_a_relu_after_the_layer_breaks_exactness() -> None:
    result = lab.run("weight-scaling", activation_name="relu")
    assert result.verdict == "fail"
    assert not check(result, "relu: exact E over 2^d masks").passed
