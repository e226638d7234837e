"""vae-kl: closed-form KL vs Monte Carlo, reparameterisation gradients; detached fails."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_kl_and_gradients_hold(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("vae-kl")
    assert result.passed
    # ½(μ² + σ² − 1 − log σ²) at μ = 2, σ = 0.5: ½(4 + 0.25 − 1 + 2 log 2)
    kl = check(result, "KL, μ=2, σ=0.5")
    assert math.isclose(kl.expected, 0.5 * (4 + 0.25 - 1 + 2 * math.log(2)), rel_tol=1e-12)
    assert check(result, "KL, μ=0, σ=1").measured == 0.0          # q = p: every term is 0
    assert check(result, "∂E[z²]/∂μ at μ=2").expected == 4.0       # E[z²] = μ² + σ²
    assert check(result, "∂E[z²]/∂σ at μ=2").expected == 4.0
    assert result.seconds < 10


def test_without_reparameterisation_the_gradient_check_fails() -> None:
    result = lab.run("vae-kl", sample="detached")
    assert result.verdict == "fail"
    assert not check(result, "∂E[z²]/∂μ at μ=1").passed            # gradient 0, not 2μ
    assert all(c.passed for c in result.checks if c.quantity.startswith("KL"))
