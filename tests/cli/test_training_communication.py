"""``netanatomy training --dp/--shard/--tp --device-type``: the ``communication`` key of
``netanatomy.training/1``, the table's communication block, and ``devices`` showing the
links."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from netanatomy.cli.main import app

ARGS = ["training", "docs/examples/models.py:TinyTransformer", "--input", "2x16:int64"]


def test_the_json_states_bytes_time_and_both_step_times() -> None:
    result = CliRunner().invoke(app, [*ARGS, "--shard", "fsdp", "--dp", "4",
                                      "--device-type", "h100-sxm", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    comm = document["communication"]
    psi = comm["param_bytes"]
    assert comm["dp_sent_bytes"] == 3 * 3 / 4 * psi          # ZeRO-3: 3 × (N−1)/N × Ψ
    assert comm["link_bytes_per_s_per_direction"] == 900 * 10**9 // 2
    assert comm["seconds"] == comm["sent_bytes_per_device"] / (450 * 10**9)
    assert comm["step_seconds_overlapped"] == max(comm["compute_seconds"], comm["seconds"])
    assert comm["compute_seconds"] == document["time"]["seconds"]
    assert [c["kind"] for c in comm["collectives"]] == ["all-gather", "all-gather",
                                                        "reduce-scatter"]


def test_tp_seconds_are_filled_and_a_device_without_a_link_says_why() -> None:
    runner = CliRunner()
    result = runner.invoke(app, [*ARGS, "--tp", "2", "--device-type", "h100-sxm", "-f",
                                 "json"])
    assert result.exit_code == 0, result.output
    parallel = json.loads(result.stdout)["tensor_parallel"]["communication"]
    assert parallel["seconds"] == parallel["sent_bytes_per_device"] / (450 * 10**9)
    table = runner.invoke(app, [*ARGS, "--dp", "2", "--device-type", "rtx-4090"])
    assert table.exit_code == 0, table.output
    assert "communication per device per step" in table.output
    assert "no communication time: rtx-4090" in table.output
    assert json.loads(runner.invoke(app, [*ARGS, "-f", "json"]).stdout)["communication"] \
        is None


def test_devices_show_the_link_per_direction() -> None:
    result = CliRunner().invoke(app, ["devices", "-f", "json"])
    h100 = next(d for d in json.loads(result.stdout)["devices"] if d["key"] == "h100-sxm")
    assert h100["interconnect"]["per_direction_bytes_per_s"] == 450 * 10**9
    assert h100["interconnect"]["bidirectional_bytes_per_s"] == 900 * 10**9
    text = CliRunner().invoke(app, ["devices", "--width", "220"]).stdout
    assert "NVLink 4" in next(line for line in text.splitlines() if "h100-sxm" in line)
