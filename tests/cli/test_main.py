"""The CLI, in-process: default run, formats, targets, and exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netanatomy.cli.main import app
from tests.opaque_ops import OP_NAME

runner = CliRunner()

NET_PY = '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))

def make_lm():
    return nn.Sequential(nn.Embedding(50, 6), nn.Linear(6, 50))

from tests.opaque_ops import Mystery  # an op no rule covers

def needs_args(width):
    return nn.Linear(width, width)
'''


def write_net(tmp_path: Path) -> str:
    path = tmp_path / "net.py"
    path.write_text(NET_PY)
    return str(path)


def test_default_runs_the_builtin_resnet18() -> None:
    result = runner.invoke(app, ["summary", "--width", "140"])
    assert result.exit_code == 0, result.output
    assert "ResNet" in result.output
    assert "Params: 11,689,512" in result.output           # torchvision's ResNet-18


def test_file_target_json(tmp_path: Path) -> None:
    target = write_net(tmp_path) + ":Net"
    result = runner.invoke(app, ["summary", target, "--input", "1x3x8x8", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    conv_macs = 4 * 8 * 8 * 3 * 3 * 3                         # C_out·H·W·C_in·k²
    fc_macs = 4 * 8 * 8 * 2
    assert data["totals"]["macs"] == conv_macs + fc_macs
    assert [layer["path"] for layer in data["layers"]] == ["", "conv", "fc"]


def test_token_ids_input_and_output_file(tmp_path: Path) -> None:
    target = write_net(tmp_path) + ":make_lm"
    out = tmp_path / "lm.csv"
    result = runner.invoke(app, ["summary", target, "--input", "1x7:int64", "-f", "csv",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,type,depth")
    assert len(lines) == 1 + 3
    assert ",Linear," in lines[3] and f",{7 * 6 * 50}," in lines[3]


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["summary", write_net(tmp_path) + ":Net"])
    assert result.exit_code == 2
    assert "--input is required" in result.output


def test_bad_targets_exit_2(tmp_path: Path) -> None:
    for target, expected in (("no_such_module_xyz:Net", "cannot import module"),
                             (write_net(tmp_path) + ":Missing", "has no attribute"),
                             (write_net(tmp_path) + ":needs_args", "needs arguments"),
                             ("justaname", "bad target"),
                             ("zoo:nothing", "no built-in model")):
        result = runner.invoke(app, ["summary", target, "--input", "1x4"])
        assert result.exit_code == 2, (target, result.output)
        assert expected in result.output, (target, result.output)
        assert "Traceback" not in result.output


def test_bad_input_spec_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["summary", write_net(tmp_path) + ":Net", "-i", "1xAx8"])
    assert result.exit_code == 2
    assert "bad input shape '1xAx8'" in result.output


def test_shape_mismatch_exits_1_with_layer(tmp_path: Path) -> None:
    result = runner.invoke(app, ["summary", write_net(tmp_path) + ":Net", "-i", "1x3x9x9"])
    assert result.exit_code == 1
    assert "layer 'fc'" in result.output and "Traceback" not in result.output


def test_strict_exits_1_on_uncounted_ops(tmp_path: Path) -> None:
    target = write_net(tmp_path) + ":Mystery"
    relaxed = runner.invoke(app, ["summary", target, "-i", "2x3"])
    assert relaxed.exit_code == 0 and OP_NAME in relaxed.output
    strict = runner.invoke(app, ["summary", target, "-i", "2x3", "--strict"])
    assert strict.exit_code == 1 and OP_NAME in strict.output


def test_zoo_listing_and_version() -> None:
    listing = runner.invoke(app, ["zoo"])
    assert listing.exit_code == 0 and "zoo:resnet50" in listing.output
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == "0.1.0"
