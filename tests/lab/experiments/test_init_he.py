"""he-init-variance: the course's conv (8×8 kernel, 3 channels) and a ReLU stack."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_he_std_of_the_course_conv(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("he-init-variance")
    assert result.passed
    assert check(result, "fan_in of a 8×8 conv").expected == 3 * 8 * 8      # C_in·k·k
    he = check(result, "std of kaiming_normal_")
    assert math.isclose(he.expected, math.sqrt(2 / (3 * 8 * 8)), rel_tol=1e-15)  # He: 2/fan_in
    assert math.isclose(result.data["he_variance"], 2 / 192, rel_tol=1e-15)
    default = check(result, "std of torch's default conv init")
    assert math.isclose(default.expected, 1 / math.sqrt(3 * 192), rel_tol=1e-15)  # U(±1/√192)


def test_he_keeps_the_second_moment(lab_default: Callable[[str], LabResult]) -> None:
    kept = check(lab_default("he-init-variance"), "q_30 / q_1 at gain")
    assert kept.expected == 1.0 and abs(kept.measured - 1) < 0.5


def test_gain_one_halves_it_per_layer_and_fails() -> None:
    result = lab.run("he-init-variance", gain=1.0)
    assert result.verdict == "fail"
    assert not check(result, "q_30 / q_1 at gain").passed
    theory = check(result, "q_30 / q_1 against")
    assert theory.passed and math.isclose(theory.expected, 0.5 ** 29, rel_tol=1e-12)
