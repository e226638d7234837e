"""``netanatomy devices``: the hardware table in every format, in-process."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from netanatomy.cli.main import app
from netanatomy.hardware import devices
from netanatomy.render.catalog import formats

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, ["devices", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_devices_writes_table_json_and_csv() -> None:
    assert formats("devices") == ("table", "json", "csv")


def test_table_lists_every_device_with_its_peaks() -> None:
    text = run("--width", "220")
    for key in devices():
        assert key in text
    h100 = next(line for line in text.splitlines() if "h100-sxm" in line)
    assert "989.4" in h100 and "3,350" in h100 and "80 GB" in h100   # bf16, GB/s, memory
    assert "Dense peaks" in text


def test_json_has_the_schema_and_exact_figures() -> None:
    data = json.loads(run("-f", "json"))
    assert data["schema"] == "netanatomy.devices/1"
    h100 = next(d for d in data["devices"] if d["key"] == "h100-sxm")
    assert h100["dense_flops_per_s"]["bf16"] == 989_400_000_000_000  # H100 whitepaper
    assert h100["sparse_flops_per_s"]["bf16"] == 1_979_000_000_000_000
    assert h100["bandwidth_bytes_per_s"] == 3_350_000_000_000
    assert all(d["source"]["url"].startswith("https://") for d in data["devices"])


def test_csv_one_row_per_device() -> None:
    rows = list(csv.DictReader(io.StringIO(run("-f", "csv"))))
    assert [row["key"] for row in rows] == list(devices())
    t4 = next(row for row in rows if row["key"] == "t4")
    assert t4["dense_bf16"] == "" and int(t4["dense_fp16"]) == 65 * 10**12  # T4 datasheet


def test_an_unknown_format_is_refused_with_exit_2() -> None:
    result = runner.invoke(app, ["devices", "-f", "html"])
    assert result.exit_code == 2 and "table, json or csv" in result.output
