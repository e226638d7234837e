"""The aten table: every entry names a real op, and common layers map to the right kinds."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.frontends.torch.aten import ATEN_TABLE
from netanatomy.rules import has_rule


@pytest.mark.parametrize("key", sorted(ATEN_TABLE))
def test_table_entries_name_real_aten_ops(key: str) -> None:
    namespace, name, *overload = key.split(".")
    if namespace != "aten" and not hasattr(getattr(torch.ops, namespace), name):
        pytest.skip(f"{key}: a library's own op, defined when that library is imported")
    packet = getattr(getattr(torch.ops, namespace), name)   # AttributeError on a typo
    if overload:
        assert overload[0] in packet.overloads()


@pytest.mark.parametrize("module, shape, kind", [
    (nn.Conv1d(2, 3, 3), (1, 2, 9), "conv"),
    (nn.Conv3d(2, 3, 3), (1, 2, 5, 5, 5), "conv"),
    (nn.ConvTranspose1d(2, 3, 3, stride=2), (1, 2, 9), "conv_transpose"),
    (nn.MaxPool1d(2), (1, 2, 8), "pool"),
    (nn.AvgPool3d(2), (1, 2, 4, 4, 4), "pool"),
    (nn.AdaptiveMaxPool2d(3), (1, 2, 7, 7), "adaptive_pool"),
    (nn.AdaptiveAvgPool2d(3), (1, 2, 7, 7), "adaptive_pool"),
    (nn.GroupNorm(2, 4), (2, 4, 5, 5), "norm"),
    (nn.InstanceNorm2d(4, affine=True), (2, 4, 5, 5), "norm"),
    (nn.LayerNorm(5), (2, 5), "norm"),
    (nn.PReLU(), (2, 5), "activation"),
    (nn.GELU(), (2, 5), "activation"),
    (nn.Softmax(dim=-1), (2, 5), "softmax"),
    (nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 4, 4), "upsample"),
    (nn.Upsample(scale_factor=2, mode="trilinear"), (1, 2, 4, 4, 4), "upsample"),
    (nn.Embedding(10, 3), "2x4:int64", "embedding"),
    (nn.PixelShuffle(2), (1, 8, 3, 3), "pixel_shuffle"),
])
def test_layers_map_to_counted_kinds(module: nn.Module, shape: object, kind: str) -> None:
    report = netanatomy.analyze(module, [shape])
    kinds = {node.kind for node in report.graph.nodes}
    assert kind in kinds
    assert all(has_rule(k) for k in kinds)
    assert not report.uncounted


def test_rms_norm_elementwise_convention() -> None:
    report = netanatomy.analyze(nn.RMSNorm(5), (2, 5))
    # 2·5 elements × (2 normalise + 2 statistics + 1 affine scale); see rules/norm.py
    norm_nodes = [n for n in report.graph.nodes if n.kind == "norm"]
    if norm_nodes:   # fused rms_norm op
        assert report.totals.elementwise_flops == 2 * 5 * (2 + 2 + 1)
    else:            # decomposed: x², mean, + eps, rsqrt, x · r, · weight (1 per element)
        assert report.totals.elementwise_flops == 10 + 10 + 2 + 2 + 10 + 10


def test_batch_norm_eval_uses_running_statistics() -> None:
    model = nn.BatchNorm2d(4)
    elements = 2 * 4 * 3 * 3
    eval_flops = netanatomy.analyze(model, (2, 4, 3, 3)).totals.elementwise_flops
    train_report = netanatomy.analyze(model, (2, 4, 3, 3), training=True)
    norm = [n for n in train_report.graph.nodes if n.kind == "norm"]
    assert eval_flops == elements * (2 + 2)                  # normalise + scale, shift
    assert norm and norm[0].attrs["stats"] is True


def test_grid_sample_counts_bilinear_taps() -> None:
    class Sampler(nn.Module):
        def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
            return F.grid_sample(x, grid, align_corners=False)

    report = netanatomy.analyze(Sampler(), [(1, 2, 8, 8), (1, 5, 5, 2)])
    assert report.totals.elementwise_flops == 1 * 2 * 5 * 5 * (2 * 4)   # 4 taps, mul + add
