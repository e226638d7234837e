"""``diagnose`` and ``rf --measure`` on what breaks them: non-finite weights, activations
and gradients (the verdict names the first layer and step, found again here by a plain
torch training loop), inputs too large for memory (refused before anything is allocated),
seeds (the model's build included), the global RNG and the user's model left alone, and
the dead-unit fraction over the right axes."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

import netanatomy
from netanatomy.cli.main import app
from netanatomy.diagnostics import memory
from netanatomy.diagnostics.measured_rf import measure_receptive_fields
from netanatomy.diagnostics.spectral import matrix_sigma_max, sigma_max
from netanatomy.errors import UsageError

runner = CliRunner()


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 3))


# --- non-finite values -------------------------------------------------------------------

@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_weight_is_the_exploding_verdict_naming_its_layer(value: float) -> None:
    model = mlp()
    with torch.no_grad():
        model[2].weight[3, 4] = value
    report = netanatomy.diagnose(model, input_size=(4, 6))
    verdict = report.verdict
    assert verdict.status == "exploding"
    assert verdict.responsible == ("2",)
    state = "nan" if math.isnan(value) else "inf"
    assert f"non-finite weights first in '2' (weight holds {state}) at step 0" \
        in verdict.message
    sigma = report.layer("2").sigma_max
    assert sigma is not None and (math.isnan(sigma) if state == "nan" else math.isinf(sigma))
    json.loads(report.to_json())                  # the document stays valid JSON
    report.render(width=160)


def test_a_non_finite_input_is_first_seen_in_the_first_layer() -> None:
    x = torch.randn(4, 6)
    x[1, 2] = math.nan
    verdict = netanatomy.diagnose(mlp(), x).verdict
    assert verdict.status == "exploding"
    assert "non-finite activations first in '0'" in verdict.message


def first_non_finite_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float,
                          steps: int) -> int:
    """Plain torch: the first SGD step whose weights, output, loss or gradients are not
    all finite."""
    model = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(steps):
        optimizer.zero_grad()
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        loss = F.mse_loss(model(x), y)
        loss.backward()
        finite = finite and bool(torch.isfinite(loss)) and all(
            bool(torch.isfinite(p.grad).all()) for p in model.parameters())
        if not finite:
            return step
        optimizer.step()
    raise AssertionError("the run never diverged")


def test_diverging_steps_stop_at_the_first_non_finite_step() -> None:
    model = mlp()
    x, y = torch.randn(5, 6, generator=torch.Generator().manual_seed(3)), torch.zeros(5, 3)
    expected = first_non_finite_step(model, x, y, lr=1e4, steps=40)
    report = netanatomy.diagnose(model, x, target=y, loss_fn="mse", steps=40, lr=1e4)
    assert report.verdict.status == "exploding"
    assert f"at step {expected} of 40" in report.verdict.message
    assert len(report.steps) == expected + 1                 # stopped there
    assert all(math.isfinite(s.loss) for s in report.steps[:expected])
    assert any(f"stopped after step {expected} of 40" in note for note in report.notes)


def test_a_conv_model_with_a_nan_weight_skips_the_effective_field() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    with torch.no_grad():
        model[2].weight[0, 0, 0, 0] = math.nan
    report = netanatomy.diagnose(model, input_size=(2, 3, 8, 8), erf_layer="2")
    assert report.verdict.status == "exploding" and report.erf is None
    assert any("values are not finite" in note for note in report.notes)


def test_sigma_max_of_non_finite_weights() -> None:
    weight = torch.ones(3, 4)
    weight[0, 0] = math.nan
    assert math.isnan(matrix_sigma_max(weight))
    weight[0, 0] = math.inf
    assert math.isinf(matrix_sigma_max(weight))


def test_sigma_max_of_huge_finite_weights_does_not_overflow() -> None:
    torch.manual_seed(0)
    conv, linear = nn.Conv2d(2, 3, 3, padding=1), nn.Linear(5, 4).double()
    conv_sigma, linear_sigma = sigma_max(conv, (1, 2, 6, 6))[0], sigma_max(linear, None)[0]
    assert conv_sigma is not None and linear_sigma is not None
    with torch.no_grad():
        conv.weight.mul_(1e25)                       # σ² = 1e50 overflows float32
        conv.bias[0] = math.nan                      # the bias cancels in A v = f(v) − f(0)
        linear.weight.mul_(1e200)                    # WᵀW overflows float64
    assert sigma_max(conv, (1, 2, 6, 6))[0] == pytest.approx(1e25 * conv_sigma, rel=1e-5)
    assert sigma_max(linear, None)[0] == pytest.approx(1e200 * linear_sigma, rel=1e-9)


# --- memory ------------------------------------------------------------------------------

def test_read_mem_available() -> None:
    text = "MemTotal:       16384 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n"
    assert memory.read_mem_available(text) == 2048 * 1024
    assert memory.read_mem_available("MemTotal: 1 kB\n") is None


def only_free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda device: (free, "test figure"))


def test_diagnose_refuses_a_run_that_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    only_free(monkeypatch, 2**20)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    with pytest.raises(UsageError) as caught:
        netanatomy.diagnose(model, input_size=(512, 256))
    text = str(caught.value)
    assert "1.0 MiB is available (test figure)" in text and "--no-memory-check" in text
    estimate = int(re.search(r"\((\d+) bytes", text).group(1))    # type: ignore[union-attr]
    params = 4 * (256 * 256 + 256 + 256 * 2 + 2)                  # float32, copy + gradients
    assert estimate >= 2 * params + 3 * 4 * 512 * 256             # + batch, live copy, grad
    report = netanatomy.diagnose(model, input_size=(512, 256), memory_check=False)
    assert report.verdict.status in ("healthy", "vanishing")


def test_diagnose_without_a_readable_figure_goes_on_with_a_note(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "MEMINFO", Path("/nonexistent/meminfo"))
    report = netanatomy.diagnose(mlp(), input_size=(4, 6))
    assert any("memory not checked" in note for note in report.notes)


def test_rf_measure_refuses_a_run_that_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
    only_free(monkeypatch, 1000)
    with pytest.raises(UsageError, match="rf --measure needs about"):
        measure_receptive_fields(model, (1, 3, 64, 64), [""])
    measured = measure_receptive_fields(model, (1, 3, 64, 64), [""], memory_check=False)
    assert measured[""].size == (5, 5)                            # two 3x3 convs: 1 + 2 + 2


def test_cli_memory_check_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    only_free(monkeypatch, 100)                   # 4x3 floats alone take 48 bytes
    module = tmp_path / "tiny.py"
    module.write_text("from torch import nn\n\ndef tiny():\n    return nn.Linear(3, 2)\n")
    args = ["diagnose", f"{module}:tiny", "--input", "4x3", "--format", "json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "needs about" in refused.output
    assert runner.invoke(app, [*args, "--no-memory-check"]).exit_code == 0


# --- seeds, the global RNG and the user's model ------------------------------------------

FACTORY = """\
from torch import nn

def net():
    return nn.Sequential(nn.Linear(5, 7), nn.Dropout(0.5), nn.ReLU(), nn.Linear(7, 3))
"""


def diagnose_json(target: str, seed: int) -> str:
    result = runner.invoke(app, ["diagnose", target, "--input", "6x5", "--seed", str(seed),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_seed_makes_a_built_model_reproducible(tmp_path: Path) -> None:
    (tmp_path / "factory.py").write_text(FACTORY)
    target = f"{tmp_path / 'factory.py'}:net"
    torch.manual_seed(1)
    first = diagnose_json(target, 3)
    torch.manual_seed(2)                          # whatever the global RNG holds before
    assert diagnose_json(target, 3) == first
    assert diagnose_json(target, 4) != first


def test_api_diagnose_of_a_target_seeds_its_build(tmp_path: Path) -> None:
    (tmp_path / "factory.py").write_text(FACTORY)
    target = f"{tmp_path / 'factory.py'}:net"
    first = netanatomy.diagnose(target, input_size=(6, 5), seed=3)
    torch.rand(3)
    again = netanatomy.diagnose(target, input_size=(6, 5), seed=3)
    other = netanatomy.diagnose(target, input_size=(6, 5), seed=4)
    assert first.to_json() == again.to_json()
    assert first.layer("0").params[0].weight_norm != other.layer("0").params[0].weight_norm
    torch.manual_seed(3)                          # the build is the factory under that seed
    assert first.layer("0").params[0].weight_norm == pytest.approx(
        float(nn.Linear(5, 7).weight.detach().double().norm()), rel=1e-12)


def test_diagnose_restores_the_rng_and_leaves_the_model_alone() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                          nn.Dropout(0.3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval()
    before = copy.deepcopy(model.state_dict())
    rng = torch.random.get_rng_state()
    netanatomy.diagnose(model, input_size=(4, 3, 8, 8), steps=3, lr=0.5)
    assert torch.equal(torch.random.get_rng_state(), rng)
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)  # BN stats too
    assert all(p.grad is None for p in model.parameters())
    assert not model.training and model[2].inplace


# --- dead units --------------------------------------------------------------------------

def test_dead_fraction_counts_units_dead_for_every_sample_and_position() -> None:
    conv = nn.Conv2d(1, 4, 1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.copy_(torch.tensor([-100.0, 0.0, 0.0, 0.0]))   # channel 0: always < 0
    x = torch.cat([torch.rand(1, 1, 3, 3) + 0.5, -torch.rand(1, 1, 3, 3) - 0.5])
    # channels 1-3 are positive on sample 0 and zero on sample 1: dead on one sample only
    report = netanatomy.diagnose(nn.Sequential(conv, nn.ReLU()), x, loss_fn="sum")
    assert report.layer("1").dead_fraction == pytest.approx(1 / 4)    # 9 of 36 units
