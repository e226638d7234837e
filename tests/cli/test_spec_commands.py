"""CLI on specs: summary with --set/--explain, compare, sweep, examples, spec-layers, rf."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from netanatomy.cli.main import app

runner = CliRunner()
CONV = "docs/examples/conv.yaml"
SEPARABLE = "docs/examples/separable.yaml"
VALUES = "K=3,F=64,D=32,H=56,W=56"


def test_symbolic_summary_prints_formulas(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["summary", CONV, "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["params"] == "D*F*K**2 + F"
    assert data["layers"][1]["rf"] == {"size": ["K", "K"], "stride": [1, 1],
                                       "padding": ["floor(K/2 - 1/2)", "floor(K/2 - 1/2)"],
                                       "global": False}


def test_set_and_explain() -> None:
    result = runner.invoke(app, ["summary", CONV, "--set", VALUES, "--explain"])
    assert result.exit_code == 0, result.output
    macs = 64 * 56 * 56 * 32 * 3 * 3                        # C_out·H·W·C_in·k²
    assert f"= {macs:,}" in result.output
    # the formula the conv rule evaluates, its numbers, and the result (weights + bias)
    assert "MACs = C_g·C_out·H'·N·W'·k_h·k_w = 32·64·56·1·56·3·3 = " in result.output
    assert f"params = C_g·C_out·k_h·k_w + C_out = 32·64·3·3 + 64 = {32 * 64 * 9 + 64:,}" \
        in result.output


def test_compare_gives_the_separable_ratio() -> None:
    result = runner.invoke(app, ["compare", CONV, SEPARABLE, "--set", VALUES, "-f", "json"])
    assert result.exit_code == 0, result.output
    ratios = json.loads(result.stdout)["ratios"]
    # depthwise k²·D·HW + pointwise D·F·HW over standard k²·D·F·HW = 1/F + 1/k²
    assert abs(ratios["macs"] - (1 / 64 + 1 / 9)) < 1e-12


def test_sweep_over_a_grid() -> None:
    result = runner.invoke(app, ["sweep", SEPARABLE, "--vary", "K=3,5", "--vary", "F=16,32",
                                 "--set", "D=8,H=10,W=10", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(row["K"], row["F"]) for row in rows] == [(3, 16), (3, 32), (5, 16), (5, 32)]
    for row in rows:                                     # depthwise + pointwise, 'same'
        hw = 10 * 10
        assert row["macs"] == hw * 8 * row["K"] ** 2 + hw * 8 * row["F"]


def test_examples_and_layer_listing() -> None:
    listing = runner.invoke(app, ["examples"])
    assert listing.exit_code == 0 and "example:inception-3a" in listing.output
    layers = runner.invoke(app, ["spec-layers"])
    assert layers.exit_code == 0 and "conv" in layers.output and "out, k, s=1" in layers.output


def test_spec_errors_exit_2_with_position(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3, group: 2}\n")
    result = runner.invoke(app, ["summary", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3:" in result.output and "did you mean" in result.output
    assert "Traceback" not in result.output


def test_input_option_is_refused_for_specs() -> None:
    result = runner.invoke(app, ["summary", CONV, "--input", "1x3x8x8"])
    assert result.exit_code == 2 and "declares its own input" in result.output


def test_rf_on_a_spec_example() -> None:
    result = runner.invoke(app, ["rf", "example:inception-3a", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["receptive_field"]["output"]["size"] == [5, 5]      # the 5×5 branch
