"""``netanatomy lab``: the listing, one run with its figure, a topic run, formats, exit
codes and refused options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netanatomy import lab
from netanatomy.cli.main import app
from netanatomy.lab import base, runner

CLI = CliRunner()


def test_listing_groups_every_experiment_by_topic() -> None:
    result = CLI.invoke(app, ["lab"])
    assert result.exit_code == 0, result.output
    for name, entry in lab.catalogue().items():
        assert name in result.output
        assert f"{entry.topic}:" in result.output
    document = json.loads(CLI.invoke(app, ["lab", "-f", "json"]).stdout)
    assert document["schema"] == "netanatomy.lab-list/1"
    listed = [e["name"] for topic in document["topics"] for e in topic["experiments"]]
    assert sorted(listed) == sorted(lab.catalogue())


def test_one_run_prints_the_checks_and_writes_the_figure(tmp_path: Path) -> None:
    result = CLI.invoke(app, ["lab", "sigmoid-saturation", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "max σ'(z): measured 0.25 ≤ 0.25" in result.output
    assert f"figure: {tmp_path / 'sigmoid-saturation.png'}" in result.output
    assert (tmp_path / "sigmoid-saturation.png").stat().st_size > 5_000


def test_a_claim_that_does_not_hold_exits_1_and_csv_has_a_row_per_check(tmp_path: Path
                                                                        ) -> None:
    result = CLI.invoke(app, ["lab", "sigmoid-saturation", "-p", "saturated_at=0.1",
                              "-p", "limit=0.05", "-f", "csv", "-o", str(tmp_path)])
    assert result.exit_code == 1
    rows = result.stdout.strip().splitlines()
    assert rows[0].startswith("experiment,topic,verdict,quantity")
    assert len(rows) == 1 + 3 and all(",fail," in row for row in rows[1:])


@pytest.mark.parametrize(("args", "message"), [
    (["sigmoid-saturation", "--all"], "give one of NAME, --all or --topic"),
    (["--all", "-p", "x=1"], "--param changes one experiment"),
    (["sigmoid-saturation", "-p", "limit"], "give KEY=VALUE"),
    (["sigmoid-saturation", "-p", "limit=1", "-p", "limit=2"], "given twice"),
    (["sigmoid-saturation", "-p", "limt=1"], "no parameter 'limt'"),
    (["no-such-thing"], "no lab experiment 'no-such-thing'"),
    (["--topic", "astrology"], "no lab topic"),
    (["-f", "xml"], "lab writes table, json, csv or html"),
])
def test_bad_usage_exits_2_with_a_message(args: list[str], message: str) -> None:
    result = CLI.invoke(app, ["lab", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_an_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    result = CLI.invoke(app, ["lab", "sigmoid-saturation", "-o", str(path)])
    assert result.exit_code == 2 and "is a file" in result.output


def test_all_writes_a_figure_each_and_the_summary(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # the whole catalogue runs in tests/lab/test_catalogue.py; here one experiment stands in
    catalogue = runner.load()
    monkeypatch.setattr(base, "_EXPERIMENTS",
                        {"sigmoid-saturation": catalogue["sigmoid-saturation"]})
    result = CLI.invoke(app, ["lab", "--all", "-o", str(tmp_path / "lab")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "lab" / "summary.json").read_text())
    assert summary["passed"] == 1 and summary["failed"] == 0
    assert (tmp_path / "lab" / "sigmoid-saturation.png").is_file()
    assert "1 of 1 passed" in result.output
