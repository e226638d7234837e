"""seq2seq-exposure-bias: free-running error follows 1 − c_t, teacher forcing stays at
1 − r; an under-trained model fails, and the run is deterministic."""

from __future__ import annotations

from collections.abc import Callable

from netanatomy import lab
from netanatomy.lab.base import LabResult
from tests.lab.helpers import check


def test_free_running_error_compounds(lab_default: Callable[[str], LabResult]) -> None:
    result = lab_default("seq2seq-exposure-bias")
    assert result.passed
    r = 1 - 0.1 + 0.1 / 12                  # stay on f's orbit: no jump, or jump onto it
    assert abs(check(result, "teacher-forced error").expected - (1 - r)) < 1e-15
    c = 1.0
    for _ in range(8):
        c = r * c + 0.1 / 12 * (1 - c)
    assert abs(check(result, "free-running error at position 8").expected - (1 - c)) < 1e-12
    free = result.data["free_running_error"]
    assert free[-1] > 4 * free[0]           # grows; teacher forcing does not
    assert result.seconds < 10


def test_two_runs_give_identical_numbers(lab_default: Callable[[str], LabResult]) -> None:
    again = lab.run("seq2seq-exposure-bias")
    assert dict(again.data) == dict(lab_default("seq2seq-exposure-bias").data)


def test_an_untrained_decoder_has_not_learned_the_rule() -> None:
    result = lab.run("seq2seq-exposure-bias", steps=10)
    assert result.verdict == "fail"
    assert not check(result, "teacher-forced error").passed


def test_without_jumps_there_is_no_gap() -> None:
    result = lab.run("seq2seq-exposure-bias", jump=0.0)
    assert not check(result, "free − teacher-forced").passed
