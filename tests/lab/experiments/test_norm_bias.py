"""bias-before-bn: the bias before BN (or InstanceNorm) gets zero gradient and does not
change the output; GroupNorm and no norm let it learn."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_bias_before_batch_norm_is_dead(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("bias-before-bn")
    assert result.passed
    assert max(abs(v) for v in result.data["batch"]) <= 1e-13
    assert len(result.data["batch"]) == 6                       # one bias per channel
    # GroupNorm(2) over 6 channels subtracts each group's mean: the bias gradient's sum
    # over the 3 channels of each group cancels, its entries do not.
    assert max(abs(v) for v in result.data["group_sums"]) <= 1e-13
    assert max(abs(v) for v in result.data["group"]) > 1e-4


def test_instance_norm_also_removes_the_bias() -> None:
    assert lab.run("bias-before-bn", norm="instance").verdict == "pass"


@pytest.mark.parametrize("norm", ["none", "group"])
def test_without_a_per_channel_mean_the_bias_learns(norm: str) -> None:
    result = lab.run("bias-before-bn", norm=norm)
    assert result.verdict == "fail"
    assert not check(result, "max |∂L/∂b|").passed
