"""lstm-vs-rnn-gradient: Π f_t on the cell path against a decaying tanh RNN."""

from __future__ import annotations

import math
from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_the_cell_keeps_the_gradient(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("lstm-vs-rnn-gradient")
    assert result.passed
    kept = check(result, "LSTM: min_j")
    assert kept.expected == math.exp(-1)
    # forget pre-activations 5 + W_f x_t: near σ(5)^50 = 0.715
    assert abs(math.log(kept.measured) - 50 * math.log(1 / (1 + math.exp(-5)))) < 0.2
    bound = check(result, "RNN: ‖∂h_T/∂h_0‖")
    assert math.isclose(bound.expected, 0.9 ** 50, rel_tol=1e-15)


def test_a_negative_forget_bias_forgets() -> None:
    result = lab.run("lstm-vs-rnn-gradient", forget_bias=-3.0)
    assert result.verdict == "fail"
    assert not check(result, "LSTM: min_j").passed
    assert check(result, "max |∂c_T/∂c_0 − diag").passed      # Π f_t still describes it
