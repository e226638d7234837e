"""dead-relu: dead ReLUs get zero gradient and stay dead; the twins recover."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_dead_relus_stay_dead(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("dead-relu")
    assert result.passed
    assert check(result, "units dead at the start").measured == 16       # all 16 hidden units
    assert check(result, "‖∂L/∂(W₁, b₁)‖ at dead ReLUs").measured == 0.0
    assert check(result, "dead units after 300").measured == 16


@pytest.mark.parametrize("activation", ["leaky", "prelu", "elu"])
def test_the_twins_recover(activation: str) -> None:
    result = lab.run("dead-relu", activation=activation)
    assert result.passed
    assert check(result, "‖∂L/∂W₁‖ by autograd").measured > 0
    assert check(result, "dead units after 300").measured == 0


def test_no_dead_units_no_demonstration() -> None:
    result = lab.run("dead-relu", bias_shift=0.0)
    assert result.verdict == "fail"
    assert not check(result, "units dead at the start").passed


def test_too_few_steps_do_not_revive_leaky_units() -> None:
    result = lab.run("dead-relu", activation="leaky", steps=10)
    assert result.verdict == "fail"
    assert not check(result, "dead units after 10").passed
