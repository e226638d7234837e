"""Training-step analysis on meta, against the forward analysis of the same model, in one
run; writes the "## Training step" section of bench/RESULTS.md.

Targets (issue 12): the Llama-70B config (Llama 3: vocab 128256), one training step
(forward + backward + AdamW) at 1x2048 tokens on meta: full report in < 10 s and < 2 GB;
a 405B config completes; training-step analysis <= 3 x the forward analysis.

Run from the repository root::

    python bench/training.py

Each model runs in its own child interpreter (peak RSS is its own); times are CPU time
after a warm-up, over interleaved rounds of (forward analysis, training analysis, full
report), each call after a ``gc.collect()``; a time is the best round's, the ratio the
median of the rounds' ratios (each round's two analyses ran back to back, under the same
load).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import results_file  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Training step"
CONFIGS = {
    "Llama 70B (Llama 3 config)": dict(hidden_size=8192, intermediate_size=28672,
                                       num_hidden_layers=80, num_attention_heads=64,
                                       num_key_value_heads=8, vocab_size=128256),
    "Llama 405B (Llama 3.1 config)": dict(hidden_size=16384, intermediate_size=53248,
                                          num_hidden_layers=126, num_attention_heads=128,
                                          num_key_value_heads=8, vocab_size=128256),
}
CHILD = r'''
import gc, json, resource, statistics, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
import netanatomy
config = LlamaConfig(**json.loads(sys.argv[1]))
with torch.device("meta"):
    model = LlamaForCausalLM(config)
x = torch.zeros(1, 2048, dtype=torch.int64, device="meta")
forward = lambda: netanatomy.analyze(model, example_inputs=(x,))
from netanatomy.render.catalog import write
training = lambda: netanatomy.training(model, example_inputs=(x,))
full = lambda: write("training", "json", training())   # the full report
started = time.process_time(); report = training(); first = time.process_time() - started
forward()
def timed(run):
    gc.collect()              # no call pays for collecting what an earlier one left
    started = time.process_time(); run()
    return time.process_time() - started
rounds = [(timed(forward), timed(training), timed(full)) for _ in range(int(sys.argv[2]))]
print("@@RESULT " + json.dumps({"first": first,
      "forward": min(r[0] for r in rounds), "training": min(r[1] for r in rounds),
      "full": min(r[2] for r in rounds),
      "ratio": statistics.median(r[1] / r[0] for r in rounds),
      "ratios": [round(r[1] / r[0], 3) for r in rounds],
      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      "nodes": len(report.graph.nodes), "status": report.total.status,
      "peak_gib": report.peak.point.total / 2**30, "params": report.params}))
'''


def measure(config: dict, rounds: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config), str(rounds)],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    line = next((text for text in done.stdout.splitlines() if text.startswith("@@RESULT ")),
                None)
    if line is None:
        raise SystemExit(f"child failed: {done.stderr[-2000:]}")
    return json.loads(line.removeprefix("@@RESULT "))


def main() -> int:
    seventy = measure(CONFIGS["Llama 70B (Llama 3 config)"], 5)
    big = measure(CONFIGS["Llama 405B (Llama 3.1 config)"], 1)
    ratio = seventy["ratio"]
    checks = [
        (seventy["full"] < 10, f"Llama 70B training step, full report (JSON rendered): "
                               f"{seventy['full']:.2f} s CPU (first call, without rendering, "
                               f"{seventy['first']:.2f} s); target < 10 s"),
        (seventy["rss_mb"] < 2048, f"Llama 70B: peak RSS {seventy['rss_mb']:.0f} MB; "
                                   "target < 2 GB"),
        (big["status"] == "exact", f"Llama 405B completes: {big['full']:.2f} s, "
                                   f"{big['nodes']:,} nodes, status {big['status']}, "
                                   f"{big['rss_mb']:.0f} MB"),
        (ratio <= 3, f"training analysis / forward analysis = {ratio:.2f} (median of "
                     f"{len(seventy['ratios'])} rounds: "
                     f"{', '.join(f'{r:.2f}' for r in seventy['ratios'])}; best times "
                     f"{seventy['training']:.2f} s / {seventy['forward']:.2f} s); target "
                     "<= 3"),
    ]
    load = os.getloadavg()
    lines = [SECTION, "",
             f"Produced by `python bench/training.py` (from the repository root) on "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}. Machine: {platform.platform()}, "
             f"{os.cpu_count()} CPUs, python {platform.python_version()}; load average "
             f"after {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.", "",
             "One child process per model; CPU time after a warm-up, over interleaved "
             "rounds of (forward analysis, training analysis, full report), each call "
             "after a `gc.collect()`: times are the best round's, the ratio is the median "
             "of the rounds' ratios; it compares `netanatomy.training(...)` with "
             "`netanatomy.analyze(...)` (analyses, neither rendered); the full report adds "
             "the JSON rendering; 1x2048 tokens, AdamW (foreach), float32.", ""]
    lines += [f"- **{'PASS' if ok else 'FAIL'}** — {text}" for ok, text in checks]
    lines += ["", f"Llama 70B: {seventy['nodes']:,} nodes, {seventy['params']:,} params, "
                  f"memory peak {seventy['peak_gib']:,.0f} GiB (float32 AdamW); 405B: "
                  f"{big['params']:,} params, peak {big['peak_gib']:,.0f} GiB.", ""]
    results_file.write_section(RESULTS, SECTION, lines)
    print("\n".join(lines))
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
