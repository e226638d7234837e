"""dilated-gridding: the course stack's field is 15 and hole-free; 3×3 at dilation 2 grids."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_course_stack_field_and_gridding_holes(lab_default: Callable[[str], LabResult]
                                              ) -> None:
    result = lab_default("dilated-gridding")
    assert result.passed
    # w = 3, d = 2: kernels 2, 3, 4 with dilations 1, 2, 3: 1 + 1·1 + 2·2 + 3·3
    assert result.data["course_field"] == 1 + 1 * 1 + 2 * 2 + 3 * 3 == 15
    assert check(result, "course stack: measure_receptive_field size").measured == (15, 15)
    assert result.data["course_holes"] == 0
    # 3×3 with dilations 2, 2, 2: field 1 + 3·2·2 = 13, reachable offsets 0, 2, …, 12
    # (7 per axis), so 13² − 7² holes
    assert result.data["gridding_field"] == 13
    assert result.data["gridding_holes"] == 13**2 - 7**2


def test_a_stack_without_gridding_fails_the_holes_claim() -> None:
    result = lab.run("dilated-gridding", gridding_dilations="1,2,4")
    assert result.verdict == "fail"
    assert not check(result, "gridding stack: holes").passed
