"""``netanatomy training --tp``: devices = dp × tp, the JSON's tensor_parallel keys, and
the --gpus/--dp/--tp consistency check."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from netanatomy.cli.main import app

ARGS = ["training", "docs/examples/models.py:TinyTransformer", "--input", "2x16:int64"]


def test_gpus_is_dp_times_tp_and_the_json_carries_the_plan() -> None:
    result = CliRunner().invoke(app, [*ARGS, "--tp", "2", "--gpus", "8", "--shard", "zero1",
                                      "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    parallel = document["tensor_parallel"]
    assert document["sharding"]["dp"] == 8 // 2 and parallel["tp"] == 2
    assert {e["role"] for e in parallel["plan"]} >= {"column", "row", "replicated"}
    assert parallel["communication"]["sent_bytes_per_device"] > 0
    table = CliRunner().invoke(app, [*ARGS, "--tp", "2"])
    assert table.exit_code == 0 and "tensor parallelism tp=2" in table.output


def test_inconsistent_device_counts_are_refused() -> None:
    runner = CliRunner()
    clash = runner.invoke(app, [*ARGS, "--tp", "2", "--dp", "2", "--gpus", "8"])
    assert clash.exit_code == 2 and "dp × tp = 2 × 2 = 4" in clash.output
    odd = runner.invoke(app, [*ARGS, "--tp", "4", "--gpus", "6"])
    assert odd.exit_code == 2 and "not a multiple of --tp 4" in odd.output
