"""bn-tiny-batch: with a batch of 2 BN outputs only signs; GroupNorm and InstanceNorm do
not depend on the batch; a batch of 4 is not a batch of 2."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_batch_of_two_outputs_signs(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("bn-tiny-batch")
    assert result.passed
    phi_1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))          # P(x₁ < x₀ = 1), x₁ ~ N(0, 1)
    assert math.isclose(result.data["theory_share_plus"], phi_1, rel_tol=1e-15)
    assert result.data["share_signs"] > 0.85
    curve = result.data["curves"]["BatchNorm1d"]
    assert curve[-1] < curve[0] / 3                           # N = 128 vs N = 2
    assert max(result.data["curves"]["GroupNorm(2, 4)"]) <= 1e-13


def test_group_and_instance_norm_ignore_the_batch(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("bn-tiny-batch")
    assert check(result, "max |GroupNorm(2, 4) output").passed
    assert check(result, "max |InstanceNorm1d(4) output").passed


def test_a_batch_of_four_is_not_signs() -> None:
    result = lab.run("bn-tiny-batch", batch=4)
    assert result.verdict == "fail"
    assert not check(result, "share of features with ||y₀| − 1|").passed
