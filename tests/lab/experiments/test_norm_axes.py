"""bn-per-channel: BatchNorm2d's statistics are per channel over (N, H, W), biased;
BatchNorm1d's per neuron over N; other axes or the unbiased variance fail."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_statistics_are_per_channel_and_biased(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("bn-per-channel")
    assert result.passed
    assert len(result.data["channel_means"]) == 4
    for measured, theory in zip(result.data["channel_vars"], result.data["theory_vars"],
                                strict=True):
        assert math.isclose(measured, theory, rel_tol=1e-12)
    v = min(result.data["hand_var_1d"])                       # v/(v+ε) < 1 for ε = 1e-5
    assert min(result.data["theory_vars"]) < 1 and v / (v + 1e-5) < 1
    assert result.data["max_per_sample_mean"] > 0.05          # not normalised per sample


@pytest.mark.parametrize("params", [{"hand_axes": "HW"}, {"hand_axes": "CHW"},
                                    {"unbiased": True}],
                         ids=["instance-axes", "layer-axes", "unbiased"])
def test_the_wrong_axes_or_variance_fail(params: dict[str, object]) -> None:
    result = lab.run("bn-per-channel", **params)
    assert result.verdict == "fail"
    assert not check(result, "max |BatchNorm2d − by hand").passed
