"""The roofline per module and phase (netanatomy.analysis.roofline_modules) against hand
arithmetic and datasheet figures: a Linear's FLOPs, bytes, intensity, bound and time; the
module rows adding up to the step/phase totals the reports already give; and the classic
claim that decode is memory-bound in its projections while a long prefill is
compute-bound."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.analysis.roofline import roofline
from netanatomy.analysis.roofline_modules import inclusive, module_rooflines
from netanatomy.render.catalog import write

# H100 SXM datasheet (nvidia.com/en-us/data-center/h100): FP32 67 TFLOPS, BF16 Tensor Core
# 989.4 TFLOPS dense (1,979 with sparsity), GPU memory bandwidth 3.35 TB/s.
H100_FP32 = 67e12
H100_BF16 = 989.4e12
H100_BW = 3.35e12
RIDGE_FP32 = H100_FP32 / H100_BW       # 20 FLOP/byte
RIDGE_BF16 = H100_BF16 / H100_BW       # 295.3 FLOP/byte


def linear_row(m: int, k: int, n: int) -> tuple[dict[str, object], object]:
    model = nn.Sequential(nn.Linear(k, n))
    graph = netanatomy.analyze(model, [f"{m}x{k}"]).graph
    rows = module_rooflines(roofline(graph, "h100-sxm"), graph, "forward")
    (row,) = [r for r in rows.modules if r.path == "0"]
    return {"flops": row.flops, "bytes": row.bytes, "intensity": row.intensity,
            "bound": row.bound, "time_s": row.time_s}, rows


@pytest.mark.parametrize(("m", "k", "n", "bound"), [(4, 1024, 1024, "memory"),
                                                    (2048, 2048, 2048, "compute")])
def test_a_linear_by_hand(m: int, k: int, n: int, bound: str) -> None:
    row, rows = linear_row(m, k, n)
    assert rows.peak_flops == H100_FP32 and rows.bandwidth == H100_BW
    assert rows.ridge_point == pytest.approx(RIDGE_FP32)
    flops = 2 * m * k * n + m * n                  # 2 FLOPs per MAC, + the bias add per output
    moved = (m * k + k * n + n + m * n) * 4        # x, W, b read once, y written once; fp32
    assert (row["flops"], row["bytes"]) == (flops, moved)
    assert row["intensity"] == pytest.approx(flops / moved)
    assert row["bound"] == ("compute" if flops / moved >= RIDGE_FP32 else "memory") == bound
    assert row["time_s"] == pytest.approx(max(flops / H100_FP32, moved / H100_BW))


def test_the_training_forward_row_of_a_linear_is_the_same_and_backward_is_mixed() -> None:
    m = k = n = 2048
    report = netanatomy.training(nn.Sequential(nn.Linear(k, n)), (m, k), optimizer="sgd",
                                 device_type="h100-sxm")
    assert report.time is not None
    rows = report.time.modules
    forward = next(r for r in rows.modules if r.path == "0" and r.phase == "forward")
    flops = 2 * m * k * n + m * n
    moved = (m * k + k * n + n + m * n) * 4
    assert (forward.flops, forward.bytes) == (flops, moved)
    assert forward.time_s == pytest.approx(flops / H100_FP32)
    # backward: dX = dY·W and dW = dYᵀ·X (2·m·k·n FLOPs each, intensity ~341 > 20: compute)
    # and db = Σ dY (m·n adds over m·n·4 bytes: memory) — ops on both sides: "mixed"
    backward = next(r for r in rows.modules if r.path == "0" and r.phase == "backward")
    assert backward.bound == "mixed"
    # the rule, from the nodes themselves: both sides occur among the Linear's nodes
    line = roofline(report.graph, "h100-sxm")
    assert {n.bound for n in line.nodes if n.path == "0" and n.time_s} == {"compute",
                                                                           "memory"}


def tiny_llama(hidden: int, layers: int = 2, dtype: torch.dtype = torch.float32) -> nn.Module:
    transformers = pytest.importorskip("transformers")
    warnings.filterwarnings("ignore", category=FutureWarning)
    config = transformers.LlamaConfig(
        hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=hidden // 128, num_key_value_heads=max(1, hidden // 512),
        vocab_size=1000, tie_word_embeddings=False)
    with torch.device("meta"):
        return transformers.LlamaForCausalLM(config).to(dtype)


def test_training_module_times_add_up_to_the_phases_and_the_step() -> None:
    model = tiny_llama(256)
    report = netanatomy.training(model, example_inputs=torch.zeros(
        2, 32, dtype=torch.int64, device="meta"), device_type="h100-sxm", peak_dtype="bf16")
    time = report.time
    assert time is not None and time.seconds is not None
    rows = time.modules
    assert rows.runs == {"step": time.seconds}
    own = [r for r in rows.modules if r.scope == "self"]
    for phase, seconds in time.by_phase.items():
        assert sum(r.time_s or 0 for r in own if r.phase == phase) == pytest.approx(
            seconds or 0, rel=1e-9)
        if seconds:
            root = next(r for r in rows.modules if r.path == "" and r.scope == "total"
                        and r.phase == phase)
            assert root.time_s == pytest.approx(seconds, rel=1e-9)
    assert sum(r.share or 0 for r in own) == pytest.approx(1.0)
    assert {r.phase for r in own} == {"forward", "loss", "backward", "optimizer"}
    # optimizer updates sit with the parameters' modules (AdamW on q_proj.weight)
    assert any(r.phase == "optimizer" and r.path.endswith("self_attn.q_proj") for r in own)
    # the CSV's whole-step columns: the root is the step
    assert inclusive(rows)[""].time_s == pytest.approx(time.seconds, rel=1e-9)
    document = json.loads(write("training", "json", report))["roofline"]
    assert {"device", "dtype", "peak_flops", "bandwidth", "ridge_point", "modules"} <= set(
        document)
    assert document["ridge_point"] == pytest.approx(RIDGE_BF16)
    assert {"path", "type", "phase", "flops", "bytes", "intensity", "bound", "time_s",
            "share"} <= set(document["modules"][0])
    text = write("training", "table", report)
    assert "Roofline per module on h100-sxm" in text and "more not shown" in text
    header = write("training", "csv", report).splitlines()[0]
    assert header.endswith("flops,bytes,intensity,bound,time_s,share")


def test_decode_projections_are_memory_bound_and_a_long_prefill_compute_bound() -> None:
    # A projection Linear(K→N) (no bias in Llama) over M tokens in dtype of s bytes:
    #   FLOPs = 2·M·K·N, bytes = (M·K + K·N + M·N)·s   (x and W read, y written)
    # Decode: M = batch b. For b ≪ K, N the weight read dominates, so
    #   intensity → 2·b·K·N / (K·N·s) = 2·b / s FLOP per byte
    # (each weight element, s bytes, serves b multiply-adds = 2·b FLOPs): 2 for b = 2 in
    # bf16, far left of the H100's bf16 ridge point 989.4 / 3.35 = 295 → memory-bound.
    # Prefill: M = b·L; for L ≫ K, N the intensity → 2·K·N / ((K + N)·s) (≥ 372 here).
    batch, prompt, s = 2, 4096, 2
    model = tiny_llama(2048, layers=1, dtype=torch.bfloat16)
    report = netanatomy.inference(model, prompt=prompt, generate=4, batch=batch,
                                  device_type="h100-sxm")
    rows = report.roofline
    assert rows is not None and rows.ridge_point == pytest.approx(RIDGE_BF16)
    shapes = {name.removesuffix(".weight"): tuple(p.shape) for name, p in
              model.named_parameters() if "layers" in name and "proj" in name}
    assert len(shapes) == 7                        # q, k, v, o, gate, up, down
    for phase, m in (("decode", batch), ("prefill", batch * prompt)):
        for path, (n, k) in shapes.items():
            row = next(r for r in rows.modules if r.path == path and r.phase == phase)
            flops, moved = 2 * m * k * n, (m * k + k * n + m * n) * s
            assert (row.flops, row.bytes) == (flops, moved), (phase, path)
            assert row.intensity == pytest.approx(flops / moved)
            if phase == "decode":
                assert row.bound == "memory"
                assert row.intensity == pytest.approx(2 * batch / s, rel=0.01)
                assert row.time_s == pytest.approx(moved / H100_BW)
            else:
                assert row.bound == "compute" and row.intensity > RIDGE_BF16
                assert row.time_s == pytest.approx(flops / H100_BF16)
    device = report.device
    assert device is not None
    for phase, total in (("prefill", device.prefill_s.value),
                         ("decode", device.decode_first_s and device.decode_first_s.value)):
        own = [r for r in rows.modules if r.phase == phase and r.scope == "self"]
        assert sum(r.time_s or 0 for r in own) == pytest.approx(total, rel=1e-9)
        assert rows.runs[phase] == pytest.approx(total)
    document = report.to_dict()["roofline"]
    assert document["device"] == "h100-sxm" and document["dtype"] == "bf16"
    assert "Roofline per module" in report.render()
