"""Renderers: the table (fixed width, no colour), JSON contract, CSV and DataFrame."""

from __future__ import annotations

import csv
import io
import json

import pytest
from torch import nn

import netanatomy
from netanatomy.render.table import tree_labels
from tests.opaque_ops import OP_NAME, HalfKnown


@pytest.fixture
def report(mlp: nn.Module) -> netanatomy.Report:
    return netanatomy.analyze(mlp, (2, 8))


def test_table_lists_tree_totals_and_conventions(report: netanatomy.Report) -> None:
    text = report.render(width=120)
    lines = text.splitlines()
    assert any(line.startswith("│<root>") and "TwoLayerMLP" in line for line in lines)
    assert any("├─ fc1" in line and "Linear" in line and "2×16" in line for line in lines)
    assert any("└─ fc2" in line for line in lines)
    params = 8 * 16 + 16 + 16 * 4 + 4
    assert f"Params: {params:,}" in text
    assert f"MACs: {2 * 8 * 16 + 2 * 16 * 4:,}" in text
    assert "Conventions: MAC = multiply + add; FLOPs = 2 × MACs" in text
    assert text == report.render(width=120)                  # deterministic


def test_tree_labels_nest_and_close_branches() -> None:
    model = nn.Sequential(nn.Sequential(nn.ReLU(), nn.ReLU()), nn.ReLU())
    report = netanatomy.analyze(model, (1, 2))
    assert tree_labels(report.tree()) == ["<root>", "├─ 0", "│  ├─ 0", "│  └─ 1", "└─ 1"]


def test_table_depth_limits_rows(report: netanatomy.Report) -> None:
    assert "fc1" not in report.render(depth=0, width=120)


def test_uncounted_ops_are_shown_with_their_layers() -> None:
    text = netanatomy.analyze(HalfKnown(), (3, 4)).render(width=140)
    assert f"Uncounted ops (no rule; counts marked * are partial, ? unknown): {OP_NAME} ×2 " \
           "in unknown" in text
    lines = text.splitlines()
    unknown = next(line for line in lines if "├─ unknown" in line)
    assert unknown.split("│")[5].strip() == "?"              # MACs unknown, not 0
    root = next(line for line in lines if line.startswith("│<root>"))
    assert root.split("│")[5].strip() == f"{3 * 4 * 4}*"     # the Linear's, partial


def test_json_contract(report: netanatomy.Report) -> None:
    data = json.loads(report.to_json())
    assert data["schema"] == "netanatomy.summary/1"
    assert {"schema", "conventions", "totals", "layers", "uncounted"} <= set(data)
    for key in ("params", "trainable_params", "frozen_params", "buffers", "macs", "flops",
                "param_bytes", "activation_bytes"):
        assert isinstance(data["totals"][key], int), key
    for layer in data["layers"]:
        for key in ("path", "type", "output_shape", "params", "macs", "flops",
                    "activation_bytes"):
            assert key in layer, key
    root = data["layers"][0]
    assert root["path"] == "" and root["type"] == "TwoLayerMLP"
    assert root["output_shape"] == [2, 4]
    assert root["macs"] == data["totals"]["macs"] == 2 * 8 * 16 + 2 * 16 * 4
    assert root["flops"] == 2 * root["macs"]
    assert data["uncounted"] == []
    assert "MAC" in data["conventions"]["macs"] or "multiply" in data["conventions"]["macs"]


def test_json_depth(report: netanatomy.Report) -> None:
    assert [layer["path"] for layer in report.to_dict(depth=0)["layers"]] == [""]


def test_csv_has_one_row_per_layer(report: netanatomy.Report) -> None:
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [row["path"] for row in rows] == ["", "fc1", "act", "fc2"]
    assert rows[1]["output_shape"] == "2x16"
    assert int(rows[1]["macs"]) == 2 * 8 * 16


def test_dataframe(report: netanatomy.Report) -> None:
    pytest.importorskip("pandas")
    frame = report.to_dataframe()
    assert frame.loc["fc2", "macs"] == 2 * 16 * 4
    assert list(frame.index) == ["", "fc1", "act", "fc2"]


def test_csv_marks_unknown_and_lists_each_layers_uncounted_ops() -> None:
    rows = {row["path"]: row for row in csv.DictReader(io.StringIO(
        netanatomy.analyze(HalfKnown(), (3, 4)).to_csv()))}
    assert rows["unknown"]["macs"] == rows["unknown"]["flops"] == "?"
    assert rows["unknown"]["uncounted"] == rows[""]["uncounted"] == f"{OP_NAME} x2"
    assert rows["known"]["uncounted"] == "" and rows["known"]["macs"] == str(3 * 4 * 4)
    assert rows[""]["status"] == "partial" and rows["unknown"]["status"] == "unknown"


def test_json_layers_list_their_uncounted_ops(report: netanatomy.Report) -> None:
    assert all(layer["uncounted"] == [] for layer in report.to_dict()["layers"])
    assert isinstance(report.to_dict()["layers"][0]["bytes_accessed"], int)


def test_registry_refuses_a_second_renderer_and_lists_formats() -> None:
    from netanatomy.errors import RuleError, UsageError
    from netanatomy.render.catalog import find, formats
    from netanatomy.render.registry import renderer

    with pytest.raises(RuleError, match="already has a 'json' renderer"):
        renderer("summary", "json")(lambda result, options: "")
    assert formats("summary") == ("table", "json", "csv", "html")
    with pytest.raises(UsageError, match="summary writes table, json, csv or html, not 'xml'"):
        find("summary", "xml")
