"""``netanatomy.lint`` at the public boundary: inputs of batch 1, bad arguments."""

from __future__ import annotations

import pytest
from torch import nn
from typer.testing import CliRunner

import netanatomy
from netanatomy.cli.main import app


def mlp_with_bn() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_lint_runs_a_batch_one_input_that_training_mode_bn_cannot() -> None:
    # training-mode BatchNorm1d raises on a single sample; lint captures at batch 2
    lints = netanatomy.lint(mlp_with_bn(), (1, 4))
    assert [lint.code for lint in lints] == ["NA001"]          # NA002 skipped: batch 1
    assert lints[0].wasted_params == 8                           # Linear(4, 8) bias


def test_lint_with_a_training_batch_of_one_is_an_error_level_na002() -> None:
    lints = netanatomy.lint(mlp_with_bn(), (1, 4), batch_size=1)
    (small,) = [lint for lint in lints if lint.code == "NA002"]
    assert small.severity == "error" and "single value per channel" in small.message


def test_lint_uses_the_input_batch_when_it_is_larger_than_one() -> None:
    assert [lint.code for lint in netanatomy.lint(mlp_with_bn(), (2, 4))] == ["NA001", "NA002"]
    assert [lint.code for lint in netanatomy.lint(mlp_with_bn(), (32, 4))] == ["NA001"]


def test_lint_rejects_what_is_not_a_module() -> None:
    with pytest.raises(netanatomy.UsageError, match="nn.Module"):
        netanatomy.lint("resnet", (1, 3, 8, 8))


def test_cli_lint_says_why_na002_was_skipped_and_diagnose_rejects_csv_first() -> None:
    result = CliRunner().invoke(app, ["lint", "zoo:resnet18"])
    assert result.exit_code == 0 and "--batch-size" in result.output
    result = CliRunner().invoke(app, ["diagnose", "zoo:resnet18", "--format", "xml"])
    assert result.exit_code == 2 and "table, json, csv or html" in result.output
