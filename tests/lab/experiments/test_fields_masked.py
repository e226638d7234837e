"""masked-conv-blind-spot: causal support with the upper-right blind spot."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_stack_is_causal_with_a_blind_spot(lab_default: Callable[[str], LabResult]
                                              ) -> None:
    result = lab_default("masked-conv-blind-spot")
    assert result.passed
    # A + 3 B, 3×3: row −j (j = 1, 2, 3) reaches dx ≤ j of the field's dx ≤ 4, so the
    # blind spot has (4 − 1) + (4 − 2) + (4 − 3) = 6 pixels.
    assert result.data["blind_spot"] == 3 + 2 + 1
    # raster-earlier pixels in the 9 × 9 field: 4 rows of 9 above, 4 to the left
    assert result.data["raster_earlier_in_field"] == 4 * 9 + 4
    assert check(result, "netanatomy rf size").measured == (9, 9)   # 1 + 4·(3 − 1)


def test_unmasked_convs_see_the_future() -> None:
    result = lab.run("masked-conv-blind-spot", mask="none")
    assert result.verdict == "fail"
    assert not check(result, "pixels seen that are not raster-earlier").passed
