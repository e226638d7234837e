"""pooling-matrices: 2×2 average pooling has quarters, max-pool backward is Sᵀ·g, and
routing to the window's top-left fails."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_two_by_two_pooling_matrices(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("pooling-matrices")
    assert result.passed
    assert check(result, "nonzeros in each row of P").measured == (2 * 2,)   # r²
    assert check(result, "the nonzero entries of P").measured == ("1/4",)    # 1/r²
    # each switch sits at its window's maximum of the seeded input
    x = result.data["input"]
    for row, column in enumerate(result.data["switch_columns"]):
        i, j = divmod(row, 2)
        window = [4 * (2 * i + a) + 2 * j + b for a in (0, 1) for b in (0, 1)]
        assert column == max(window, key=lambda k: x[k])


def test_routing_to_the_top_left_is_not_max_pool_backward() -> None:
    result = lab.run("pooling-matrices", route="first")
    assert result.verdict == "fail"
    assert not check(result, "max |Sᵀ·g − autograd of max_pool2d|").passed
