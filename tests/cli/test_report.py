"""``netanatomy report`` in-process: the page it writes is the one ``summary --format html``
writes, specs carry formulas and derivations, ``--include`` adds the sections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sympy
from typer.testing import CliRunner

from netanatomy.cli.main import app

DATA = re.compile(r'<script id="netanatomy-data" type="application/json">(.*?)</script>',
                  re.DOTALL)


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def embedded(path: Path) -> dict:
    (data,) = DATA.findall(path.read_text(encoding="utf-8"))
    return json.loads(data)


def test_report_is_the_summary_html_page_byte_for_byte(tmp_path: Path) -> None:
    report, summary = tmp_path / "report.html", tmp_path / "summary.html"
    result = invoke("report", "zoo:smallcnn", "-o", str(report))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    result = invoke("summary", "zoo:smallcnn", "--format", "html", "-o", str(summary))
    assert result.exit_code == 0, result.output
    assert report.read_bytes() == summary.read_bytes()
    data = embedded(report)
    assert data["source"] == {"kind": "torch", "target": "zoo:smallcnn",
                              "inputs": ["1x3x32x32"], "settings": {}}
    assert data["title"] == "zoo:smallcnn · input 1x3x32x32"
    assert data["explain"] is None and data["sections"] == {}
    json_result = invoke("summary", "zoo:smallcnn", "--format", "json")
    assert data["summary"] == json.loads(json_result.stdout)


def test_without_output_the_page_goes_to_a_pipe(tmp_path: Path) -> None:
    result = invoke("report", "example:standard-conv")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") or "<html" in result.stdout[:200]


def test_a_spec_with_set_gives_formulas_and_derivations(tmp_path: Path) -> None:
    out = tmp_path / "spec.html"
    result = invoke("report", "example:standard-conv", "--set", "K=3", "-o", str(out))
    assert result.exit_code == 0, result.output
    data = embedded(out)
    assert data["source"]["settings"] == {"K": "3"}
    h, m, n, w = sympy.symbols("H M N W")
    macs = sympy.sympify(data["summary"]["totals"]["macs"],   # M→N, N→N, N→N convs, 3×3
                         locals={"H": h, "M": m, "N": n, "W": w})
    assert sympy.expand(macs - 9 * h * w * n * (m + n + n)) == 0
    assert data["graph"]["ops"][0]["macs"] == "9*H*M*N*W"   # K²·M·N·H·W with K = 3
    assert {entry["path"] for entry in data["explain"]} == {"0", "1", "2"}


def test_include_adds_lint_and_training_sections(tmp_path: Path) -> None:
    out = tmp_path / "both.html"
    result = invoke("report", "zoo:smallcnn", "--include", "lint,training", "-o", str(out))
    assert result.exit_code == 0, result.output
    sections = embedded(out)["sections"]
    assert sections["lint"]["schema"] == "netanatomy.lint/1"
    assert sections["training"]["schema"] == "netanatomy.training/1"


def test_include_refuses_unknown_sections_and_inference_without_a_kv_cache(
        tmp_path: Path) -> None:
    result = invoke("report", "zoo:smallcnn", "--include", "plots", "-o",
                    str(tmp_path / "x.html"))
    assert result.exit_code == 2
    assert "lint, training, inference" in result.output
    result = invoke("report", "example:standard-conv", "--include", "inference", "-o",
                    str(tmp_path / "x.html"))
    assert result.exit_code == 2
    assert "KV" in result.output
    result = invoke("report", "zoo:smallcnn", "--include", "inference", "-o",
                    str(tmp_path / "x.html"))
    assert result.exit_code == 2
    assert "no attention" in result.output


def test_include_inference_adds_the_serving_section_of_a_language_model(tmp_path: Path) -> None:
    out = tmp_path / "lm.html"
    result = invoke("report", "docs/examples/models.py:TinyTransformer", "--input",
                    "2x16:int64", "--include", "inference", "-o", str(out))
    assert result.exit_code == 0, result.output
    section = embedded(out)["sections"]["inference"]
    assert section == json.loads(invoke("inference", "docs/examples/models.py:TinyTransformer",
                                        "--format", "json").stdout)


def test_the_page_is_refused_on_a_terminal(monkeypatch) -> None:
    import pytest

    from netanatomy.cli import report
    from netanatomy.errors import UsageError

    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(report.sys, "stdout", Terminal())
    with pytest.raises(UsageError, match="give -o FILE.html"):
        report.check_output(None)
    report.check_output(Path("page.html"))


def test_device_type_gives_the_included_training_its_roofline(tmp_path: Path) -> None:
    # the section is what `training --device-type` writes; its ridge point is the H100 SXM
    # datasheet's FP32 67 TFLOPS / 3.35 TB/s = 20 FLOP/byte
    out = tmp_path / "device.html"
    result = invoke("report", "zoo:smallcnn", "--include", "training", "--device-type",
                    "h100-sxm", "-o", str(out))
    assert result.exit_code == 0, result.output
    section = embedded(out)["sections"]["training"]
    assert section == json.loads(invoke("training", "zoo:smallcnn", "--device-type",
                                        "h100-sxm", "--format", "json").stdout)
    assert section["roofline"]["ridge_point"] == 67e12 / 3.35e12
    for args in (["--device-type", "h100-sxm"],
                 ["--include", "training", "--device-type", "no-such-gpu"]):
        result = invoke("report", "zoo:smallcnn", *args, "-o", str(tmp_path / "x.html"))
        assert result.exit_code == 2, result.output
    assert "no-such-gpu" in result.output
