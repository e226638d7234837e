"""densenet-growth: a dense block of 3 layers, growth 24 on 32 channels, by hand."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_block_grows_by_k_per_layer(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("densenet-growth")
    assert result.passed
    assert result.data["seen"] == [32, 32 + 24, 32 + 2 * 24]        # c₀ + ℓk
    assert result.data["out"] == 32 + 3 * 24 == 104
    # layer 2: BN on 80 channels (γ, β) + 3×3 conv 80 → 24 without bias
    assert result.data["params"][2] == 2 * 80 + 9 * 80 * 24
    assert result.data["macs"][2] == 32 * 32 * 9 * 80 * 24          # on 32×32 maps
    # concatenations after each layer: 56 + 80 + 104 channel maps of 32×32 float32
    assert result.data["concat_bytes"] == 4 * 32 * 32 * (56 + 80 + 104)
    assert check(result, "params = built module's").measured == sum(
        2 * c + 9 * c * 24 for c in (32, 56, 80))


def test_without_concatenation_the_channels_do_not_grow() -> None:
    result = lab.run("densenet-growth", concatenate=False)
    assert result.verdict == "fail"
    assert check(result, "channels seen by layers").measured == [32, 24, 24]
