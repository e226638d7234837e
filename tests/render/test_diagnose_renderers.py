"""The diagnose table and JSON, from a hand-built report (deterministic, no model run)."""

from __future__ import annotations

import json

from netanatomy.diagnostics.result import (
    DiagnoseReport,
    InitCheck,
    LayerDiagnostics,
    Lint,
    ParamStats,
    StepRecord,
    Verdict,
)

INIT = InitCheck("fc.weight", fan_in=4, fan_out=2, std=0.25, he_std=(2 / 4) ** 0.5,
                 xavier_std=(2 / 6) ** 0.5, activation="relu", expected="he",
                 ratio=0.25 / (2 / 4) ** 0.5, closest="xavier", normalised=False, flagged=True)
ROOT = LayerDiagnostics("", "Net", 0, 1, (3, 2), 0.5, 1.5, None, None, 1.0, 0.5, 0.5)
FC = LayerDiagnostics("fc", "Linear", 1, 1, (3, 2), 0.5, 1.5, None, None, 1.0, 0.5, 0.5,
                      params=(ParamStats("fc.weight", (2, 4), 2.0, 0.5, 0.25),),
                      init=INIT, sigma_max=1.25, sigma_method="matrix")
RELU = LayerDiagnostics("act", "ReLU", 1, 1, (3, 2), 0.25, 0.5, 0.5, None, None, None, None)
REPORT = DiagnoseReport(
    layers=(ROOT, FC, RELU),
    verdict=Verdict("healthy", 0.5, 1.25, True, "fc", "act", (), "gradient gain 0.5"),
    lints=(Lint("NA001", "fc", "bias before norm", 2, "bias=False"),),
    loss=1.5, loss_name="ce", input_shapes=((3, 4),), device="cpu", training=True, seed=0,
    steps=(StepRecord(0, 1.5, {"fc.weight": 0.5}),), notes=("a note",))


def test_json_document_keeps_the_contract() -> None:
    data = json.loads(REPORT.to_json())
    assert data["schema"] == "netanatomy.diagnose/1"
    assert [layer["path"] for layer in data["layers"]] == ["", "fc", "act"]
    assert data["verdict"]["status"] == "healthy" and data["verdict"]["bound"] == 1.25
    assert data["lints"] == [{"code": "NA001", "path": "fc", "message": "bias before norm",
                              "wasted_params": 2, "fix": "bias=False",
                              "severity": "warning"}]
    fc = data["layers"][1]
    assert fc["params"][0] == {"name": "fc.weight", "shape": [2, 4], "weight_norm": 2.0,
                               "grad_norm": 0.5, "grad_to_weight": 0.25}
    assert fc["init"]["fan_in"] == 4 and fc["init"]["flagged"] is True
    assert data["layers"][2]["dead_fraction"] == 0.5
    assert data["steps"] == [{"step": 0, "loss": 1.5, "grad_norms": {"fc.weight": 0.5}}]
    assert data["run"]["notes"] == ["a note"] and data["erf"] is None


def test_json_depth_and_non_finite_numbers() -> None:
    assert [layer["path"] for layer in REPORT.to_dict(depth=0)["layers"]] == [""]
    exploding = DiagnoseReport(
        layers=(ROOT,), verdict=Verdict("exploding", float("inf"), None, False, None, None,
                                        (), "not finite"),
        lints=(), loss=float("nan"), loss_name="mse", input_shapes=((1, 1),), device="cpu",
        training=True, seed=0)
    data = json.loads(exploding.to_json())          # strict JSON: no bare inf/nan
    assert data["verdict"]["gain"] == "inf" and data["run"]["loss"] == "nan"


def test_table_shows_rows_verdict_lints_and_conventions() -> None:
    text = REPORT.render(width=150)
    lines = text.splitlines()
    fc_line = next(line for line in lines if "fc" in line and "Linear" in line)
    assert "0.5" in fc_line and "0.25" in fc_line and "1.25" in fc_line
    assert "0.35×he!" in fc_line                      # 0.25 / sqrt(2/4) = 0.354, flagged
    relu_line = next(line for line in lines if "ReLU" in line)
    assert "50.0" in relu_line                        # dead %
    assert "Verdict: HEALTHY" in text
    assert "NA001 fc: bias before norm [2 params wasted]. Fix: bias=False" in text
    assert "Conventions:" in text and "Note: a note" in text
    assert REPORT.render(width=150) == text           # deterministic
