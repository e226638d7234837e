"""Benchmark netanatomy against peer model-analysis tools and write bench/RESULTS.md.

Run from the repository root::

    python bench/run.py                 # every (tool, model) pair, then bench/RESULTS.md
    python bench/run.py --one TOOL MODEL   # one measurement, printed as one JSON line

The parent process runs every (tool, model) pair in its own child process (``--one``), so
that wall time and peak resident memory (``ru_maxrss``) of one tool are not polluted by
another. Inside a child: imports, model construction and input creation come first, then
one warm-up call of the same tool on a tiny two-layer MLP on the same device (so that lazy
imports and first-call set-up are not timed), then the baseline ``ru_maxrss`` is read, then
the analysis call is timed (best of ``repeats``), then the final ``ru_maxrss`` is read.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
CHILD_TIMEOUT_S = 300
TORCH_THREADS = 1
"""Intra-op threads in every child: the peers' real CPU forwards are timed single-threaded,
so that another process on this 2-core machine cannot make them spin (oversubscription
made a 0.1 s ResNet-50 forward take 2 s while a second process held one core)."""
TOOLS = ("netanatomy", "torchinfo", "fvcore", "ptflops-pytorch", "ptflops-aten", "thop",
         "torchscan", "FlopCounterMode")
PEER_MODELS = ("resnet50", "vit_b16", "llama70b")
MLP_MODELS = ("mlp100", "mlp1000")
LLAMA_KW = dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                num_attention_heads=64, num_key_value_heads=8, vocab_size=32000)


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelCase:
    """A model to analyse: how to build it, its single input and where it lives."""

    title: str
    build: Callable[[], Any]
    shape: tuple[int, ...]
    dtype: str          # "float32" or "int64"
    device: str         # device of the parameters and of the peers' inputs
    input_name: str     # keyword name of the input in forward() (ptflops input_constructor)
    repeats: int        # timed calls; the best is reported


def build_resnet50() -> Any:
    """torchvision-identical ResNet-50 from netanatomy's zoo, on the CPU."""
    from netanatomy.frontends.torch.zoo import build
    return build("resnet50").eval()


def build_vit() -> Any:
    """transformers ViT-B/16 (ViTConfig() defaults: 224x224, patch 16, 2 labels), on CPU."""
    import transformers
    return transformers.ViTForImageClassification(transformers.ViTConfig()).eval()


def build_llama70b() -> Any:
    """A Llama-2-70B-shaped LlamaForCausalLM built on the meta device."""
    import torch
    import transformers
    with torch.device("meta"):
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA_KW)).eval()


def build_mlp(layers: int) -> Any:
    """``layers`` blocks of Linear(256, 256) + ReLU."""
    from torch import nn
    return nn.Sequential(*[m for _ in range(layers)
                           for m in (nn.Linear(256, 256), nn.ReLU())]).eval()


MODELS: dict[str, ModelCase] = {
    "resnet50": ModelCase("ResNet-50 (zoo), 1x3x224x224, cpu", build_resnet50,
                          (1, 3, 224, 224), "float32", "cpu", "x", 5),
    "vit_b16": ModelCase("ViT-B/16 (transformers), 1x3x224x224, cpu", build_vit,
                         (1, 3, 224, 224), "float32", "cpu", "pixel_values", 5),
    "llama70b": ModelCase("Llama 70B (transformers), 1x2048 int64, meta", build_llama70b,
                          (1, 2048), "int64", "meta", "input_ids", 1),
    "mlp100": ModelCase("MLP 100 x (Linear 256 + ReLU), 1x256", lambda: build_mlp(100),
                        (1, 256), "float32", "cpu", "input", 5),
    "mlp1000": ModelCase("MLP 1000 x (Linear 256 + ReLU), 1x256", lambda: build_mlp(1000),
                         (1, 256), "float32", "cpu", "input", 5),
}


def make_input(case: ModelCase) -> Any:
    """The peers' input tensor: random data on cpu, an empty tensor on meta."""
    import torch
    if case.dtype == "int64":
        return torch.zeros(case.shape, dtype=torch.int64, device=case.device)
    return torch.randn(case.shape, device=case.device)


def warmup_case(case: ModelCase) -> ModelCase:
    """A tiny MLP on the same device as ``case``, for the untimed warm-up call."""
    import torch
    from torch import nn

    def build() -> Any:
        with torch.device(case.device):
            return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)).eval()
    return ModelCase("warm-up", build, (1, 8), "float32", case.device, "input", 1)


# --------------------------------------------------------------------------------------
# Tools: each runner analyses (model, case, x) and returns its totals in its own convention
# --------------------------------------------------------------------------------------

def run_netanatomy(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """netanatomy.analyze on meta (it makes meta stand-ins of the parameters itself)."""
    import netanatomy
    report = netanatomy.analyze(model, [f"{'x'.join(map(str, case.shape))}:{case.dtype}"])
    t = report.totals
    return {"params": t.params, "macs": t.macs, "flops": t.flops,
            "elementwise_flops": t.elementwise_flops, "ops": t.ops, "status": t.status,
            "uncounted": [f"{u.op} x{u.count}" for u in report.uncounted], "_report": report}


def render_netanatomy(result: dict[str, Any]) -> dict[str, Any]:
    """Render the full per-layer table and the JSON document of a netanatomy report."""
    report = result["_report"]
    return {"table_chars": len(report.render(depth=None)), "json_chars": len(report.to_json()),
            "layers": len(report.layers)}


def run_torchinfo(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """torchinfo.summary with the input tensor; total_mult_adds are MACs."""
    import torchinfo
    stats = torchinfo.summary(model, input_data=[x], device=case.device, verbose=0, depth=100)
    return {"params": stats.total_params, "macs": stats.total_mult_adds}


def run_fvcore(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """fvcore FlopCountAnalysis (jit trace; one "flop" per MAC) + parameter_count."""
    from fvcore.nn import FlopCountAnalysis, parameter_count
    analysis = FlopCountAnalysis(model, (x,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    total = analysis.total()
    skipped = dict(analysis.unsupported_ops())
    return {"params": parameter_count(model)[""], "macs": total,
            "skipped": [f"{op} x{n}" for op, n in sorted(skipped.items())]}


def run_ptflops(backend: str) -> Callable[[Any, ModelCase, Any], dict[str, Any]]:
    """ptflops.get_model_complexity_info with the given backend ('pytorch' or 'aten')."""
    def run(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
        from ptflops import get_model_complexity_info
        macs, params = get_model_complexity_info(
            model, tuple(case.shape[1:]), as_strings=False, print_per_layer_stat=False,
            backend=backend, input_constructor=lambda _: {case.input_name: x})
        if macs is None:
            raise RuntimeError("ptflops returned None (it prints the error and returns None)")
        return {"params": params, "macs": macs}
    return run


def run_thop(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """thop.profile (module hooks); returns MACs and params."""
    import thop
    macs, params = thop.profile(model, inputs=(x,), verbose=False)
    return {"params": int(params), "macs": int(macs)}


def run_torchscan(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """torchscan.crawl_module: module-hook MACs/FLOPs plus a FlopCounterMode pass."""
    import torchscan
    totals = torchscan.crawl_module(model, args=(x,))["totals"]
    # A "partial" metric has value None; known_value is the sum over what it could count.
    value = {key: totals[key]["known_value"] for key in ("parameters", "macs", "module_flops",
                                                        "operator_flops")}
    partial = [key for key in ("macs", "module_flops", "operator_flops")
               if totals[key]["status"] != "complete"]
    return {"params": value["parameters"], "macs": value["macs"],
            "module_flops": value["module_flops"], "flops": value["operator_flops"],
            "partial": partial}


def run_flop_counter(model: Any, case: ModelCase, x: Any) -> dict[str, Any]:
    """torch.utils.flop_counter.FlopCounterMode around one forward (2 FLOPs per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        model(x)
    by_op = counter.get_flop_counts().get("Global", {})
    return {"flops": counter.get_total_flops(),
            "by_op": {str(op): int(n) for op, n in by_op.items()}}


RUNNERS: dict[str, Callable[[Any, ModelCase, Any], dict[str, Any]]] = {
    "netanatomy": run_netanatomy, "torchinfo": run_torchinfo, "fvcore": run_fvcore,
    "ptflops-pytorch": run_ptflops("pytorch"), "ptflops-aten": run_ptflops("aten"),
    "thop": run_thop, "torchscan": run_torchscan, "FlopCounterMode": run_flop_counter,
}


# --------------------------------------------------------------------------------------
# Child: one (tool, model) measurement
# --------------------------------------------------------------------------------------

def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(tool: str, model_name: str) -> dict[str, Any]:
    """Build the model, warm the tool up, then time its analysis and read peak RSS."""
    import torch
    torch.set_num_threads(TORCH_THREADS)
    runner = RUNNERS[tool]
    case = MODELS[model_name]
    model = case.build()
    x = make_input(case)
    small = warmup_case(case)
    try:
        runner(small.build(), small, make_input(small))
    except Exception as error:  # the real call below reports the tool's error
        warmup_error = f"{type(error).__name__}: {error}"
    else:
        warmup_error = None
    baseline = rss_mb()
    times, full_times, result = [], [], {}
    for _ in range(case.repeats):
        start = time.perf_counter()
        result = runner(model, case, x)
        times.append(time.perf_counter() - start)
        if tool == "netanatomy":
            result.update(render_netanatomy(result))
            full_times.append(time.perf_counter() - start)
        result.pop("_report", None)
    out = {"tool": tool, "model": model_name, "ok": True, "time_s": min(times),
           "times_s": times, "baseline_mb": baseline, "peak_mb": rss_mb(),
           "warmup_error": warmup_error, **result}
    if full_times:
        out["time_full_s"] = min(full_times)
    return out


def child_main(tool: str, model_name: str) -> None:
    """Print one JSON line: the measurement, or the tool's error."""
    try:
        out = measure_one(tool, model_name)
    except Exception as error:  # a peer failing on a model is a result, not a crash
        out = {"tool": tool, "model": model_name, "ok": False,
               "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                        if str(error) else type(error).__name__,
               "peak_mb": rss_mb()}
    sys.stdout.flush()
    print("@@RESULT " + json.dumps(out, default=str), flush=True)


# --------------------------------------------------------------------------------------
# Parent: run every pair in a child, then write RESULTS.md
# --------------------------------------------------------------------------------------

def run_child(tool: str, model_name: str) -> dict[str, Any]:
    """Run ``--one tool model`` in a fresh interpreter and parse its JSON line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", tool, model_name]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"}
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "model": model_name, "ok": False,
                "error": f"timeout: no result after {CHILD_TIMEOUT_S} s (killed)"}
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT "):
            out = json.loads(line[len("@@RESULT "):])
            out["child_wall_s"] = time.perf_counter() - start
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"tool": tool, "model": model_name, "ok": False,
            "error": f"child exited {proc.returncode}: {tail[0][:300]}"}


def versions() -> dict[str, str]:
    """Versions of python, torch, transformers and every tool."""
    out = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "netanatomy", "torchinfo", "fvcore", "ptflops",
                 "thop", "torchscan"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def fmt_int(value: Any) -> str:
    """A count with thousands separators, or an em dash when missing."""
    return "—" if value is None else f"{int(value):,}"


def fmt_g(value: Any) -> str:
    """A count in billions with 3 decimals (G), or an em dash."""
    return "—" if value is None else f"{value / 1e9:,.3f} G"


def fmt_ratio(value: float | None, reference: float | None) -> str:
    """``value / reference`` as ``1.23x`` or an em dash."""
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}x"


def totals_table(results: dict[tuple[str, str], dict[str, Any]], model: str) -> list[str]:
    """Markdown rows: every tool's params, its own count, and that count as MACs."""
    rows = ["| tool | params | reported count (tool's unit) | as MACs | Δ MACs vs netanatomy |",
            "|---|---:|---:|---:|---:|"]
    ref = results[("netanatomy", model)]
    for tool in TOOLS:
        r = results[(tool, model)]
        if not r["ok"]:
            rows.append(f"| {tool} | failed | `{r['error']}` | | |")
            continue
        reported, macs = reported_count(tool, r)
        delta = "—" if macs is None or not ref["ok"] else f"{(macs - ref['macs']) / ref['macs']:+.3%}"
        rows.append(f"| {tool} | {fmt_int(r.get('params'))} | {reported} | "
                    f"{fmt_int(macs)} | {delta} |")
    return rows


def reported_count(tool: str, r: dict[str, Any]) -> tuple[str, int | None]:
    """The tool's headline count in its own unit, and the same count expressed as MACs."""
    if tool == "netanatomy":
        return (f"{fmt_g(r['macs'])} MACs; {fmt_g(r['flops'])} FLOPs; "
                f"+{fmt_g(r['elementwise_flops'])} elementwise", r["macs"])
    if tool == "fvcore":
        return f"{fmt_g(r['macs'])} \"flops\" (= MACs)", r["macs"]
    if tool == "FlopCounterMode":
        return f"{fmt_g(r['flops'])} FLOPs (2/MAC)", r["flops"] // 2
    if tool == "torchscan":
        partial = f" (partial: {', '.join(r['partial'])})" if r["partial"] else ""
        return (f"{fmt_g(r['macs'])} MACs; {fmt_g(r['module_flops'])} module FLOPs; "
                f"{fmt_g(r['flops'])} operator FLOPs{partial}", r["macs"])
    return f"{fmt_g(r['macs'])} MACs", r["macs"]


CONVENTIONS = """
## What each tool counts

| tool | params | headline count | convention |
|---|---|---|---|
| netanatomy | unique parameters (tied once) | `macs`, `flops` = 2 x macs | MACs of conv / linear / matmul / attention only, at the aten level on meta tensors; bias adds, norms, activations, pooling are `elementwise_flops`, reported apart |
| torchinfo `summary` | all parameters | `total_mult_adds` (MACs) | per module from its parameters: conv = params x output positions, any other module = batch size x params (sequence positions ignored); functional ops never seen |
| fvcore `FlopCountAnalysis` | `parameter_count` | `total()` "flops" | one "flop" per MAC (README: "we count one fused multiply-add as one flop"); jit trace; handles for addmm/bmm/conv/einsum/matmul/linear/norms/upsample/adaptive_avg_pool2d; everything else skipped (listed) |
| ptflops, backend `pytorch` | all parameters | MACs | module hooks (conv/linear incl. bias add, BN, pooling, activations) plus monkey-patched `F.*` and `torch.matmul/mm/bmm/addmm/mul/add` |
| ptflops, backend `aten` | all parameters | MACs | `TorchDispatchMode` counting aten mm / matmul / addmm (with bias add) / bmm / convolution (with bias add) only |
| thop `profile` | params of modules that have a rule | MACs | module hooks: conv and linear without bias, norms 2-4 per element, avg pools; activations/max pools zero; functional ops never seen |
| torchscan `crawl_module` | all parameters | `macs` (module rules), `module_flops`, `operator_flops` (FlopCounterMode pass) | a metric is `partial` (value None) as soon as one module or op is unsupported; we show its `known_value` |
| `FlopCounterMode` | — (not reported) | FLOPs = 2 per MAC | `TorchDispatchMode` with formulas for mm/addmm/bmm/baddbmm/convolution and the CUDA SDPA kernels only |

"As MACs" in the totals tables converts each headline count to MACs (FlopCounterMode / 2;
fvcore's "flops" already are MACs). All the peers also run the model for real on the CPU
for ResNet-50 and ViT (netanatomy never does), and on meta tensors for Llama.
"""


def expected_counts() -> dict[tuple[str, str], tuple[int | None, int | None, str]]:
    """Each peer's headline count and params, rebuilt from its documented/observed rules.

    Returns ``{(tool, model): (count in the tool's unit, params or None, why it differs
    from netanatomy)}``. The counts are built from the architectures' shapes; the report
    marks each measured value that equals its reconstruction, so every explanation below
    is checked on every run.
    """
    # ResNet-50, 1x3x224x224 (netanatomy: conv 4,087,136,256 + fc 2,048,000 MACs).
    r50 = 4_089_184_256
    bn_elems = 11_113_984        # outputs of the 53 BatchNorm2d layers
    bn_params = 2 * 26_560       # weight + bias of the 53 BatchNorm2d layers
    relu_elems = 9_608_704       # outputs of the 49 ReLU calls
    maxpool_in, maxpool_out = 64 * 112 * 112, 64 * 56 * 56
    gap_in, gap_out = 2048 * 7 * 7, 2048
    fc_bias = 1000
    # ViT-B/16: 197 tokens x 768, 12 layers, 12 heads; patch conv 768x3x16x16 on 196 patches.
    tokens, d, ff, layers = 197, 768, 3072, 12
    vit_attn = layers * 2 * 12 * tokens * tokens * 64          # QK^T and AV, in MACs
    vit_dense = 17_563_061_760 - vit_attn                      # conv + linear MACs
    ln_elems = (2 * layers + 1) * tokens * d                   # 25 LayerNorms
    vit_lin_bias = layers * tokens * (4 * d + ff + d) + 2      # bias adds per output element
    conv_bias = d * 196
    linear_params = layers * (4 * (d * d + d) + (d * ff + ff) + (ff * d + d)) + (d * 2 + 2)
    vit_bare_params = d + tokens * d                           # cls_token + position emb.
    # Llama 70B at 2048 tokens.
    seq, h, inter, n_layers = 2048, 8192, 28672, 80
    llama_attn = n_layers * 2 * 64 * seq * seq * 128
    llama_dense = 146_222_161_592_320 - llama_attn             # q,k,v,o, MLP, lm_head
    silu_elems = n_layers * seq * inter
    embed_params, rmsnorm_params = 32000 * h, (2 * n_layers + 1) * h
    llama_params = 68_976_648_192
    attn_note = ("attention matmuls missed: F.scaled_dot_product_attention is a functional "
                 "op with no hook/handle")
    return {
        ("torchinfo", "resnet50"): (
            r50 + bn_params + fc_bias, None,
            "conv MACs from the weight x output positions; for every other layer it adds "
            "batch x param count, so the 53 BN layers' weight+bias (53,120) and the fc bias "
            "(1,000) are added as MACs"),
        ("fvcore", "resnet50"): (
            r50 + 2 * bn_elems + gap_in, None,
            "one flop per MAC, plus eval batch_norm = 2 per element (affine) and "
            "adaptive_avg_pool2d = 1 per input element; aten::add (residuals) and max_pool2d "
            "are skipped as unsupported"),
        ("ptflops-pytorch", "resnet50"): (
            r50 + fc_bias + 2 * bn_elems + 2 * (relu_elems + maxpool_in + gap_in), None,
            "bias add of fc counted, BN = 2 per element; ReLU, MaxPool2d and AdaptiveAvgPool2d "
            "are counted TWICE (the module hook and the patched F.relu / F.max_pool2d / "
            "F.adaptive_avg_pool2d both fire, cf. sovrasov/flops-counter.pytorch#139); "
            "the in-place residual `out += identity` is not patched, so not counted"),
        ("ptflops-aten", "resnet50"): (
            r50 + fc_bias, None,
            "aten.addmm counts the fc bias add (1 per output element); otherwise equal"),
        ("thop", "resnet50"): (
            r50 + 4 * bn_elems + gap_out * (49 + 1), None,
            "BN = 2 per element, doubled for affine (4 per element); AdaptiveAvgPool = "
            "(kernel 49 + 1) per output; ReLU, MaxPool and residual adds are zero"),
        ("torchscan", "resnet50"): (
            r50 + 2 * bn_elems + maxpool_out * (3 - 1) + gap_out * (49 - 1 + 2), None,
            "BN = 2 MACs per element; max pool = out x (k - 1) with k taken as 3 instead of "
            "3x3 = 9 for an int kernel_size (a torchscan bug: 401,408 instead of 1,605,632); "
            "adaptive avg pool = out x (49 - 1 + 2)"),
        ("FlopCounterMode", "resnet50"): (
            2 * r50, None, "2 FLOPs per MAC of convolution/addmm: equal to netanatomy's flops"),
        ("torchinfo", "vit_b16"): (
            196 * (d * 3 * 16 * 16 + d) + linear_params + 2 * ln_elems // tokens, None,
            "Linear MACs = batch (1) x param count, ignoring the 197 tokens "
            "(TylerYep/torchinfo#77, fixed by PR #318 after 1.8.0), biases and LayerNorm "
            "params counted as MACs, the conv bias counted per position; attention missed"),
        ("fvcore", "vit_b16"): (
            vit_dense + 5 * ln_elems, None,
            f"{attn_note} (aten::scaled_dot_product_attention skipped x12, cf. "
            "MzeroMiko/VMamba#296); layer_norm = 5 per element; gelu and add skipped"),
        ("ptflops-pytorch", "vit_b16"): (
            vit_dense + vit_lin_bias + conv_bias + ln_elems, None,
            f"{attn_note}; Linear/conv bias adds counted per output element; LayerNorm = 1 "
            "per element (its hook checks `affine`, which LayerNorm lacks — it has "
            "`elementwise_affine`); HF's GELU and the residual `+` are not counted"),
        ("ptflops-aten", "vit_b16"): (
            vit_dense + vit_lin_bias + conv_bias, None,
            "bias adds counted; attention missed: on CPU SDPA dispatches to "
            "aten._scaled_dot_product_flash_attention_for_cpu, which it does not count"),
        ("thop", "vit_b16"): (
            vit_dense + 4 * ln_elems, 85_800_194 - vit_bare_params,
            f"{attn_note}; LayerNorm = 4 per element; params miss cls_token and "
            "position_embeddings (152,064), bare nn.Parameters of ViTEmbeddings, because "
            "thop only sums the params of modules that have a counting rule"),
        ("torchscan", "vit_b16"): (
            vit_dense, None,
            "MACs partial: LayerNorm and GELUActivation unsupported, attention has no module; "
            "the shown value is torchscan's known_value"),
        ("FlopCounterMode", "vit_b16"): (
            2 * vit_dense, None,
            "attention missed: CPU SDPA runs aten._scaled_dot_product_flash_attention_for_cpu, "
            "absent from flop_registry (pytorch/pytorch#195460, fixed by PR #195801)"),
        ("torchinfo", "llama70b"): (
            llama_params, None,
            "Linear MACs = batch (1) x params, ignoring the 2048 tokens "
            "(TylerYep/torchinfo#77); embedding and RMSNorm weights also counted as MACs, so "
            "'MACs' equal the parameter count; attention missed"),
        ("ptflops-pytorch", "llama70b"): (
            llama_dense + silu_elems, None,
            f"{attn_note}; SiLU counted through the patched F.silu (1 per element)"),
        ("ptflops-aten", "llama70b"): (
            146_222_161_592_320, None,
            "equal: on meta SDPA decomposes to aten.bmm, which it counts; Llama has no biases"),
        ("thop", "llama70b"): (
            llama_dense, llama_params - embed_params - rmsnorm_params,
            f"{attn_note}; params miss the Embedding and the 161 LlamaRMSNorm weights "
            "(modules without a thop rule)"),
        ("torchscan", "llama70b"): (
            llama_dense, None,
            "MACs partial (LlamaRMSNorm, SiLUActivation, Embedding unsupported; no attention "
            "module): known_value shown"),
        ("FlopCounterMode", "llama70b"): (
            2 * 146_222_161_592_320, None,
            "equal: on meta SDPA decomposes to aten.bmm, which it counts"),
    }


def explanation_table(results: dict[tuple[str, str], dict[str, Any]], model: str) -> list[str]:
    """Markdown rows: each peer's deviation, its reconstruction and the reason."""
    expected = expected_counts()
    rows = ["| tool | reconstructed from its rules | measured = reconstruction | why it "
            "differs from netanatomy |", "|---|---:|:---:|---|"]
    for tool in TOOLS[1:]:
        r = results[(tool, model)]
        if (tool, model) not in expected or not r["ok"]:
            rows.append(f"| {tool} | — | — | {FAILURE_NOTES.get((tool, model), '')} |")
            continue
        count, params, why = expected[(tool, model)]
        measured = r["flops"] if tool == "FlopCounterMode" else r["macs"]
        ok = measured == count and (params is None or r["params"] == params)
        params_note = "" if params is None else f"; params {params:,}"
        rows.append(f"| {tool} | {count:,}{params_note} | {'yes' if ok else 'NO'} | {why} |")
    return rows


FAILURE_NOTES = {
    ("fvcore", "llama70b"):
        "fails: jit tracing cannot return the DynamicCache that LlamaForCausalLM returns "
        "with the default use_cache=True. With config.use_cache=False (checked by hand, "
        "not in this run) it returns 140,724,603,453,440 (the dense layers only) and skips "
        "aten::scaled_dot_product_attention x80, silu, mul, add, mean, rsqrt, embedding…",
}


def cost_table(results: dict[tuple[str, str], dict[str, Any]], model: str) -> list[str]:
    """Markdown rows: analysis time and peak RSS of every tool, and ratios to netanatomy."""
    rows = ["| tool | analysis time | time / netanatomy | peak RSS | peak / netanatomy "
            "| Δ RSS over baseline | Δ / netanatomy |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    ref = results[("netanatomy", model)]
    ref_delta = ref["peak_mb"] - ref["baseline_mb"] if ref["ok"] else None
    for tool in TOOLS:
        r = results[(tool, model)]
        if not r["ok"]:
            rows.append(f"| {tool} | failed | | {r.get('peak_mb', 0):.0f} MB | | | |")
            continue
        delta = r["peak_mb"] - r["baseline_mb"]
        rows.append(f"| {tool} | {r['time_s']:.3f} s | {fmt_ratio(r['time_s'], ref['time_s'])} "
                    f"| {r['peak_mb']:.0f} MB | {fmt_ratio(r['peak_mb'], ref['peak_mb'])} "
                    f"| {delta:.0f} MB | {fmt_ratio(max(delta, 0.5), max(ref_delta, 0.5))} |")
    return rows


def targets(results: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """PASS/FAIL lines for the stated targets, with the numbers behind each."""
    lines = []
    na = results[("netanatomy", "llama70b")]
    fc = results[("FlopCounterMode", "llama70b")]
    if na["ok"]:
        lines.append(mark(na["time_full_s"] < 3.0,
                          f"Llama 70B, seq 2048, meta: analyze + render(depth=None) + to_json() "
                          f"in {na['time_full_s']:.2f} s (analyze alone {na['time_s']:.2f} s); "
                          "target < 3 s"))
        lines.append(mark(na["peak_mb"] < 1536,
                          f"Llama 70B: peak RSS of the whole process {na['peak_mb']:.0f} MB "
                          f"({na['peak_mb'] - na['baseline_mb']:.0f} MB over the {na['baseline_mb']:.0f} MB "
                          "baseline of imports + meta model); target < 1.5 GB"))
    if na["ok"] and fc["ok"]:
        lines.append(mark(na["flops"] == fc["flops"],
                          f"Llama 70B FLOPs: netanatomy totals.flops = {na['flops']:,}; "
                          f"FlopCounterMode total = {fc['flops']:,}; target: equal"))
    else:
        lines.append(mark(False, "Llama 70B FLOPs vs FlopCounterMode: a run failed"))
    ref = results[("netanatomy", "resnet50")]
    peers = [(results[(t, "resnet50")]["time_s"], t) for t in TOOLS[1:]
             if results[(t, "resnet50")]["ok"]]
    if ref["ok"] and peers:
        fastest, name = min(peers)
        lines.append(mark(ref["time_s"] <= fastest,
                          f"ResNet-50: netanatomy analyze {ref['time_s']:.3f} s; fastest peer "
                          f"{name} {fastest:.3f} s; target: no slower. Caveat: the peers "
                          "run a real CPU forward, timed here with one thread; with both "
                          "cores idle and two threads, a probe outside this run measured "
                          "torchinfo 0.063 s and thop 0.064 s against netanatomy 0.070 s, "
                          "so on an idle machine this target is borderline"))
    small, big = results[("netanatomy", "mlp100")], results[("netanatomy", "mlp1000")]
    if small["ok"] and big["ok"]:
        op_ratio = big["ops"] / small["ops"]
        time_ratio = big["time_s"] / small["time_s"]
        lines.append(mark(time_ratio <= 1.5 * op_ratio,
                          f"Linearity: MLP 1000 vs 100 layers: ops x{op_ratio:.2f}, time "
                          f"x{time_ratio:.2f} ({small['time_s']:.3f} s -> {big['time_s']:.3f} s);"
                          " target: time ratio <= 1.5 x op ratio"))
    return lines


def mark(ok: bool, text: str) -> str:
    """A Markdown bullet starting with PASS or FAIL."""
    return f"- **{'PASS' if ok else 'FAIL'}** — {text}"


def write_results(results: dict[tuple[str, str], dict[str, Any]], elapsed: float,
                  load_before: tuple[float, float, float]) -> None:
    """Write bench/RESULTS.md: header, conventions, targets, tables and raw JSON."""
    v = versions()
    lines = ["# netanatomy vs peer tools — benchmark results", "",
             "Produced by `python bench/run.py` (from the repository root) on "
             f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, in {elapsed:.0f} s.", "",
             f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, "
             + ", ".join(f"{k} {val}" for k, val in v.items()) + ". Load average "
             f"(1/5/15 min) before the run: {load_before[0]:.2f} / {load_before[1]:.2f} / "
             f"{load_before[2]:.2f}; after: "
             + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + ".", "",
             "Method: each (tool, model) pair runs in its own child process "
             "(`python bench/run.py --one TOOL MODEL`, timeout "
             f"{CHILD_TIMEOUT_S} s). In the child: imports, model construction and input "
             "creation; one untimed warm-up call of the same tool on a tiny MLP on the same "
             "device; baseline `ru_maxrss`; the timed analysis call (best of 5 for ResNet-50, "
             "ViT and the MLPs, a single call for Llama 70B); final `ru_maxrss` (peak RSS of "
             "the whole child). Peers are called as their documentation shows (no extra "
             "`torch.no_grad()`), on the model's device: real CPU forwards for ResNet-50 and "
             "ViT, meta tensors for Llama 70B. netanatomy always runs on meta. Every child runs "
             f"with `torch.set_num_threads({TORCH_THREADS})`.", "",
             CONVENTIONS.strip(), "", "## Targets", ""]
    lines += targets(results)
    for model in PEER_MODELS:
        lines += ["", f"## {MODELS[model].title}", "", "### Totals", ""]
        lines += totals_table(results, model)
        lines += ["", "### Why the counts differ (each reconstruction checked on this run)", ""]
        lines += explanation_table(results, model)
        lines += ["", "### Time and peak memory", ""]
        lines += cost_table(results, model)
    lines += ["", "## Linearity (netanatomy only)", "",
              "| model | ops | analyze time | analyze + render + JSON | peak RSS |",
              "|---|---:|---:|---:|---:|"]
    for model in MLP_MODELS:
        r = results[("netanatomy", model)]
        if r["ok"]:
            lines.append(f"| {MODELS[model].title} | {r['ops']:,} | {r['time_s']:.3f} s | "
                         f"{r['time_full_s']:.3f} s | {r['peak_mb']:.0f} MB |")
        else:
            lines.append(f"| {MODELS[model].title} | failed: `{r['error']}` | | | |")
    lines += ["", *kept_speed_section(), "## Raw measurements", "", "```json"]
    lines += [json.dumps(r, default=str) for r in results.values()]
    lines += ["```", ""]
    RESULTS.write_text("\n".join(lines))


def kept_speed_section() -> list[str]:
    """The "## Speed targets" section that bench/speed.py wrote into RESULTS.md, kept as
    it is (it is that script's to update), or nothing."""
    if not RESULTS.exists():
        return []
    found = re.search(r"^## Speed targets\n.*?(?=^## |\Z)", RESULTS.read_text(), re.S | re.M)
    return found.group(0).rstrip("\n").split("\n") + [""] if found else []


def parent_main() -> None:
    """Measure every pair in a child process, print progress, write RESULTS.md."""
    start = time.perf_counter()
    load_before = os.getloadavg()
    pairs = [(tool, model) for model in PEER_MODELS for tool in TOOLS]
    pairs += [("netanatomy", model) for model in MLP_MODELS]
    results = {}
    for tool, model in pairs:
        r = run_child(tool, model)
        results[(tool, model)] = r
        status = (f"{r['time_s']:.3f} s, peak {r['peak_mb']:.0f} MB" if r["ok"]
                  else r["error"])
        print(f"{model:9s} {tool:16s} {status}", flush=True)
    write_results(results, time.perf_counter() - start, load_before)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def main() -> None:
    """Parse the command line: no arguments for the whole run, ``--one TOOL MODEL`` for one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("TOOL", "MODEL"),
                        help=f"one measurement; TOOL in {TOOLS}, MODEL in {tuple(MODELS)}")
    args = parser.parse_args()
    if args.one:
        child_main(*args.one)
    else:
        parent_main()


if __name__ == "__main__":
    main()
