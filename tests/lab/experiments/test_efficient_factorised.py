"""factorised-convs: 5×5 vs two 3×3 and n×n vs 1×n + n×1, against hand counts."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab, spec
from netanatomy.lab.base import LabResult
from netanatomy.lab.experiments.efficient_factorised import asymmetric_spec, stack_spec
from tests.lab.helpers import check


def test_factorisations_keep_the_field_for_less(
        lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("factorised-convs")
    assert result.passed
    assert check(result, "weights 2×(3×3) / 5×5, symbolic").measured == "18/25"   # 2·9·C² / 25·C²
    assert result.data["stacked"]["weights_per_c2"] == [25, 2 * 9]
    assert result.data["stacked"]["fields"] == [5, 1 + 2 * 2]            # 3 + 2: two 3×3
    assert check(result, "MACs (1×n + n×1)/(n×n)").measured == ["2/3", "2/5", "2/7"]  # 2n/n²
    # params at C = 64: 25·64² + 2·9·64² (no bias)
    assert check(result, "params at C=64").measured == 25 * 64**2 + 18 * 64**2


def test_the_generated_specs_are_the_built_in_examples() -> None:
    values = {"C": 16, "H": 9, "W": 9}
    for text, name, extra in ((stack_spec(2), "conv5x5-vs-two-3x3", {}),
                              (asymmetric_spec("same"), "nxn-vs-1xn-nx1", {"n": 5})):
        mine = spec.analyze(text, {**values, **extra}).totals
        example = spec.analyze(f"example:{name}", {**values, **extra}).totals
        assert (mine.params, mine.macs) == (example.params, example.macs)


def test_three_stacked_3x3_see_more_and_cost_more() -> None:
    result = lab.run("factorised-convs", stack=3)      # field 7, weights 27/25 of a 5×5
    assert result.verdict == "fail"
    assert check(result, "receptive field 5×5, 3×3 stack").measured == (5, 7)
    assert not check(result, "weights 3×(3×3) / 5×5").passed


def test_valid_padding_breaks_the_two_over_n_mac_saving() -> None:
    result = lab.run("factorised-convs", padding="valid")
    assert result.verdict == "fail"
    macs = check(result, "MACs (1×n + n×1)/(n×n)")
    # n = 3 on 17×17: (3·17·15 + 3·15·15) / (9·15·15) = (17/15 + 1)/3 = 32/45
    assert not macs.passed and macs.measured[0] == "32/45"
    assert check(result, "weights (1×n + n×1)/(n×n)").passed
