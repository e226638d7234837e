"""``netanatomy profile``: every format, in-process; structure only (timings vary)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netanatomy.cli.main import app
from netanatomy.render.catalog import formats

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
CNN = f"{ROOT / 'docs/examples/models.py'}:DigitsCNN"
ARGS = ("--input", "4x1x8x8", "--repeats", "2", "--warmup", "1")


def run(*args: str) -> str:
    result = runner.invoke(app, ["profile", CNN, *ARGS, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_profile_writes_table_json_and_csv() -> None:
    assert formats("profile") == ("table", "json", "csv", "html")


def test_json_has_the_schema_every_module_and_the_comparisons() -> None:
    data = json.loads(run("-f", "json"))
    assert data["schema"] == "netanatomy.profile/1"
    assert [m["path"] for m in data["modules"]] == ["", "conv1", "conv2", "head"]
    for module in data["modules"]:
        assert module["predicted_s"] > 0 and module["measured_s"] > 0
        assert module["ratio"] == pytest.approx(module["measured_s"] / module["predicted_s"])
    assert data["total"]["ratio"] == pytest.approx(data["total"]["measured_s"]
                                                   / data["total"]["predicted_s"])
    assert data["errors"]["count"] == 3 and data["errors"]["worst_path"] in (
        "conv1", "conv2", "head")
    assert data["memory"]["measured_peak_bytes"] > 0
    assert data["device"]["key"] == "measured-cpu"
    assert {m["what"] for m in data["calibration"]["measurements"]} == {"matmul", "copy"}
    assert "predicted_s" in data["conventions"] and data["repeats"] == 2


def test_table_shows_the_tree_totals_errors_and_memory() -> None:
    text = run("--width", "200")
    assert "<root>" in text and "conv1" in text and "head" in text
    assert "total: predicted" in text and "leaf modules compared: 3" in text
    assert "peak memory of the forward" in text


def test_csv_one_row_per_module_and_depth_cuts() -> None:
    rows = list(csv.DictReader(io.StringIO(run("-f", "csv", "--depth", "0"))))
    assert [row["path"] for row in rows] == [""]
    assert float(rows[0]["measured_s"]) > 0 and rows[0]["status"] == "exact"


@pytest.mark.parametrize(("args", "message"), [
    (["--repeats", "0"], "--repeats must be"),
    (["--warmup", "-1"], "--warmup must be"),
    (["--device", "meta"], "--device meta"),
    (["--device", "cuda:99"], "--device cuda:99"),
    (["-f", "xml"], "profile writes table, json, csv or html"),
])
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["profile", CNN, "--input", "4x1x8x8", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_target_without_input_names_the_option() -> None:
    result = runner.invoke(app, ["profile", CNN])
    assert result.exit_code == 2
    assert "--input is required" in result.output
