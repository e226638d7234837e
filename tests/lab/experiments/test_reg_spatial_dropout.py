"""spatial-dropout: Dropout2d drops whole maps, element dropout does not."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_dropout2d_zeroes_whole_maps(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("spatial-dropout")
    assert result.passed
    assert result.data["maps"] == 64 * 32
    dropped = check(result, "fraction of maps dropped")
    assert math.isclose(dropped.atol, 5 * math.sqrt(0.3 * 0.7 / 2048), rel_tol=1e-12)
    assert result.data["mixed_maps_element"] > 2000      # almost every map is mixed


def test_element_dropout_in_place_of_spatial_fails() -> None:
    result = lab.run("spatial-dropout", dropout="element")
    assert result.verdict == "fail"
    assert not check(result, "maps neither all-zero nor all-scaled").passed
