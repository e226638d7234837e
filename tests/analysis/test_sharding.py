"""Sharded memory per device against the ZeRO paper's own worked example."""

from __future__ import annotations

import pytest

from netanatomy.analysis.sharding import sharded_memory
from netanatomy.errors import UsageError

# Rajbhandari et al. 2020, Figure 1: Ψ = 7.5 B parameters, mixed-precision Adam (2Ψ fp16
# parameters, 2Ψ fp16 gradients, KΨ = 12Ψ fp32 master weights + momentum + variance),
# N_d = 64 devices; the paper prints 120 GB, 31.4 GB, 16.6 GB and 1.9 GB per device.
PSI = 7.5e9
STEP = {"parameters": 2 * PSI, "gradients": 2 * PSI, "optimizer_state": 12 * PSI}


@pytest.mark.parametrize(("strategy", "printed_gb"), [
    ("none", 120), ("zero1", 31.4), ("zero2", 16.6), ("zero3", 1.9)])
def test_the_zero_paper_figure_1(strategy: str, printed_gb: float) -> None:
    per_device = sharded_memory(STEP, strategy, 64).total / 1e9
    assert per_device == pytest.approx(printed_gb, abs=0.05)   # the paper rounds to 0.1 GB


def test_activations_stay_per_device_and_fsdp_adds_one_gathered_unit() -> None:
    step = {**STEP, "activations_saved": 5e9, "temporaries": 1e9}
    fsdp = sharded_memory(step, "fsdp", 8, unit_bytes=0.4e9)
    assert fsdp.by_category["activations_saved"] == 5e9
    assert fsdp.total == pytest.approx(16 * PSI / 8 + 6e9 + 0.4e9)
    assert sharded_memory(step, "fsdp", 1, unit_bytes=0.4e9).gathered_unit == 0


@pytest.mark.parametrize(("strategy", "degree", "message"), [
    ("zero4", 8, "not known"), ("zero1", 0, "≥ 1"), ("zero1", 2.5, "whole number")])
def test_bad_options(strategy: str, degree: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sharded_memory(STEP, strategy, degree)  # type: ignore[arg-type]
