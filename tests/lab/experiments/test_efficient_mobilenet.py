"""mobilenet-multipliers: MobileNet v1 under α and ρ, against a hand count and Table 6."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check

# MobileNet v1 at α = 1, 224 (Howard et al. 2017, Table 1), counted by hand:
# (input channels, output channels, output size) of the 13 depthwise-separable blocks
BLOCKS = [(32, 64, 112), (64, 128, 56), (128, 128, 56), (128, 256, 28), (256, 256, 28),
          (256, 512, 14), *[(512, 512, 14)] * 5, (512, 1024, 7), (1024, 1024, 7)]
CONV_FC_WEIGHTS = (3 * 9 * 32 + sum(9 * c + c * o for c, o, _ in BLOCKS)
                   + 1024 * 1000 + 1000)                         # first conv, dw + pw, FC
BN = 2 * (32 + sum(c + o for c, o, _ in BLOCKS))                 # γ, β per channel
MACS = (112 * 112 * 27 * 32 + sum(s * s * (9 * c + c * o) for c, o, s in BLOCKS)
        + 1024 * 1000)


def test_the_counts_and_the_papers_figures(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("mobilenet-multipliers")
    assert result.passed
    assert CONV_FC_WEIGHTS == 4_210_088 and MACS == 568_740_352
    assert result.data["params"]["1"] == CONV_FC_WEIGHTS + BN
    assert result.data["macs"]["1@224"] == MACS                  # 569 M in Table 6
    # ρ = 128/224 = 4/7: the convs' MACs scale by 16/49, the FC's 1,024,000 stay
    assert result.data["macs"]["1@128"] == (MACS - 1024 * 1000) * 16 // 49 + 1024 * 1000
    assert check(result, "mult-adds at α=1, 224").passed
    assert check(result, "params at α=0.25, 224").measured == result.data["params"]["0.25"] / 1e6


def test_an_input_size_not_a_multiple_of_32_breaks_rho_squared() -> None:
    # 200 → 100, 50, 25, 13, 7: the 7×7 maps do not shrink by ρ = 200/224
    result = lab.run("mobilenet-multipliers", resolutions=(224, 200))
    assert result.verdict == "fail"
    assert [c.quantity for c in result.checks if not c.passed] == [
        "largest |(MACs − FC) − ρ²·(MACs₂₂₄ − FC)| over the grid"]


def test_a_width_that_rounds_breaks_alpha_squared() -> None:
    # α = 0.3: 32·0.3 = 9.6 channels rounds to 10, so the 1×1 weights are not 0.09·P(1)
    result = lab.run("mobilenet-multipliers", alphas=(1.0, 0.3))
    assert result.verdict == "fail"
    assert not check(result, "pointwise params").passed
