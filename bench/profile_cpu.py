"""`profile` on this machine: predicted (roofline on the calibrated device) vs measured
forward time per module, for a few models; writes the "## Profile" section of
bench/RESULTS.md with the error distribution (median and worst) of each.

Run from the repository root::

    python bench/profile_cpu.py [--device cpu] [--repeats 10]

Timings depend on the machine and its load; nothing here passes or fails on them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import results_file  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Profile"
sys.path.insert(0, str(ROOT / "docs" / "examples"))


def models() -> list[tuple[str, Callable[[], Any], str]]:
    """(name, builder, input) of each model profiled."""
    import torch
    from models import ConvBNNet, TinyTransformer, TinyUNet  # docs/examples/models.py
    from torch import nn

    from netanatomy.frontends.torch.zoo import ZOO

    def mlp() -> nn.Module:
        return nn.Sequential(nn.Linear(1024, 2048), nn.GELU(), nn.Linear(2048, 2048),
                             nn.GELU(), nn.Linear(2048, 1000))

    def efficientnet() -> nn.Module:
        from efficientnet_pytorch import EfficientNet

        return EfficientNet.from_name("efficientnet-b0")

    torch.manual_seed(0)
    return [("MLP 1024-2048-2048-1000", mlp, "64x1024"),
            ("ConvBNNet (docs/examples)", ConvBNNet, "32x3x64x64"),
            ("TinyUNet (docs/examples)", TinyUNet, "8x1x128x128"),
            ("TinyTransformer (docs/examples)", TinyTransformer, "8x128:int64"),
            ("ResNet-18 (zoo)", ZOO["resnet18"].build, "8x3x224x224"),
            ("EfficientNet-B0 (efficientnet_pytorch)", efficientnet, "4x3x224x224")]


def seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value * 1e3:.3f} ms" if value >= 1e-4 else f"{value * 1e6:.1f} µs"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def mib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**20:.2f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's); 1 is steadier on a shared "
                             "machine, where busy cores stall OpenMP's barriers")
    parser.add_argument("--no-write", action="store_true", help="print, do not write")
    args = parser.parse_args()
    started = time.perf_counter()
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from netanatomy.diagnostics.calibrate import calibrate
    from netanatomy.diagnostics.profile import profile

    calibration = calibrate(args.device)
    reports = []
    for name, build, shape in models():
        report = profile(build(), shape, device=args.device, repeats=args.repeats,
                         calibration=calibration)
        reports.append((name, report))
        print(f"{name}: total ratio {ratio(report.total_ratio)}, leaf median "
              f"{ratio(report.errors.median_ratio)}", flush=True)
    load = os.getloadavg()
    line = calibration.device
    peaks = ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in line.dense.items())
    lines = [SECTION, "",
             f"Produced by `python bench/profile_cpu.py --device {args.device} --repeats "
             f"{args.repeats}{'' if args.threads is None else f' --threads {args.threads}'}"
             f"` (from the repository root) on "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M} in {time.perf_counter() - started:.0f}"
             f" s. Machine: {platform.platform()}, {platform.processor() or 'cpu'}, "
             f"{os.cpu_count()} CPUs, torch {torch.__version__} with "
             f"{torch.get_num_threads()} threads; load average {load[0]:.2f} / "
             f"{load[1]:.2f} / {load[2]:.2f} after the run (the machine is shared: "
             "timings are noisy).", "",
             f"Calibration ({calibration.seconds:.2f} s): {peaks}; copy bandwidth "
             f"{line.bandwidth / 1e9:,.1f} GB/s (read + written). Each model: eval-mode "
             "forward without autograd, median of the repeats; per-module times from "
             "forward hooks, the total from a forward without hooks; ratio = measured / "
             "predicted (the prediction is a roofline lower bound, docs/profile.md); the "
             "error distribution is over the leaf modules.", "",
             "| model | input | predicted | measured | total ratio | leaves | median ratio "
             "| range | median \\|log10\\| | worst \\|log10\\| (module) | peak memory "
             "predicted / measured |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, report in reports:
        e, m = report.errors, report.memory
        lines.append(
            f"| {name} | {', '.join(report.inputs)} | {seconds(report.total_predicted_s)} | "
            f"{seconds(report.total_measured_s)} | {ratio(report.total_ratio)} | {e.count} | "
            f"{ratio(e.median_ratio)} | {ratio(e.min_ratio)}–{ratio(e.max_ratio)} | "
            f"{ratio(e.median_abs_log10)} | {ratio(e.worst_abs_log10)} ({e.worst_path}) | "
            f"{mib(m.predicted_activation_bytes)} / {mib(m.measured_peak_bytes)} |")
    lines += ["", "Per module, depth 1 (the first-level children of each model):", ""]
    for name, report in reports:
        lines += [f"**{name}**", "", "| module | type | predicted | measured | ratio |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {row.path or '<root>'} | {row.type} | {seconds(row.predicted_s)} | "
                  f"{seconds(row.measured_s)} | {ratio(row.ratio)} |"
                  for row in report.rows if row.depth <= 1]
        lines.append("")
    if not args.no_write:
        results_file.write_section(RESULTS, SECTION, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
