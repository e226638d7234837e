"""depthwise-separable-ratio: separable/standard MACs = 1/N + 1/K², exactly."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_ratio_is_one_over_n_plus_one_over_k_squared(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("depthwise-separable-ratio")
    assert result.passed
    # N = 64, K = 3: 1/64 + 1/9 = (9 + 64)/576 (Howard et al. 2017, eq. 5)
    assert check(result, "separable/standard MACs at").measured == str(Fraction(73, 576))
    # N = 1024, K = 7: 1/1024 + 1/49
    assert abs(result.data["ratios"]["7"][-1] - (1 / 1024 + 1 / 49)) < 1e-15
    assert check(result, "separable/standard MACs, symbolic").measured == "(K**2 + N)/(K**2*N)"


def test_a_grouped_instead_of_depthwise_stage_fails() -> None:
    # two input channels per filter: the first stage costs 2·K²·C, the ratio 2/N + 1/K²
    result = lab.run("depthwise-separable-ratio", group_width=2)
    assert result.verdict == "fail"
    assert check(result, "separable/standard MACs at").measured == str(
        Fraction(2, 64) + Fraction(1, 9))
