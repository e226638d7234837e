"""``netanatomy diagnose`` and ``netanatomy lint``, in-process: formats, steps, plots, saved
batches, spec targets and the exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from netanatomy.cli.main import app

runner = CliRunner()
UNET = "docs/examples/models.py:TinyUNet"
UNET_INPUT = "2x1x32x32"

NETS_PY = '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).flatten(1))

def biased_bn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=True), nn.BatchNorm2d(8), nn.ReLU())

def clean():
    layer = nn.Linear(16, 16)
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    return nn.Sequential(layer, nn.ReLU(), nn.Linear(16, 2))

def on_meta():
    with torch.device("meta"):
        return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
'''

TINY_SPEC = """\
name: tiny
description: conv, batch norm, pooling and a classifier
input: [3, 12, 12]
layers:
  - conv: {out: 4, k: 3, p: 1}
  - bn: {}
  - relu: {}
  - maxpool: {k: 2}
  - flatten: {}
  - fc: {out: 3}
"""


@pytest.fixture(scope="module")
def nets(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("nets") / "nets.py"
    path.write_text(NETS_PY)
    return str(path)


@pytest.fixture(scope="module")
def unet_json() -> dict:
    result = runner.invoke(app, ["diagnose", UNET, "--input", UNET_INPUT, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_diagnose_table_prints_the_verdict() -> None:
    result = runner.invoke(app, ["diagnose", UNET, "--input", UNET_INPUT, "--width", "160"])
    assert result.exit_code == 0, result.output
    assert "Verdict:" in result.output
    assert "TinyUNet" in result.output


def test_diagnose_json_schema_and_layer_paths(unet_json: dict) -> None:
    assert unet_json["schema"] == "netanatomy.diagnose/1"
    summary = runner.invoke(app, ["summary", UNET, "--input", UNET_INPUT, "--format", "json"])
    assert summary.exit_code == 0, summary.output
    expected = [layer["path"] for layer in json.loads(summary.stdout)["layers"]]
    assert [layer["path"] for layer in unet_json["layers"]] == expected
    assert unet_json["run"]["input_shapes"] == [[2, 1, 32, 32]]


def test_diagnose_json_verdict_and_lints(unet_json: dict) -> None:
    verdict = unet_json["verdict"]
    assert {"gain", "bound", "bound_applies", "message"} <= set(verdict)
    assert verdict["bound"] is None and not verdict["bound_applies"]   # skips: no chain
    assert unet_json["lints"], "TinyUNet's torch-default convs before ReLU give NA008"
    for lint in unet_json["lints"]:
        assert {"code", "path", "message", "wasted_params"} <= set(lint)
        assert lint["code"].startswith("NA") and isinstance(lint["wasted_params"], int)


def test_diagnose_verdict_is_the_gain_torch_measures() -> None:
    """With --loss sum, dL/dy is all ones, so the end-to-end gain is ||dL/dx|| / sqrt(|y|):
    computed here by torch on the same seeded build, batch and dropout draws."""
    result = runner.invoke(app, ["diagnose", UNET, "--input", UNET_INPUT, "--loss", "sum",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["verdict"]
    from netanatomy.frontends.torch.target import load_target

    torch.manual_seed(0)                          # --seed 0 seeds the build
    model = load_target(UNET).train()
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    torch.manual_seed(0)                          # ... and the dropout of the run
    y = model(x)
    y.sum().backward()
    assert x.grad is not None
    gain = float(x.grad.double().norm()) / y.numel() ** 0.5
    assert verdict["gain"] == pytest.approx(gain, rel=1e-6)
    assert 1e-3 <= gain <= 1e3 and verdict["status"] == "healthy"   # documented thresholds


def test_steps(nets: str) -> None:
    result = runner.invoke(app, ["diagnose", nets + ":Net", "--input", "4x3x8x8", "--steps",
                                 "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [step["step"] for step in data["steps"]] == [0, 1, 2]
    assert data["run"]["steps"] == 3


def test_plot_writes_two_pngs(tmp_path: Path) -> None:
    plot = tmp_path / "tmp.png"
    result = runner.invoke(app, ["diagnose", UNET, "--input", UNET_INPUT, "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    for path in (plot, tmp_path / "tmp-erf.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_data_file(nets: str, tmp_path: Path) -> None:
    data = tmp_path / "batch.pt"
    torch.save((torch.randn(5, 3, 8, 8), torch.tensor([0, 1, 1, 0, 1])), data)
    result = runner.invoke(app, ["diagnose", nets + ":Net", "--data", str(data), "-f", "json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)["run"]
    assert run["input_shapes"] == [[5, 3, 8, 8]] and run["loss_name"] == "ce"  # int target


def test_missing_data_file_exits_2(nets: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagnose", nets + ":Net", "--data",
                                 str(tmp_path / "absent.pt")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_data_and_input_together_exit_2(nets: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagnose", nets + ":Net", "--data", str(tmp_path / "x.pt"),
                                 "--input", "1x3x8x8"])
    assert result.exit_code == 2 and "not both" in result.output


def test_meta_device_model_exits_2(nets: str) -> None:
    result = runner.invoke(app, ["diagnose", nets + ":on_meta", "--input", "2x4"])
    assert result.exit_code == 2
    assert "meta device" in result.output and "Traceback" not in result.output


def test_unknown_loss_exits_2(nets: str) -> None:
    result = runner.invoke(app, ["diagnose", nets + ":Net", "--input", "2x3x8x8", "--loss",
                                 "hinge"])
    assert result.exit_code == 2 and "unknown loss" in result.output


def test_spec_target(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    result = runner.invoke(app, ["diagnose", str(spec), "--input", "4x3x12x12", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "netanatomy.diagnose/1"
    assert data["run"]["input_shapes"] == [[4, 3, 12, 12]]
    assert "NA001" in [lint["code"] for lint in data["lints"]]          # conv bias → bn


def test_spec_target_default_batch_is_8(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    result = runner.invoke(app, ["diagnose", str(spec), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["input_shapes"] == [[8, 3, 12, 12]]


def test_lint_prints_na001(nets: str) -> None:
    result = runner.invoke(app, ["lint", nets + ":biased_bn", "--input", "16x3x8x8"])
    assert result.exit_code == 0, result.output
    assert "NA001" in result.output and "8 params wasted" in result.output


def test_lint_json(nets: str) -> None:
    result = runner.invoke(app, ["lint", nets + ":biased_bn", "--input", "16x3x8x8", "-f",
                                 "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "netanatomy.lint/1"
    (lint,) = data["lints"]
    assert (lint["code"], lint["path"], lint["wasted_params"]) == ("NA001", "0", 8)


def test_lint_strict_exit_codes(nets: str) -> None:
    fired = runner.invoke(app, ["lint", nets + ":biased_bn", "--input", "16x3x8x8",
                                "--strict"])
    assert fired.exit_code == 1, fired.output
    clean = runner.invoke(app, ["lint", nets + ":clean", "--input", "16x16", "--strict",
                                "-f", "json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["lints"] == []


def test_lint_batch_size_option(nets: str) -> None:
    result = runner.invoke(app, ["lint", nets + ":biased_bn", "--input", "16x3x8x8",
                                 "--batch-size", "2", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "NA002" in [lint["code"] for lint in json.loads(result.stdout)["lints"]]


def test_lint_on_meta_skips_init_with_a_note(nets: str) -> None:
    result = runner.invoke(app, ["lint", nets + ":on_meta", "--input", "2x4", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert any("meta device" in note for note in data["notes"])
