"""bn-scale-invariance: train-mode BN absorbs α up to an O(ε) deviation; eval mode with
running statistics does not."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from netanatomy import lab
from netanatomy.lab.base import LabResult
from netanatomy.lab.experiments.norm_scale import deviation_theory
from tests.lab.helpers import check


def test_train_mode_deviation_is_the_epsilon_term(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("bn-scale-invariance")
    assert result.passed
    deviation = check(result, "max |BN(αWx+b) − BN(Wx+b)|, α = 2")
    assert 0 < deviation.measured < 1e-4                      # O(ε), ε = 1e-5
    assert check(result, "max |BN(αWx+b) − BN(Wx+b)| as ε → 0").measured <= 1e-13


def test_deviation_closed_form_by_hand() -> None:
    # One channel holding ±1: μ = 0, v = 1, ẑ = ±1, so the deviation is
    # |α/√(α² + ε) − 1/√(1 + ε)| = 1/√(1 + ε/α²) − 1/√(1 + ε) ≈ (ε/2)(1 − 1/α²).
    z = torch.tensor([-1.0, 1.0], dtype=torch.float64).view(2, 1, 1, 1)
    alpha, eps = 2.0, 1e-5
    hand = 1 / math.sqrt(1 + eps / alpha**2) - 1 / math.sqrt(1 + eps)
    assert math.isclose(deviation_theory(z, alpha, eps), hand, rel_tol=1e-9)
    assert math.isclose(hand, eps / 2 * (1 - 1 / alpha**2), rel_tol=1e-4)


def test_running_statistics_are_not_scale_invariant() -> None:
    result = lab.run("bn-scale-invariance", mode="eval")
    assert result.verdict == "fail"
    assert check(result, "max |BN(αWx+b) − BN(Wx+b)|, α = 2").measured > 0.5
