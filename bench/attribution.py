"""Attribution speed: netanatomy's methods beside Captum's on a ResNet-50; updates RESULTS.md.

Run from the repository root::

    python bench/attribution.py                 # batch 16 at 224×224, then RESULTS.md
    python bench/attribution.py --batch 4       # a smaller batch on a slow machine
    python bench/attribution.py --no-write      # print only

Reference: one forward + backward of the same batch, ``torch.autograd.grad`` of the
target logits' sum with respect to the input (what every gradient method needs at least).
Target: each method except integrated gradients and occlusion within 3 x that reference;
integrated gradients (``--ig-steps`` trapezoid steps, Captum's ``riemann_trapezoid`` with
the same nodes, both in batch-sized passes) and occlusion
(``--window`` square windows at ``--window`` stride, baseline 0, one batch-sized forward
per window position for both) are reported apart, with no target, as multiples of the
reference and of Captum. Captum's equivalent runs right after each netanatomy method in
the same process, on the same model and input; ratio = netanatomy / Captum (below 1:
netanatomy faster).

After two untimed forward + backward passes (oneDNN picks its kernels per shape on first
use), every call is timed as the best of two (wall clock, ``perf_counter``; integrated
gradients and occlusion once); the reference is measured before and after the methods,
so a load change on this shared machine shows, and the smaller is used.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import results_file  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Attribution speed"
TARGET_RATIO = 3.0
LAYER = "layer4"
"""Grad-CAM's layer: the last stage (7×7 at 224×224)."""
PROJECTION = ("layer3", 0)
"""deconvnet_projection's layer and channel."""
WARMUP = 2
ROUNDS = 2
APART = ("integrated_gradients", "occlusion")
"""Timed once, with no target."""


def timed(function: Callable[[], Any], rounds: int = 1) -> tuple[float, Any]:
    """The best wall-clock time of ``rounds`` calls, and the last call's value."""
    best, value = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def forward_backward(model: Any, x: Any, target: list[int]) -> Any:
    """The reference: one forward, then the input gradient of the target logits' sum."""
    import torch

    x = x.detach().requires_grad_(True)
    logits = model(x)
    score = logits[torch.arange(len(target)), torch.tensor(target)].sum()
    return torch.autograd.grad(score, x)[0]


def captum_calls(model: Any, x: Any, target: list[int], args: argparse.Namespace
                 ) -> dict[str, Callable[[], Any]]:
    """Captum's equivalent of each netanatomy method (as its documentation calls them)."""
    from captum import attr

    layer = model.get_submodule(LAYER)
    size = tuple(x.shape[-2:])
    window = args.window

    def gradcam() -> Any:
        raw = attr.LayerGradCam(model, layer).attribute(x, target=target,
                                                       relu_attributions=True)
        return attr.LayerAttribution.interpolate(raw, size, interpolate_mode="bilinear")

    return {
        "saliency": lambda: attr.Saliency(model).attribute(x, target=target, abs=True),
        "input_x_gradient": lambda: attr.InputXGradient(model).attribute(x, target=target),
        "guided": lambda: attr.GuidedBackprop(model).attribute(x, target=target),
        "deconvnet": lambda: attr.Deconvolution(model).attribute(x, target=target),
        "gradcam": gradcam,
        "guided_gradcam": lambda: attr.GuidedGradCam(model, layer).attribute(
            x, target=target, interpolate_mode="bilinear"),
        "integrated_gradients": lambda: attr.IntegratedGradients(model).attribute(
            x, target=target, n_steps=args.ig_steps + 1, method="riemann_trapezoid",
            internal_batch_size=len(target)),
        "occlusion": lambda: attr.Occlusion(model).attribute(
            x, target=target, sliding_window_shapes=(x.shape[1], window, window),
            strides=(x.shape[1], window, window), baselines=0, perturbations_per_eval=1),
    }


def netanatomy_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """netanatomy's options for each method, matching Captum's call above."""
    return {
        "saliency": {},
        "input_x_gradient": {},
        "guided": {},
        "deconvnet": {},
        "gradcam": {"layer": LAYER},
        "guided_gradcam": {"layer": LAYER},
        "deconvnet_projection": {"layer": PROJECTION[0], "channel": PROJECTION[1]},
        "integrated_gradients": {"steps": args.ig_steps, "batch_size": args.batch},
        "occlusion": {"window": args.window, "stride": args.window, "baseline_value": 0.0,
                      "batch_size": args.batch},
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    import netanatomy
    from netanatomy.frontends.torch.zoo import build

    torch.manual_seed(0)
    model = build("resnet50").eval()
    x = torch.randn(args.batch, 3, args.size, args.size,
                    generator=torch.Generator().manual_seed(1))
    target = [i % 1000 for i in range(args.batch)]
    for _ in range(WARMUP):  # oneDNN picks and caches its kernels per shape on first use
        forward_backward(model, x, target)
    reference_s = [timed(lambda: forward_backward(model, x, target), ROUNDS)[0]]
    print(f"forward+backward {reference_s[0]:.2f} s", flush=True)
    captum = captum_calls(model, x, target, args)
    rows = []
    for method, options in netanatomy_options(args).items():
        if args.only and method not in args.only:
            continue
        row: dict[str, Any] = {"method": method, "options": options}
        rounds = 1 if method in APART else ROUNDS
        try:
            row["netanatomy_s"], _ = timed(functools.partial(
                netanatomy.attribute, model, x, method=method, target=target, **options),
                rounds)
        except Exception as error:  # a failure is a row, not the end of the run
            row["error"] = f"{type(error).__name__}: {error}"
        if method in captum:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["captum_s"], _ = timed(captum[method], rounds)
        rows.append(row)
        print(json.dumps(row), flush=True)
    reference_s.append(timed(lambda: forward_backward(model, x, target), ROUNDS)[0])
    print(f"forward+backward {reference_s[1]:.2f} s", flush=True)
    return {"batch": args.batch, "size": args.size, "reference_s": reference_s,
            "rows": rows, "threads": torch.get_num_threads()}


def verdict(row: dict[str, Any], reference: float) -> str:
    if "error" in row:
        return "FAIL (error)"
    if row["method"] in APART:
        return "— (no target)"
    return "PASS" if row["netanatomy_s"] <= TARGET_RATIO * reference else "FAIL"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> str:
    out = [f"python {platform.python_version()}"]
    for dist in ("torch", "captum", "netanatomy"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def section(result: dict[str, Any], args: argparse.Namespace, elapsed: float,
            load: tuple[float, float, float]) -> list[str]:
    reference = min(result["reference_s"])
    command = "python bench/attribution.py" + "".join(
        f" {flag}" for flag in sys.argv[1:])
    smaller = (f" The batch is {args.batch}, not 16, to fit the run in ~3 minutes on this "
               "machine." if args.batch < 16 else "")
    lines = [
        SECTION, "",
        f"Produced by `{command}` (from the repository root) on "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, in {elapsed:.0f} s. Machine: "
        f"{platform.platform()}, {os.cpu_count()} CPUs ({cpu_model()}), "
        f"torch threads {result['threads']}, {versions()}. Load average (1/5/15 min) before: "
        + " / ".join(f"{v:.2f}" for v in load) + "; after: "
        + " / ".join(f"{v:.2f}" for v in os.getloadavg()) + ".", "",
        f"Model: zoo:resnet50 (random weights, eval mode), float32, batch {args.batch} at "
        f"{args.size}x{args.size}, one target class per sample.{smaller} Reference: one "
        "forward + `torch.autograd.grad` of the target logits' sum with respect to the "
        f"input, {reference:.2f} s (best of "
        + " and ".join(f"{v:.2f} s" for v in result["reference_s"])
        + ", before and after the methods, each the best of "
        f"{ROUNDS}, after {WARMUP} untimed passes). Each method is timed as the best of "
        f"{ROUNDS} calls (integrated gradients and occlusion: one); Captum's equivalent "
        f"runs right after it. Grad-CAM family at `{LAYER}` (Captum: `LayerGradCam` + "
        "bilinear `LayerAttribution.interpolate`; `GuidedGradCam` with "
        f"`interpolate_mode=\"bilinear\"`); deconvnet projection at `{PROJECTION[0]}` "
        f"channel {PROJECTION[1]} (no Captum equivalent); integrated gradients "
        f"{args.ig_steps} trapezoid steps ({args.ig_steps + 1} gradient evaluations; Captum "
        f"`method=\"riemann_trapezoid\"`, `n_steps={args.ig_steps + 1}`), one batch-sized "
        "pass per evaluation for both (netanatomy `batch_size` = Captum "
        "`internal_batch_size` = the batch); occlusion "
        f"{args.window}x{args.window} windows at stride {args.window}, baseline 0 (Captum "
        "`perturbations_per_eval=1`, netanatomy `batch_size` = the batch). Target: every "
        f"method but integrated gradients and occlusion within {TARGET_RATIO:g} x the "
        "reference. Captum's `riemann_trapezoid` weights are 1/n_steps (halved at the ends), "
        "which sum to steps/(steps + 1): the same work, its map scaled by that factor "
        "(tests/attribution/test_captum.py).", "",
        "| method | netanatomy | x reference | Captum | netanatomy / Captum | target |",
        "|---|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        ours = row.get("netanatomy_s")
        theirs = row.get("captum_s")
        lines.append(
            f"| {row['method']} | " + (f"{ours:.2f} s" if ours else "error") + " | "
            + (f"{ours / reference:.2f}x" if ours else "—") + " | "
            + (f"{theirs:.2f} s" if theirs else "—") + " | "
            + (f"{ours / theirs:.2f}" if ours and theirs else "—") + " | "
            + verdict(row, reference) + " |")
    errors = [f"- {row['method']}: {row['error']}" for row in result["rows"] if "error" in row]
    return [*lines, "", *errors, "```json", json.dumps(result), "```", ""]


def write_section(lines: list[str]) -> None:
    """Replace this benchmark's section of RESULTS.md."""
    results_file.write_section(RESULTS, SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--ig-steps", type=int, default=8)
    parser.add_argument("--window", type=int, default=56)
    parser.add_argument("--only", nargs="*", help="these methods only")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    start, load = time.perf_counter(), os.getloadavg()
    result = measure(args)
    lines = section(result, args, time.perf_counter() - start, load)
    print("\n".join(line for line in lines if line.startswith(("|", "- "))))
    if not args.no_write and not args.only:
        write_section(lines)
        print(f"updated {RESULTS.relative_to(ROOT)} ({SECTION})")


if __name__ == "__main__":
    main()
