"""avgpool-backward (1/r² per window) and maxpool-backward (the switches) against
autograd, and the runs that break their premises."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_two_by_two_average_pool_gives_each_input_a_quarter(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("avgpool-backward")
    assert result.passed
    assert result.data["share_min"] == result.data["share_max"] == 1 / 2**2   # 1/r², r = 2
    assert check(result, "max |∂L/∂X autograd").measured == 0.0   # /4 is exact in binary


def test_overlapping_windows_sum_their_shares() -> None:
    assert lab.run("avgpool-backward", kernel=3, stride=2, size=9).verdict == "pass"


def test_padding_not_counted_in_the_divisor_breaks_one_over_r_squared() -> None:
    # count_include_pad=False divides a corner window by its 1 real input, not by r² = 4
    result = lab.run("avgpool-backward", padding=1, count_include_pad=False)
    assert result.verdict == "fail"
    assert check(result, "largest share").measured == 1.0


def test_max_pool_routes_each_window_to_one_switch(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("maxpool-backward")
    assert result.passed
    assert result.data["windows"] == 2 * 3 * (8 // 2) ** 2          # N·C·(8/2)²
    assert check(result, "inputs with nonzero gradient").measured == 96


def test_ties_go_whole_to_the_first_maximum() -> None:
    result = lab.run("maxpool-backward", levels=3)
    assert result.verdict == "pass" and result.data["windows_with_ties"] > 0


def test_splitting_tied_gradients_is_not_what_autograd_does() -> None:
    result = lab.run("maxpool-backward", levels=3, tie_rule="split")
    assert result.verdict == "fail"
    assert not check(result, "max |∂L/∂X autograd").passed
