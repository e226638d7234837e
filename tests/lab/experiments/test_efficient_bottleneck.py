"""inception-bottleneck: inception (3a) naive vs with 1×1 reductions, against hand counts."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab, spec
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check

HW = 28 * 28  # inception (3a) works on a 28×28 grid (Szegedy et al. 2015, Table 1)


def test_the_reductions_match_the_hand_counts(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("inception-bottleneck")
    assert result.passed
    naive_5x5 = HW * 192 * 32 * 25                     # 5×5 conv 192 → 32: 120,422,400
    reduced_5x5 = HW * (192 * 16 + 16 * 32 * 25)       # 1×1 192 → 16, then 5×5 16 → 32
    assert naive_5x5 == 120_422_400 and reduced_5x5 == 12_443_648
    assert check(result, "naive MACs per branch").measured[2] == naive_5x5
    assert check(result, "reduced MACs per branch").measured[2] == reduced_5x5
    assert check(result, "5×5 branch MACs naive/reduced").measured == "300/31"  # 153600/15872
    assert result.data["naive_total_macs"] == HW * 192 * (64 + 128 * 9 + 32 * 25)
    assert result.data["reduced_total_macs"] == HW * (192 * 64 + 192 * 96 + 96 * 128 * 9
                                                      + 192 * 16 + 16 * 32 * 25 + 192 * 32)
    assert result.data["reduced_total_params"] == (
        192 * 64 + 64 + 192 * 96 + 96 + 96 * 128 * 9 + 128      # 1×1; 3×3 reduce, 3×3
        + 192 * 16 + 16 + 16 * 32 * 25 + 32 + 192 * 32 + 32)    # 5×5 reduce, 5×5; pool proj
    assert result.data["output_depth"] == [64 + 128 + 32 + 192, 64 + 128 + 32 + 32]


def test_the_generated_spec_is_the_built_in_example(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("inception-bottleneck")
    example = spec.analyze("example:inception-3a").totals
    assert (result.data["reduced_total_params"], result.data["reduced_total_macs"]) == (
        example.params, example.macs)


def test_without_the_5x5_reduction_nothing_is_saved() -> None:
    result = lab.run("inception-bottleneck", reduce5=0)
    assert result.verdict == "fail"
    assert [c.quantity for c in result.checks if not c.passed] == [
        "5×5 branch MACs with reduction"]
