"""contractive-jacobian: ‖J‖²_F in closed form vs autograd; the sigmoid formula on tanh fails."""

from __future__ import annotations

from collections.abc import Callable

import torch

from netanatomy import lab
from netanatomy.lab.base import LabResult
from netanatomy.layers import ContractiveAutoencoder
from tests.lab.helpers import check


def test_closed_form_penalty_matches_autograd(lab_default: Callable[[str], LabResult]
                                               ) -> None:
    result = lab_default("contractive-jacobian")
    assert result.passed
    # a sigmoid's slope is at most ¼, so ‖J‖²_F ≤ (1/16)·‖W‖²_F per sample
    with torch.random.fork_rng():
        torch.manual_seed(0)                # the runner's seed: the same first weights
        weight = ContractiveAutoencoder(10, 6).double().encoder.weight.detach()
    bound = float(weight.pow(2).sum()) / 16
    assert max(result.data["autograd"]) <= bound
    assert check(result, "max relative error per sample").measured < 4 * 10 * 2.0 ** -52


def test_sigmoid_formula_on_a_tanh_encoder_fails() -> None:
    result = lab.run("contractive-jacobian", activation="tanh")
    assert result.verdict == "fail"
    assert not check(result, "Σ over samples").passed
