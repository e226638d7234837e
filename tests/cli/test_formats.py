"""Every command × every format, in-process: the formats a command writes give parseable
output with the documented columns or keys; any other format is refused with exit 2,
naming the formats the command writes, before any model runs."""

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
SEPARABLE = "docs/examples/separable.yaml"
CONV = "docs/examples/conv.yaml"
VALUES = "K=3,F=8,D=4,H=6,W=6"

NET_PY = '''
from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
'''


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("net") / "net.py"
    path.write_text(NET_PY)
    return f"{path}:make"


def invocations(net: str) -> dict[str, list[str]]:
    """One small, fast run of each command that writes a result."""
    return {
        "summary": ["summary", CONV, "--set", VALUES],
        "rf": ["rf", CONV, "--set", VALUES],
        "compare": ["compare", CONV, SEPARABLE, "--set", VALUES],
        "sweep": ["sweep", SEPARABLE, "--vary", "K=3,5", "--set", "F=8,D=4,H=6,W=6"],
        "lint": ["lint", net, "--input", "2x3x6x6"],
        "diagnose": ["diagnose", net, "--input", "2x3x6x6", "--seed", "1"],
    }


COMMANDS = ("summary", "rf", "compare", "sweep", "lint", "diagnose")


def run(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_command_writes_table_json_and_csv() -> None:
    for command in COMMANDS:
        assert formats(command)[:3] == ("table", "json", "csv"), command
    assert "html" in formats("summary")                # the HTML report (docs/report.md)


@pytest.mark.parametrize("command", COMMANDS)
def test_json_parses_with_the_schema(command: str, net: str) -> None:
    data = json.loads(run([*invocations(net)[command], "-f", "json"]))
    assert data["schema"] == f"netanatomy.{command if command != 'rf' else 'summary'}/1"


@pytest.mark.parametrize("command", COMMANDS)
def test_table_is_text(command: str, net: str) -> None:
    text = run([*invocations(net)[command], "-f", "table"])
    assert text.strip() and not text.lstrip().startswith("{")


def test_summary_csv(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["summary"], "-f", "csv"]))
    assert [row["path"] for row in rows] == ["", "0"]
    assert int(rows[1]["macs"]) == 8 * 6 * 6 * 4 * 3 * 3         # F·H·W·D·K²
    assert rows[1]["uncounted"] == "" and rows[1]["status"] == "exact"
    # conv reads x (D·H·W) and the weights (F·D·K² + F), writes F·H·W; 4 bytes each
    assert int(rows[1]["bytes_accessed"]) == 4 * (4 * 6 * 6 + 8 * 4 * 9 + 8 + 8 * 6 * 6)


def test_summary_explain_csv_has_one_row_per_step(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["summary"], "--explain", "-f", "csv"]))
    assert rows and list(rows[0]) == ["path", "op", "kind", "quantity", "formula",
                                      "substituted", "result"]
    macs = [row for row in rows if row["path"] == "0" and row["quantity"] == "MACs"]
    assert [row["result"] for row in macs] == [str(8 * 6 * 6 * 4 * 3 * 3)]


def test_summary_explain_json_keeps_the_document(net: str) -> None:
    data = json.loads(run([*invocations(net)["summary"], "--explain", "-f", "json"]))
    assert data["layers"] and {"path", "op", "kind", "steps"} <= set(data["explain"][0])


def test_rf_csv_per_layer(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["rf"], "-f", "csv"]))
    assert list(rows[0]) == ["path", "type", "depth", "output_shape", "size", "stride",
                             "padding", "global", "by"]
    conv = next(row for row in rows if row["path"] == "0")
    assert (conv["size"], conv["stride"], conv["padding"]) == ("3x3", "1x1", "1x1")


def test_rf_csv_with_measure(net: str) -> None:
    rows = csv_rows(run(["rf", net, "--input", "1x3x6x6", "--measure", "-f", "csv"]))
    conv = next(row for row in rows if row["path"] == "0")
    assert conv["size"] == "3x3" and conv["measured_size"] == "3x3"


def test_compare_csv_one_row_per_metric(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["compare"], "-f", "csv"]))
    assert list(rows[0]) == ["quantity", "first", "second", "ratio"]
    macs = next(row for row in rows if row["quantity"] == "macs")
    standard = 8 * 6 * 6 * 4 * 3 * 3                       # F·HW·D·K²
    separable = 6 * 6 * 4 * 3 * 3 + 6 * 6 * 4 * 8          # depthwise D·HW·K² + pointwise
    assert (int(macs["first"]), int(macs["second"])) == (standard, separable)
    assert float(macs["ratio"]) == pytest.approx(separable / standard)


def test_sweep_csv_one_row_per_grid_point(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["sweep"], "-f", "csv"]))
    assert [row["K"] for row in rows] == ["3", "5"]
    for row in rows:
        k = int(row["K"])
        assert int(row["macs"]) == 6 * 6 * 4 * k * k + 6 * 6 * 4 * 8


def test_lint_csv_columns(net: str) -> None:
    text = run(["lint", net, "--input", "2x3x6x6", "-f", "csv"])
    rows = csv_rows(text)
    assert text.splitlines()[0] == "code,path,message,wasted_params,fix,severity"
    na001 = [row for row in rows if row["code"] == "NA001"]   # conv bias before batch norm
    assert [(row["path"], int(row["wasted_params"])) for row in na001] == [("0", 4)]


def test_diagnose_csv_one_row_per_layer(net: str) -> None:
    rows = csv_rows(run([*invocations(net)["diagnose"], "-f", "csv"]))
    assert [row["path"] for row in rows] == ["", "0", "1", "2", "3", "4"]
    assert {"act_mean", "grad_output_norm", "init_ratio"} <= set(rows[0])


@pytest.mark.parametrize("command", COMMANDS)
def test_other_formats_are_refused_before_anything_runs(command: str) -> None:
    args = {"summary": ["summary", "no_such_module_xyz:Net"],
            "rf": ["rf", "no_such_module_xyz:Net"],
            "compare": ["compare", "no_such_module_xyz:A", "no_such_module_xyz:B"],
            "sweep": ["sweep", "no_such.yaml", "--vary", "K=1"],
            "lint": ["lint", "no_such_module_xyz:Net"],
            "diagnose": ["diagnose", "no_such_module_xyz:Net"]}[command]
    result = runner.invoke(app, [*args, "--format", "xml"])
    assert result.exit_code == 2, result.output
    offered = "table, json, csv or html" if command in ("summary", "rf", "lint", "diagnose") else \
        "table, json or csv"
    assert f"{command} writes {offered}, not 'xml'" in result.output
    assert "cannot import" not in result.output and "Traceback" not in result.output


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    result = runner.invoke(app, ["sweep", SEPARABLE, "--vary", "K=3", "--set",
                                 "F=8,D=4,H=6,W=6", "-f", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert csv_rows(out.read_text())[0]["K"] == "3"
