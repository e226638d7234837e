"""The HTML report's size and speed (issue targets: a ResNet-50 report under 2 MB and
interactive in under 1 s; a Llama-70B report usable because its repeated blocks collapse);
writes the "## HTML report" section of bench/RESULTS.md.

For each model, in one process: the analysis, the payload and page assembly (seconds), the
page's bytes, then the page opened from ``file://`` in headless Chromium (Debian's, through
Playwright, network blocked) ROUNDS times: milliseconds from navigation start to
``document.body.dataset.ready`` (graph and table drawn, clickable) and to the plots drawn,
the nodes first drawn, and the time to expand the largest repeated group by a click. The
median and the range of the rounds are reported. No peer tool draws a costed graph, so
there is no ratio here (torchview/Netron draw graphs without costs and are not installed).

Run from the repository root::

    python bench/report.py
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import results_file  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## HTML report"
ROUNDS = 5
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RESNET_BYTES, RESNET_READY_MS = 2 * 10**6, 1000.0


def models() -> list[tuple[str, Any, Any]]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from netanatomy.frontends.torch.target import load_target

    # Llama-3-70B's published shapes (Meta, config of Meta-Llama-3-70B), built on meta
    config = LlamaConfig(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                         num_attention_heads=64, num_key_value_heads=8, vocab_size=128256,
                         max_position_embeddings=8192, rope_theta=500000.0)
    with torch.device("meta"):
        llama = LlamaForCausalLM(config)
    return [("ResNet-50, 1x3x224x224", load_target("zoo:resnet50"), (1, 3, 224, 224)),
            ("Llama-3-70B shapes, 1x2048 tokens", llama, "1x2048:int64")]


def open_timings(browser: Any, path: Path) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        "file:") else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=60000)
    page.wait_for_function("document.body.dataset.plots === '1'", timeout=60000)
    timing = page.evaluate("() => window.netanatomy.timing")
    nodes = page.evaluate("() => document.querySelectorAll('#graph g.na-node').length")
    expand_ms = float("nan")
    found = page.evaluate("""() => {
        const graph = window.netanatomy.data.graph, group = graph.groups[0];
        if (!group) return null;
        const chain = [];
        for (let id = group.parent; id !== null; id = graph.modules[id].parent) chain.unshift(id);
        return {group: group.id, chain: chain.slice(1)};   // the root is open already
    }""")
    if found is not None:
        for module in found["chain"]:
            page.evaluate(f"() => window.netanatomy.expand('m{module}')")
        node = page.locator(f'#graph g.na-node[data-node-id="g{found["group"]}"]')
        node.wait_for(timeout=60000)
        before = page.evaluate("() => document.querySelectorAll('#graph g.na-node').length")
        started = time.perf_counter()
        node.click()
        page.wait_for_function(f"document.querySelectorAll('#graph g.na-node').length"
                               f" > {before}", timeout=60000)
        expand_ms = (time.perf_counter() - started) * 1000
    context.close()
    if errors:
        raise SystemExit(f"{path.name}: console errors {errors}")
    return {"ready": timing["ready"], "plots": timing["plots_ready"], "nodes": nodes,
            "expand": expand_ms}


def main() -> int:
    from playwright.sync_api import sync_playwright

    import netanatomy
    from netanatomy.render.html import page
    from netanatomy.render.report_data import report_payload

    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=FLAGS)
        for name, model, inputs in models():
            started = time.perf_counter()
            report = netanatomy.analyze(model, inputs)
            analysed = time.perf_counter()
            payload = report_payload(report)
            text = page(payload)
            built = time.perf_counter()
            path = Path(folder) / "report.html"
            path.write_text(text, encoding="utf-8")
            runs = [open_timings(browser, path) for _ in range(ROUNDS)]
            rows.append((name, analysed - started, built - analysed, len(text.encode()),
                         len(payload["graph"]["ops"]), len(payload["graph"]["modules"]),
                         runs))
        browser.close()
    load = os.getloadavg()
    resnet = rows[0]
    ready = statistics.median(r["ready"] for r in resnet[6])
    passed = resnet[3] < RESNET_BYTES and ready < RESNET_READY_MS
    lines = [SECTION, "",
             f"Produced by `python bench/report.py` (from the repository root) on "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}. Machine: {platform.platform()}, "
             f"{os.cpu_count()} CPUs, python {platform.python_version()}, Debian Chromium "
             f"headless; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} after "
             "the run.", "",
             "Per model: analysis and payload + page assembly in this process; the page "
             f"opened from `file://` (network blocked) {ROUNDS} times, median [min–max]: "
             "ms from navigation start to ready (graph and table drawn, clickable) and to "
             "the plots drawn, and ms from a click on the first repeated group (its "
             "ancestors opened first) until its members are drawn. No peer tool draws a "
             "costed graph, so there is no ratio.", "",
             f"- **{'PASS' if passed else 'FAIL'}** — ResNet-50 page {resnet[3] / 1e6:.2f} MB "
             f"(target < 2 MB), ready in {ready:.0f} ms (target < 1000 ms).", "",
             "| model | analysis s | page s | page MB | ops | modules | nodes first drawn "
             "| ready ms | plots ms | expand group ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, analysis_s, page_s, size, ops, modules, runs in rows:
        def cell(key: str, runs: list[dict[str, float]] = runs) -> str:
            values = [r[key] for r in runs]
            return (f"{statistics.median(values):.0f} [{min(values):.0f}–"
                    f"{max(values):.0f}]")
        lines.append(f"| {name} | {analysis_s:.2f} | {page_s:.2f} | {size / 1e6:.2f} | "
                     f"{ops:,} | {modules:,} | {runs[0]['nodes']} | {cell('ready')} | "
                     f"{cell('plots')} | {cell('expand')} |")
    lines.append("")
    results_file.write_section(RESULTS, SECTION, lines)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
