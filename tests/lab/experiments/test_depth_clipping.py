"""gradient-clipping: by norm keeps the direction, by value does not."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_clipping_by_norm_keeps_the_direction(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("gradient-clipping")
    assert result.passed
    assert math.isclose(result.data["max_norm"], result.data["total_norm"] / 4, rel_tol=1e-15)
    assert math.isclose(result.data["clipped_norm"], result.data["max_norm"], rel_tol=1e-5)


def test_clipping_by_value_turns_the_gradient() -> None:
    result = lab.run("gradient-clipping", method="value")
    assert result.verdict == "fail"
    cosine = check(result, "clip by value: cosine")
    assert not cosine.passed and cosine.measured < 0.99
    assert check(result, "clip by value: ‖clipped‖").passed     # same norm, other direction
