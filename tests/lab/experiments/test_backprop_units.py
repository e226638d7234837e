"""sigmoid-unit-gradient (ŷ(1−ŷ)·w) and residual-jacobian (I + ∂F/∂x) against autograd,
and the runs that break their premises."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_sigmoid_unit_gradient_is_y_one_minus_y_times_w(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("sigmoid-unit-gradient")
    assert result.passed
    assert math.isclose(result.data["slope_at_z0"], 0.5 * 0.5, rel_tol=1e-12)  # σ(0)(1−σ(0))
    assert check(result, "max |∂L_CE/∂x").measured <= 1e-12


def test_tanh_is_not_a_sigmoid() -> None:
    result = lab.run("sigmoid-unit-gradient", activation="tanh")
    assert result.verdict == "fail"
    assert not check(result, "max |∂ŷ/∂x").passed
    assert math.isclose(result.data["slope_at_z0"], 1.0, rel_tol=1e-12)   # tanh'(0) = 1


def test_residual_jacobian_is_identity_plus_branch(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("residual-jacobian")
    assert result.passed
    singular = result.data["singular_values_J"]
    assert len(singular) == 6                                  # width 6: a 6×6 Jacobian
    assert min(singular) > min(result.data["singular_values_JF"])


def test_without_the_shortcut_the_identity_is_missing() -> None:
    result = lab.run("residual-jacobian", shortcut=0.0)
    assert result.verdict == "fail"
    assert math.isclose(check(result, "max |J autograd − (I + J_F").measured, 1.0,
                        rel_tol=1e-12)                         # exactly the missing I
    assert check(result, "max |J_F autograd").passed
