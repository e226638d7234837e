"""The lab framework: checks decide their own verdict, parameters convert and are refused
clearly, the runner restores global state, the registry refuses bad registrations."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from netanatomy import lab
from netanatomy.errors import UsageError
from netanatomy.lab import base, runner
from netanatomy.lab.base import Outcome, at_least, at_most, close, equal


@pytest.mark.parametrize(("check", "passed"), [
    (close("x", 1.0, 1.0 + 1e-9, atol=1e-8, reason="r"), True),
    (close("x", 1.0, 1.1, atol=0.05, reason="r"), False),
    (close("x", 100.0, 101.0, rtol=0.011, reason="r"), True),      # 1 ≤ 0.011·101
    (close("x", 100.0, 102.0, rtol=0.011, reason="r"), False),
    (close("x", math.nan, 0.0, atol=1.0, reason="r"), False),       # NaN never passes
    (at_most("x", 0.25, 0.25, reason="r"), True),
    (at_most("x", 0.26, 0.25, reason="r"), False),
    (at_least("x", 0.24, 0.25, atol=0.02, reason="r"), True),
    (at_least("x", 0.2, 0.25, reason="r"), False),
    (equal("x", (1, 2), (1, 2)), True),
    (equal("x", 3, 4), False),
])
def test_a_check_decides_its_verdict_from_its_numbers(check: lab.Check, passed: bool) -> None:
    assert check.passed is passed


def test_tolerance_reads_as_words() -> None:
    described = close("x", 1, 1, atol=1e-6, rtol=1e-3, reason="r").tolerance
    assert described == "±1e-06 + 0.001·|expected|"
    assert equal("x", 1, 1).tolerance == "exact"
    with pytest.raises(ValueError):
        close("x", 1, 1, atol=-1, reason="r")


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Experiments registered by a test vanish after it."""
    monkeypatch.setattr(base, "_EXPERIMENTS", dict(runner.load()))


def test_registry_refuses_duplicates_unknown_topics_and_parameters_without_default(
        scratch_registry: None) -> None:
    def outcome() -> Outcome:
        raise AssertionError("not run")

    with pytest.raises(ValueError, match="registered twice"):
        base.experiment("sigmoid-saturation", topic="initialisation", title="t", claim="c")(
            outcome)
    with pytest.raises(ValueError, match="unknown topic"):
        base.experiment("x-topic", topic="astrology", title="t", claim="c")(outcome)

    def needs(value: float) -> Outcome:
        raise AssertionError("not run")

    with pytest.raises(ValueError, match="needs a default"):
        base.experiment("x-needs", topic="depth", title="t", claim="c")(needs)


def fake(alpha: float = 2.0, steps: int = 3, strict: bool = True, shape: tuple = (2, 3),
         mode: str = "train") -> Outcome:
    from matplotlib.figure import Figure

    drawn = torch.randn(3).tolist() + list(np.random.rand(2)) + [random.random()]
    return Outcome([close("alpha·steps", alpha * steps, 6.0, atol=1e-12, reason="exact")],
                   Figure(), data={"drawn": drawn, "shape": list(shape), "mode": mode,
                                   "strict": strict})


def test_parameters_convert_from_text_and_unknown_ones_are_refused(
        scratch_registry: None) -> None:
    base.experiment("x-fake", topic="depth", title="t", claim="c")(fake)
    result = lab.run("x-fake", alpha="3", steps="2", strict="no", shape="4x5", mode="eval")
    assert result.passed and result.params == {"alpha": 3.0, "steps": 2, "strict": False,
                                               "shape": (4, 5), "mode": "eval"}
    assert lab.run("x-fake", alpha=1).verdict == "fail"              # 1·3 ≠ 6
    with pytest.raises(UsageError, match="no parameter 'beta'; it takes alpha=2.0"):
        lab.run("x-fake", beta=1)
    with pytest.raises(UsageError, match="steps='many' is not a int"):
        lab.run("x-fake", steps="many")
    with pytest.raises(UsageError, match="alpha='nan' is not a float"):
        lab.run("x-fake", alpha="nan")
    with pytest.raises(UsageError, match="did you mean x-fake"):
        lab.run("x-fak")


def test_a_run_is_seeded_and_leaves_the_global_rngs_as_they_were(
        scratch_registry: None) -> None:
    base.experiment("x-fake", topic="depth", title="t", claim="c")(fake)
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    first, second = lab.run("x-fake"), lab.run("x-fake")
    assert first.data["drawn"] == second.data["drawn"]                 # seed 0 each time
    assert torch.equal(torch.random.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]


def test_an_experiment_without_checks_is_an_error(scratch_registry: None) -> None:
    base.experiment("x-empty", topic="depth", title="t", claim="c")(
        lambda: Outcome([], None))
    with pytest.raises(TypeError, match="returned no checks"):
        lab.run("x-empty")


def test_run_many_writes_a_figure_each_and_the_summary(scratch_registry: None,
                                                        tmp_path: pytest.TempPathFactory
                                                        ) -> None:
    import json

    base._EXPERIMENTS.clear()
    base.experiment("x-fake", topic="depth", title="t", claim="c")(fake)
    run = lab.run_many(folder=tmp_path)
    assert run.passed and [r.name for r in run.results] == ["x-fake"]
    assert (tmp_path / "x-fake.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["schema"] == "netanatomy.lab/1" and summary["passed"] == 1
    assert summary["experiments"][0]["figure"] == str(tmp_path / "x-fake.png")
    with pytest.raises(UsageError, match="no lab topic"):
        lab.run_many(topic="astrology")
