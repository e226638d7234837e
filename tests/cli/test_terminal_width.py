"""Tables fit the terminal: at 60, 80, 100 and 160 columns no line of ``summary``, ``rf``
or ``diagnose`` is wider than asked, every number shown is the JSON's value formatted, and
the note names exactly the columns left out."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from netanatomy.cli.main import app
from netanatomy.render.catalog import write
from netanatomy.render.format import format_bytes, format_count

runner = CliRunner()
WIDTHS = (60, 80, 100, 160)
SUMMARY_COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "FLOPs", "Elem. FLOPs",
                   "Activations", "RF /stride")


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def table_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Headers and body rows of the first boxed table in ``text``, cut at the header's
    ``┃`` borders (tree labels hold ``│`` too, so splitting on it would not do)."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    borders = [i for i, char in enumerate(header) if char == "┃"]
    headers = [header[a + 1:b].strip() for a, b in zip(borders, borders[1:])]
    start = lines.index(header) + 2
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    rows = [{h: line[a + 1:b] for h, a, b in zip(headers, borders, borders[1:])}
            for line in lines[start:end]]
    return headers, rows


def note_columns(text: str, width: int) -> set[str] | None:
    """The columns the note says are not shown (None: no note)."""
    flat = " ".join(text.split())
    found = re.search(rf"Columns not shown at width {width}: (.*?) \(use --width (\d+)", flat)
    return None if found is None else set(found.group(1).split(", "))


@pytest.fixture(scope="module")
def summary_json() -> dict:  # type: ignore[type-arg]
    return json.loads(run("summary", "zoo:resnet18", "--format", "json", "--depth", "3"))


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_fits_and_keeps_every_number(width: int, summary_json: dict) -> None:  # type: ignore[type-arg]
    text = run("summary", "zoo:resnet18", "--width", str(width))
    assert max(len(line) for line in text.splitlines()) <= width
    headers, rows = table_of(text)
    assert headers[0] == "Layer" and {"Params", "MACs", "Output shape"} <= set(headers)
    dropped = set(SUMMARY_COLUMNS) - set(headers)
    assert note_columns(text, width) == (dropped or None)
    layers = summary_json["layers"]
    assert len(rows) == len(layers)
    for row, layer in zip(rows, layers):
        mark = "*" if layer["status"] == "partial" else ""
        expected = {"Params": format_count(layer["params_total"]),
                    "MACs": format_count(layer["macs"]) + mark,
                    "FLOPs": format_count(layer["flops"]) + mark,
                    "Elem. FLOPs": format_count(layer["elementwise_flops"]) + mark,
                    "Activations": format_bytes(layer["activation_bytes"]),
                    "Output shape": "×".join(map(str, layer["output_shape"]))}
        for header, value in expected.items():
            if header in row:
                assert row[header].strip() == value, (header, row)
        name = layer["path"].rpartition(".")[2] or "<root>"
        label = row["Layer"].strip()
        assert label.endswith(name) or label.endswith("…")


def test_wide_terminal_shows_every_column() -> None:
    text = run("summary", "zoo:resnet18", "--width", "240")
    assert table_of(text)[0] == list(SUMMARY_COLUMNS)
    assert note_columns(text, 240) is None


def test_the_note_names_the_width_that_shows_everything() -> None:
    text = run("summary", "zoo:resnet18", "--width", "80")
    found = re.search(r"use --width (\d+)", " ".join(text.split()))
    assert found is not None
    full = int(found.group(1))
    assert note_columns(run("summary", "zoo:resnet18", "--width", str(full)), full) is None
    narrower = run("summary", "zoo:resnet18", "--width", str(full - 1))
    assert note_columns(narrower, full - 1) or any(
        "…" in row["Type"] for row in table_of(narrower)[1])


@pytest.mark.parametrize("width", WIDTHS)
def test_rf_table_fits(width: int) -> None:
    text = run("rf", "example:alexnet", "--width", str(width))
    assert max(len(line) for line in text.splitlines()) <= width
    headers, rows = table_of(text)
    assert {"Layer", "RF size"} <= set(headers)
    document = json.loads(run("rf", "example:alexnet", "--format", "json", "--depth", "3"))
    layers = document["layers"]
    sizes = ["×".join(map(str, layer["rf"]["size"])) if layer.get("rf") and
             "size" in layer["rf"] else None for layer in layers]
    for row, size in zip(rows, sizes):
        if size is not None:
            assert row["RF size"].strip() == size
    dropped = {"Type", "Output shape", "RF size", "Stride", "Padding"} - set(headers)
    assert note_columns(text, width) == (dropped - {"Layer"} or None)


@pytest.fixture(scope="module")
def diagnosis() -> Any:
    import netanatomy

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 16 * 16, 10))
    return netanatomy.diagnose(model, input_size=["2x3x16x16"])


@pytest.mark.parametrize("width", WIDTHS)
def test_diagnose_table_fits(width: int, diagnosis: Any) -> None:
    text = write("diagnose", "table", diagnosis, width=width, depth=3)
    assert max(len(line) for line in text.splitlines()) <= width
    headers, _ = table_of(text)
    all_columns = {"Layer", "Type", "Output shape", "Act mean", "Act std", "Dead %",
                   "Sat. %", "Grad norm", "Grad/W", "Gain", "Init", "σ max"}
    assert note_columns(text, width) == (all_columns - set(headers) or None)
