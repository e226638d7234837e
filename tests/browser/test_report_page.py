"""The HTML report in a real browser, opened from ``file://`` with the network off: the
graph (nodes, repeated blocks collapsing and expanding, their summed costs), the table
(sorting, filtering) and a spec's derivations on click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy import spec
from netanatomy.analysis.explain import explain
from netanatomy.render.html import page
from netanatomy.render.report_data import report_payload
from tests.browser.pages import (
    initial_node_count,
    module_id,
    node_ids,
    nodes,
    rows,
    sort_key,
    wait_for_nodes,
)

SIDE, WIDTH, K = 16, 8, 3
BLOCK_MACS = SIDE * SIDE * WIDTH * (K * K * WIDTH)   # H_out*W_out*C_out * k*k*C_in, pad 1
BLOCK_PARAMS = K * K * WIDTH * WIDTH                 # no bias


class Block(nn.Module):
    """3×3 conv (8 → 8, padding 1, no bias), then ReLU: repeated three times below."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(WIDTH, WIDTH, K, padding=1, bias=False)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def small_model() -> nn.Module:
    """Root children: conv, relu, Block × 3 (paths 2, 3, 4), pool, flatten, linear."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, WIDTH, K, padding=1), nn.ReLU(), Block(), Block(),
                         Block(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDTH, 4))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    result = netanatomy.analyze(small_model(), f"1x3x{SIDE}x{SIDE}")
    payload = report_payload(result, source={"kind": "torch", "target": "tests:small_model",
                                             "inputs": [f"1x3x{SIDE}x{SIDE}"],
                                             "settings": {}})
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page(payload), encoding="utf-8")
    return path, payload


def opened(open_page: Any, report: tuple[Path, dict[str, Any]]) -> Any:
    return open_page(report[0].as_uri(), offline=True).ready()


def test_opens_offline_without_console_errors(open_page: Any,
                                              report: tuple[Path, dict[str, Any]]) -> None:
    view = opened(open_page, report)           # the fixture asserts: no errors, no requests
    assert view.evaluate("window.netanatomy.data.schema") == "netanatomy.report/1"
    assert view.locator("#layers table").count() == 1
    assert view.locator("#conventions").inner_text().strip()


def test_the_graph_shows_the_roots_children_with_runs_collapsed(
        open_page: Any, report: tuple[Path, dict[str, Any]]) -> None:
    view = opened(open_page, report)
    graph = report[1]["graph"]
    drawn = [node for node in nodes(view) if node["kind"] in ("module", "group")]
    assert len(drawn) == initial_node_count(graph)
    assert len(drawn) == 8 - 3 + 1            # 8 children, the 3 Blocks as one node
    assert [node["kind"] for node in drawn].count("group") == 1
    assert view.locator("#graph path.na-edge").count() >= len(drawn) - 1


def test_a_resnet18_report(open_page: Any, tmp_path: Path) -> None:
    """A real model: no console error, its ten top-level modules drawn (layer1's two
    identical BasicBlocks are collapsed inside layer1, not at the top)."""
    from netanatomy.frontends.torch.target import load_target

    result = netanatomy.analyze(load_target("zoo:resnet18"), "1x3x224x224")
    payload = report_payload(result)
    path = tmp_path / "resnet18.html"
    path.write_text(page(payload), encoding="utf-8")
    view = open_page(path.as_uri(), offline=True).ready()
    drawn = [node for node in nodes(view) if node["kind"] in ("module", "group")]
    assert len(drawn) == initial_node_count(payload["graph"]) == 10   # conv1 ... fc
    layer1 = f"m{module_id(payload['graph'], 'layer1')}"
    view.locator(f'#graph g.na-node[data-node-id="{layer1}"]').click()
    (group,) = [g for g in payload["graph"]["groups"] if g["label"] == "BasicBlock × 2"]
    wait_for_nodes(view, present={f"g{group['id']}"})


def test_a_repeated_block_expands_and_collapses(open_page: Any,
                                                report: tuple[Path, dict[str, Any]]) -> None:
    view = opened(open_page, report)
    graph = report[1]["graph"]
    (group,) = graph["groups"]
    members = {f"m{member}" for member in group["members"]}
    assert members == {f"m{module_id(graph, path)}" for path in ("2", "3", "4")}
    gid = f"g{group['id']}"
    assert gid in node_ids(view) and not members & node_ids(view)
    view.locator(f'#graph g.na-node[data-node-id="{gid}"]').click()
    wait_for_nodes(view, present=members, absent={gid})
    view.evaluate(f"window.netanatomy.collapse('{gid}')")
    wait_for_nodes(view, present={gid}, absent=members)
    view.evaluate(f"window.netanatomy.expand('{gid}')")
    wait_for_nodes(view, present=members, absent={gid})
    block = f"m{module_id(graph, '3')}"                 # a module expands into its children
    children = {f"m{module_id(graph, path)}" for path in ("3.conv", "3.act")}
    view.locator(f'#graph g.na-node[data-node-id="{block}"]').click()
    wait_for_nodes(view, present=children)
    view.evaluate(f"window.netanatomy.collapse('{block}')")
    wait_for_nodes(view, present={block}, absent=children)


def test_a_collapsed_block_shows_the_sum_of_its_rows(
        open_page: Any, report: tuple[Path, dict[str, Any]]) -> None:
    view = opened(open_page, report)
    (group,) = [node for node in nodes(view) if node["kind"] == "group"]
    macs = dict(rows(view, "macs"))
    params = dict(rows(view, "params_total"))
    assert int(group["macs"]) == sum(int(macs[path]) for path in ("2", "3", "4"))
    assert int(group["macs"]) == 3 * BLOCK_MACS
    assert int(group["params"]) == sum(int(params[path]) for path in ("2", "3", "4"))
    assert int(group["params"]) == 3 * BLOCK_PARAMS


@pytest.mark.parametrize("column", ["macs", "params_total"])
def test_sorting_the_table(open_page: Any, report: tuple[Path, dict[str, Any]],
                           column: str) -> None:
    view = opened(open_page, report)
    layers = report[1]["summary"]["layers"]
    header = view.locator(f'#layers thead th[data-col="{column}"]')
    for _ in range(2):                                 # one direction, then the other
        header.click()
        view.wait_for_function(f"""() => !!document.querySelector(
            '#layers thead th[data-col="{column}"][data-sort]')""", timeout=5000)
        descending = header.get_attribute("data-sort") == "desc"
        shown = rows(view, column)
        expected = sorted((layer[column] for layer in layers),
                          key=lambda value: sort_key(value, descending))
        assert [None if v in ("", "null") else int(v) for _, v in shown] == expected
        assert sorted(path for path, _ in shown) == sorted(layer["path"] for layer in layers)
    assert {header.get_attribute("data-sort")} <= {"asc", "desc"}


@pytest.mark.parametrize("text", ["Conv2d", "Block", "3."])
def test_filtering_the_table(open_page: Any, report: tuple[Path, dict[str, Any]],
                             text: str) -> None:
    view = opened(open_page, report)
    layers = report[1]["summary"]["layers"]
    view.fill("#layers-filter", text)
    expected = {layer["path"] for layer in layers
                if text.lower() in layer["path"].lower() or text.lower() in
                layer["type"].lower()}
    view.wait_for_function("""(count) => [...document.querySelectorAll(
        '#layers tbody tr[data-path]')].filter(tr => !tr.hidden).length === count""",
                           arg=len(expected), timeout=5000)
    assert {path for path, _ in rows(view, "path")} == expected
    assert expected                                    # the filter keeps something


def test_a_spec_report_shows_formulas_and_derivations(open_page: Any,
                                                      tmp_path: Path) -> None:
    text = "input: [C, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n  - relu\n"
    result = spec.analyze(text)
    payload = report_payload(result, explanations=explain(result.graph))
    path = tmp_path / "spec.html"
    path.write_text(page(payload), encoding="utf-8")
    view = open_page(path.as_uri(), offline=True).ready()
    assert dict(rows(view, "params_total"))["0"] == "36*C + 4"     # 3*3*C*4 + bias 4
    view.locator('#layers tbody tr[data-path="0"]').click()
    view.wait_for_selector("#details .na-step", timeout=5000)
    assert view.locator("#details .na-step").count() >= 1


def test_a_lab_page_shows_its_figure(open_page: Any, tmp_path: Path) -> None:
    """``lab NAME --format html``: the experiment's figure as an <img> in #plots, decoded
    by the browser at the PNG's own size, alt text = the image's title."""
    import base64
    import io

    from PIL import Image

    from netanatomy import lab
    from netanatomy.render.catalog import write

    result = lab.run("sigmoid-saturation")
    text = write("lab", "html", result)
    path = tmp_path / "lab.html"
    path.write_text(text, encoding="utf-8")
    view = open_page(path.as_uri(), offline=True).ready()
    image = view.locator('#plots div.na-plot[data-plot="images"] img')
    assert image.count() == 1
    image.scroll_into_view_if_needed()
    view.wait_for_function("""() => {
        const img = document.querySelector('#plots div.na-plot[data-plot="images"] img');
        return img && img.complete && img.naturalWidth > 0; }""", timeout=5000)
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    alt = image.get_attribute("alt")
    embedded = view.evaluate("() => window.netanatomy.data.images[0]")
    png = Image.open(io.BytesIO(base64.b64decode(embedded["png"])))
    assert tuple(size) == png.size
    assert alt == embedded["title"] == f"sigmoid-saturation: {result.experiment.title}"


def test_a_training_page_plots_the_commands_own_roofline(open_page: Any,
                                                         tmp_path: Path) -> None:
    """``training --device-type --format html``: no summary, so no graph section; the
    roofline plot is drawn from the command's per-module rows (their "self" scope, one point
    per module and phase that moves bytes), on the device's ridge point."""
    import json

    import torch

    import netanatomy
    from netanatomy.render.catalog import write

    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 8))
    report = netanatomy.training(model, (16, 64), device_type="h100-sxm")
    path = tmp_path / "training.html"
    path.write_text(write("training", "html", report), encoding="utf-8")
    view = open_page(path.as_uri(), offline=True).ready()
    view.wait_for_function("() => document.body.dataset.plots === '1'", timeout=10000)
    assert view.locator("#na-graph-section").is_hidden()
    plot = view.locator('#plots div.na-plot[data-plot="roofline"]')
    assert plot.count() == 1
    # H100 SXM datasheet: FP32 67 TFLOPS, 3.35 TB/s → ridge point 67e12 / 3.35e12 = 20
    assert "per module and phase" in plot.inner_text()
    assert "ridge at 20 FLOP/byte" in plot.inner_text()
    rows = json.loads(write("training", "json", report))["roofline"]["modules"]
    phases = {row["phase"] for row in rows if row["scope"] == "self" and row["bytes"]}
    legend = plot.inner_text()
    assert all(phase in legend for phase in phases), (phases, legend)
