"""rf-vs-erf: RF = 2L + 1, ERF std = √(Σ σ_l²) ∝ √L."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_erf_grows_like_root_depth(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("rf-vs-erf")
    assert result.passed
    rows = result.data["rows"]
    assert [r["rf_analyze"] for r in rows] == [2 * L + 1 for L in (1, 2, 4, 8, 16, 32)]
    assert rows[-1]["erf_window"] < rows[-1]["rf_analyze"]
    assert check(result, "max relative error of ERF std").measured <= 1e-9


def test_uniform_kernels_give_luos_closed_form() -> None:
    result = lab.run("rf-vs-erf", weights="uniform", depths="1,4,16")
    assert result.passed
    for row in result.data["rows"]:
        # taps 1/9: each row offset uniform on 3 values, variance 2/3 per layer (Luo 2016)
        assert math.isclose(row["erf_std"], math.sqrt(2 * row["depth"] / 3), rel_tol=1e-9)


def test_signed_weights_break_the_variance_law() -> None:
    result = lab.run("rf-vs-erf", weights="signed")
    assert result.verdict == "fail"
    assert not check(result, "max relative error of ERF std").passed
