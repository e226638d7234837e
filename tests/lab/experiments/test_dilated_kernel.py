"""dilated-kernel-kronecker: crop(K ⊗ S) is torch's dilated kernel, and an uncropped
product has the wrong size."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_cropped_product_is_the_dilated_kernel(lab_default: Callable[[str], LabResult]
                                                   ) -> None:
    result = lab_default("dilated-kernel-kronecker")
    assert result.passed
    assert check(result, "size of crop").measured == ((3 - 1) * 2 + 1,) * 2   # (F−1)D + 1
    assert result.data["torch_effective_size"] == 5
    assert result.data["selector"] == [[1, 0], [0, 0]]
    assert result.data["kernel"][1] == ["0"] * 5          # a row of holes between taps


def test_an_uncropped_product_is_one_row_and_column_too_big() -> None:
    result = lab.run("dilated-kernel-kronecker", crop=False)
    assert result.verdict == "fail"
    assert [c.quantity for c in result.checks if not c.passed] == [
        "size of K ⊗ S (not cropped)"]
    assert lab.run("dilated-kernel-kronecker", kernel=2, dilation=3, size=6).passed
