"""sigmoid-saturation: σ' ≤ 1/4 against autograd, and the check fails off its premise."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_derivative_peaks_at_a_quarter(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("sigmoid-saturation")
    assert result.passed
    assert check(result, "max σ'(z)").measured == 0.25           # σ(0)(1 − σ(0)) = ½·½
    edge = check(result, "max σ'(z) for |z| ≥ 5")
    assert math.isclose(edge.expected, math.exp(-5) / (1 + math.exp(-5)) ** 2, rel_tol=1e-12)


def test_a_saturation_edge_inside_the_range_of_z_fails() -> None:
    # |z| ≥ 0.1 over z ∈ [−0.05, 0.05] selects nothing: no measurement, no pass
    assert lab.run("sigmoid-saturation", saturated_at=0.1, limit=0.05).verdict == "fail"
