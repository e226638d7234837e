"""The HTML report without a browser: the data embedded in the page is the JSON report, the
sums it shows agree with the table, nothing can break out of the data element, nothing is
fetched, the licences travel with the vendored code, and the size stays small."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy import spec
from netanatomy.render.html import VENDOR, AssetError, page
from netanatomy.render.report_data import SCHEMA, report_payload

DATA = re.compile(r'<script id="netanatomy-data" type="application/json">(.*?)</script>',
                  re.DOTALL)


def embedded(text: str) -> object:
    """The payload parsed back out of a page."""
    (data,) = DATA.findall(text)
    return json.loads(data)


@pytest.fixture(scope="module")
def resnet18() -> netanatomy.Report:
    from netanatomy.frontends.torch.target import load_target

    return netanatomy.analyze(load_target("zoo:resnet18"), (1, 3, 224, 224))


def test_the_embedded_data_is_the_payload_and_its_summary_the_json_report(resnet18) -> None:
    payload = report_payload(resnet18)
    data = embedded(page(payload))
    assert data == json.loads(json.dumps(payload))
    assert data["schema"] == SCHEMA
    assert data["summary"] == json.loads(resnet18.to_json())
    assert payload["summary"] == resnet18.to_dict()
    assert [m["path"] for m in data["graph"]["modules"]] == [r.path for r in resnet18.layers]


def test_report_to_html_is_the_summary_html_renderer(resnet18) -> None:
    from netanatomy.render.catalog import write
    from netanatomy.render.results import SummaryResult

    assert resnet18.to_html() == write("summary", "html", SummaryResult(resnet18))


def test_group_totals_are_the_sums_of_the_members_rows(resnet18) -> None:
    data = embedded(resnet18.to_html())
    rows = data["summary"]["layers"]
    modules = data["graph"]["modules"]
    (group,) = data["graph"]["groups"]                    # ResNet-18: only layer1's 2 alike
    assert group["label"] == "BasicBlock × 2"
    assert [modules[m]["path"] for m in group["members"]] == ["layer1.0", "layer1.1"]
    for key, total in group["totals"].items():
        assert total == sum(rows[modules[m]["row"]][key] for m in group["members"]), key
    assert group["totals"]["macs"] == rows[modules[group["parent"]]["row"]]["macs"]


def test_op_costs_sum_to_the_totals_and_every_op_has_a_module(resnet18) -> None:
    data = embedded(resnet18.to_html())
    ops, totals = data["graph"]["ops"], data["summary"]["totals"]
    assert sum(op["macs"] for op in ops) == totals["macs"]
    assert sum(op["elementwise_flops"] for op in ops) == totals["elementwise_flops"]
    assert sum(op["activation_bytes"] for op in ops) == totals["activation_bytes"]
    owned = sorted(op for module in data["graph"]["modules"] for op in module["ops"])
    assert owned == list(range(len(ops)))
    assert ops[0]["inputs"] == [-1]                       # conv1 reads the image
    assert data["graph"]["inputs"] == [{"name": "input 0", "shape": [1, 3, 224, 224],
                                        "dtype": "float32"}]
    conv = ops[0]
    assert conv["macs"] == 112 * 112 * 64 * 3 * 7 * 7      # conv1: 7×7, 3→64, 112×112 out
    assert conv["params"] == 64 * 3 * 7 * 7
    for op in ops:
        assert all(source < op["id"] for source in op["inputs"])   # producers come first


def test_a_layer_name_cannot_break_out_of_the_data_element() -> None:
    evil = "</script><script>alert(1)</script>"
    model = nn.Sequential()
    model.add_module(evil, nn.Linear(4, 4))
    report = netanatomy.analyze(model, (1, 4))
    text = report.to_html()
    assert evil not in text and "alert(1)</script>" not in text
    data = embedded(text)
    assert data["summary"]["layers"][1]["path"] == evil
    (data_text,) = DATA.findall(page({"title": "t", "x": "\u2028\u2029&<>"}))
    assert data_text == '{"title":"t","x":"\\u2028\\u2029\\u0026\\u003c\\u003e"}'


def test_the_title_is_text_escaped() -> None:
    text = page({"title": "<b>&"})
    assert "<title>&lt;b&gt;&amp;</title>" in text


def test_nothing_is_fetched_and_every_vendored_licence_is_in_the_page(resnet18) -> None:
    text = resnet18.to_html()
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", text)
    assets = resources.files("netanatomy.render") / "assets"
    licences = [name for name in (p.name for p in (assets / "vendor").iterdir())
                if name.endswith("LICENSE")]
    assert sorted(licences) == sorted(lic.split("/")[1] for _, lic in VENDOR)
    for _, licence in VENDOR:
        body = (assets / licence).read_text(encoding="utf-8").replace("*/", "* /")
        assert body in text, licence


def test_a_resnet50_report_is_under_two_megabytes() -> None:
    from netanatomy.frontends.torch.target import load_target

    report = netanatomy.analyze(load_target("zoo:resnet50"), (1, 3, 224, 224))
    size = len(report.to_html().encode("utf-8"))
    assert size < 2 * 1024 * 1024, size


def test_a_spec_with_some_symbols_set_keeps_formulas_as_strings() -> None:
    report = spec.analyze("example:standard-conv", {"K": 3})
    data = embedded(report.to_html())
    first = data["graph"]["ops"][0]
    assert first["macs"] == "9*H*M*N*W"                      # K² · M · N · H · W, K = 3
    assert data["summary"]["totals"]["params"] == str(report.totals.params)
    assert data["explain"] and data["explain"][0]["path"] == "0"   # a spec always explains
    assert data["explain"][0]["convention"]
    assert data["source"]["kind"] == "spec"


def test_a_section_page_carries_the_commands_json() -> None:
    from netanatomy.render.catalog import write

    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    result = netanatomy.training(model, (4, 8))
    data = embedded(write("training", "html", result))
    assert data["sections"]["training"] == json.loads(write("training", "json", result))
    assert data["summary"] is None


def test_sections_beside_a_summary_and_unknown_sections_refused() -> None:
    model = nn.Sequential(nn.Linear(8, 8))
    report = netanatomy.analyze(model, (4, 8))
    training = netanatomy.training(model, (4, 8))
    data = embedded(report.to_html(sections={"training": training}))
    assert data["sections"]["training"]["schema"] == "netanatomy.training/1"
    assert data["summary"] == json.loads(report.to_json())
    with pytest.raises(ValueError, match="unknown report sections"):
        report_payload(report, sections={"bogus": {}})


def test_a_missing_template_is_a_clear_error() -> None:
    with pytest.raises(AssetError, match="nope.html"):
        page({}, template="nope.html")


def test_the_vendored_files_are_the_published_ones() -> None:
    # Each file's sha256, as recorded in vendor/README.md when it was copied from the npm
    # tarball, equals the file shipped: a changed library is a recorded update, not a drift.
    import hashlib
    import re
    from importlib.resources import files

    vendor = files("netanatomy.render") / "assets" / "vendor"
    table = (vendor / "README.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+)`.*`([0-9a-f]{64})` \|$", table, re.M))
    shipped = {p.name for p in vendor.iterdir() if p.name.endswith((".js", ".css"))}
    assert set(recorded) == shipped
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest
