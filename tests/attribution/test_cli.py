"""``netanatomy attribute`` in-process: every format, bad options exit 2 before running,
the PNG grid readable by Pillow, the .npy maps loadable with the input's shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from netanatomy.cli.main import app

MODELS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "models.py"
TARGET = f"{MODELS}:DigitsCNN"       # untrained: fine for shapes and formats


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["attribute", *args])


def test_table_lists_every_method_with_its_statistics() -> None:
    result = invoke(TARGET, "--input", "1x1x8x8", "--method", "all", "--steps", "8")
    assert result.exit_code == 0, result.output
    for name in ("saliency", "guided", "deconvnet", "integrated_gradients", "occlusion"):
        assert name in result.output
    assert "top10%" in result.output and "delta" in result.output


def test_json_document() -> None:
    result = invoke(TARGET, "--input", "2x1x8x8", "--method", "gradcam", "--layer", "conv2",
                    "--target", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "netanatomy.attribute/1"
    assert document["input"] == [2, 1, 8, 8]
    (entry,) = document["methods"]
    assert entry["method"] == "gradcam" and entry["layer"] == "conv2"
    assert entry["target"] == [3, 3] and len(entry["scores"]) == 2
    assert 0.1 <= entry["top10_fraction"] <= 1.0          # the top 10 % hold at least 10 %


def test_png_and_npy_are_written(tmp_path: Path) -> None:
    png, npy = tmp_path / "grid.png", tmp_path / "maps.npy"
    result = invoke(TARGET, "--input", "1x1x8x8", "--method", "all", "--layer", "conv1",
                    "--steps", "4", "-o", str(png), "--npy", str(npy))
    assert result.exit_code == 0, result.output
    with Image.open(png) as picture:
        assert picture.format == "PNG" and picture.size[0] > 100
    guided = np.load(tmp_path / "maps-guided.npy")
    assert guided.shape == (1, 1, 8, 8)                    # the input's shape
    assert np.load(tmp_path / "maps-gradcam.npy").shape[-2:] == (8, 8)


def test_an_image_input(tmp_path: Path) -> None:
    path = tmp_path / "digit.png"
    Image.fromarray(np.full((12, 16, 3), 90, dtype=np.uint8)).save(path)
    result = invoke("zoo:resnet18", "--image", str(path), "--size", "32", "--method",
                    "saliency", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["input"] == [1, 3, 32, 32]


@pytest.mark.parametrize("args", [
    [TARGET],                                                   # no input
    [TARGET, "--input", "1x1x8x8", "--image", "x.png"],         # two inputs
    [TARGET, "--input", "1x1x8x8", "--input", "1x1x8x8"],       # several
    [TARGET, "--image", "missing.png"],
    [TARGET, "--input", "1x1x8x8", "--format", "csv"],
    [TARGET, "--input", "1x1x8x8", "-o", "grid.jpg"],
    [TARGET, "--input", "1x1x8x8", "--npy", "maps.txt"],
    [TARGET, "--input", "1x1x8x8", "--steps", "0"],
    [TARGET, "--input", "1x1x8x8", "--target", "-1"],
    [TARGET, "--input", "1x1x8x8", "--method", "nope"],
    [TARGET, "--input", "1x1x8x8", "--method", "gradcam", "--layer", "conv9"],
    [TARGET, "--input", "1x1x8x8", "--size", "0"],
    ["--demo", "--input", "1x1x8x8"],
])
def test_bad_options_exit_2(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
