"""spectral-norm-decay: σ_max = 0.9 over 100 layers, the bound 0.9^100."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_course_bound(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("spectral-norm-decay")
    assert result.passed
    assert math.isclose(result.data["bound"], 0.9 ** 100, rel_tol=1e-15)   # course setting
    assert math.isclose(result.data["bound"], 2.6561398887587e-05, rel_tol=1e-12)
    attained = check(result, "s × orthogonal: ‖∂y/∂x‖ after 100 layers = s^L")
    assert math.isclose(attained.measured, 0.9 ** 100, rel_tol=1e-12)
    assert check(result, "random weights").measured < 0.9 ** 100


def test_a_spectral_norm_above_one_does_not_decay() -> None:
    result = lab.run("spectral-norm-decay", sigma=1.1)
    assert result.verdict == "fail"
    assert not check(result, "s × orthogonal: ‖∂y/∂x‖ after 100 layers (decays)").passed
