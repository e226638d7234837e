"""batchnorm-backward: the training-mode closed form against autograd; dropping the paths
through the batch statistics fails."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from netanatomy import lab
from netanatomy.lab.base import LabResult
from netanatomy.lab.experiments.backprop_batchnorm import closed_form
from tests.lab.helpers import check


def test_closed_form_matches_autograd(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("batchnorm-backward")
    assert result.passed
    assert check(result, "max |∂L/∂x autograd").measured <= 1e-13
    assert result.data["frozen_statistics_error"] > 0.1


def test_closed_form_on_a_batch_of_two_by_hand() -> None:
    # x = (0, 2): μ = 1, v = 1, σ = √(1+ε), x̂ = ∓1/σ; dy = (1, 0): Σdy = 1, Σdy·x̂ = −1/σ.
    # dx₀ = ½·γ/σ·(2 − 1 − x̂₀·(−1/σ)) = ½·γ/σ·(1 − 1/σ²) = ½·γ/σ·ε/(1+ε); dγ = −1/σ; dβ = 1.
    eps, gamma = 1e-5, 3.0
    x = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    dy = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    dx, dgamma, dbeta = closed_form(x, dy, torch.tensor([gamma], dtype=torch.float64), eps)
    sigma = math.sqrt(1 + eps)
    assert math.isclose(float(dx[0, 0]), 0.5 * gamma / sigma * eps / (1 + eps), rel_tol=1e-9)
    assert math.isclose(float(dgamma[0]), -1 / sigma, rel_tol=1e-12)
    assert float(dbeta[0]) == 1.0


def test_treating_the_statistics_as_constants_fails() -> None:
    result = lab.run("batchnorm-backward", through_statistics=False)
    assert result.verdict == "fail"
    assert not check(result, "max |∂L/∂x autograd").passed
    assert check(result, "max |∂L/∂γ").passed
