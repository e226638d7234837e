"""The roofline against hand arithmetic: FLOPs = 2·MACs + elementwise, bytes = operands
read once + outputs written once, intensity = FLOPs / bytes, time = max(FLOPs / peak,
bytes / bandwidth); the device figures come from the datasheets (tests/hardware)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy import spec
from netanatomy.analysis.roofline import Total, roofline
from netanatomy.errors import UsageError
from tests.opaque_ops import HalfKnown

H100_FP32 = 67e12        # H100 SXM datasheet: FP32 67 TFLOPS
H100_BF16 = 989.4e12     # H100 whitepaper: dense BF16 989.4 TFLOPS
H100_BW = 3.35e12        # 3.35 TB/s


def linear_graph(n_in: int, n_out: int, batch: int, dtype: torch.dtype = torch.float32):
    model = nn.Linear(n_in, n_out).to(dtype)
    name = str(dtype).removeprefix("torch.")
    return netanatomy.analyze(model, [f"{batch}x{n_in}:{name}"]).graph


def test_a_batch_1_linear_is_memory_bound() -> None:
    result = roofline(linear_graph(1024, 1024, 1), "h100-sxm")
    assert result.dtype == "fp32" and result.ridge_point == pytest.approx(67 / 3.35)
    node = next(n for n in result.nodes if n.kind == "matmul")
    flops = 2 * 1024 * 1024 + 1024                   # 2·MACs + the bias add per output
    moved = 4 * (1024 + 1024 * 1024 + 1024 + 1024)   # x, W, bias read; y written; fp32
    assert (node.flops, node.bytes) == (flops, moved)
    assert node.intensity == pytest.approx(flops / moved)
    assert node.bound == "memory"
    assert node.time_s == pytest.approx(max(flops / H100_FP32, moved / H100_BW))
    assert node.attainable_flops == pytest.approx(flops / (moved / H100_BW))
    view = next(n for n in result.nodes if n.kind == "view")   # W.t(): moves nothing
    assert (view.time_s, view.bound, view.intensity) == (0, None, None)
    assert result.time_s == Total(pytest.approx(moved / H100_BW), "exact")


def test_a_big_bf16_matmul_is_compute_bound() -> None:
    m, k, n = 8192, 4096, 4096
    result = roofline(linear_graph(k, n, m, torch.bfloat16), "h100-sxm")
    assert result.dtype == "bf16"
    node = next(n for n in result.nodes if n.kind == "matmul")
    flops = 2 * m * k * n + m * n
    moved = 2 * (m * k + k * n + n + m * n)          # bf16: 2 bytes an element
    assert (node.flops, node.bytes) == (flops, moved)
    assert node.intensity == pytest.approx(flops / moved)
    assert node.intensity > 989.4 / 3.35             # right of the ridge point
    assert node.bound == "compute"
    assert node.time_s == pytest.approx(flops / H100_BF16)


def test_tokens_per_second_and_mfu() -> None:
    m = 8192
    result = roofline(linear_graph(4096, 4096, m, torch.bfloat16), "h100-sxm")
    time = result.time_s.value
    assert time is not None
    assert result.tokens_per_second(m) == Total(pytest.approx(m / time), "exact")
    measured = 2 * time                              # a run twice as slow as the roofline
    mfu = result.mfu(measured)
    assert mfu.status == "exact"
    assert mfu.value == pytest.approx(result.flops.value / (measured * 989.4e12))
    assert mfu.value == pytest.approx(0.5)           # compute-bound: time = FLOPs / peak
    with pytest.raises(UsageError, match="positive"):
        result.mfu(0)


def test_the_dtype_can_be_chosen_and_must_exist_on_the_device() -> None:
    graph = linear_graph(64, 64, 2)
    assert roofline(graph, "a100-sxm-80gb", dtype="tf32").peak_flops == 156 * 10**12
    with pytest.raises(UsageError, match="no bf16 figure"):
        roofline(graph, "t4", dtype="bf16")
    with pytest.raises(UsageError, match="ambiguous"):
        roofline(graph, "h100")


def test_uncounted_nodes_stay_unknown_and_make_sums_partial() -> None:
    width = 4
    result = roofline(netanatomy.analyze(HalfKnown(width), (2, width)).graph, "h100-sxm")
    unknown = [n for n in result.nodes if n.path == "unknown"]
    assert unknown and all(n.flops is None and n.time_s is None and n.bound is None
                           for n in unknown)
    modules = result.by_module()
    flops, moved, time = modules["known"]
    assert flops == Total(2 * 2 * width * width, "exact")      # 2·MACs, no bias
    assert moved == Total(4 * (2 * width + width * width + 2 * width), "exact")
    assert modules["unknown"][2] == Total(None, "unknown")
    assert modules[""][0] == Total(2 * 2 * width * width, "partial")
    assert result.time_s.status == "partial"
    assert result.tokens_per_second(2).status == "partial"


def test_a_symbolic_graph_is_refused() -> None:
    graph = spec.analyze("docs/examples/conv.yaml").graph
    with pytest.raises(UsageError, match="roofline needs numbers.*give every symbol a value"):
        roofline(graph, "h100-sxm")
    numeric = spec.analyze("docs/examples/conv.yaml", {"K": 3, "F": 8, "D": 4, "H": 6, "W": 6})
    assert roofline(numeric.graph, "h100-sxm").time_s.status == "exact"
