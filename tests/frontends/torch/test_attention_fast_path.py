"""Frozen or eval attention on the CPU: the fused fast paths count as the slow path.

``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` run one fused kernel when
their parameters need no grad; the slow path of the same module (parameters requiring
grad) and the hand formula are the references.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import netanatomy

B, L, E, HEADS, FF = 2, 5, 16, 4, 32


def cpu_totals(model: nn.Module, frozen: bool) -> tuple[Any, Any, Any]:
    model.requires_grad_(not frozen)
    report = netanatomy.analyze(model, (B, L, E), device="cpu")
    ops = {node.op for node in report.graph.nodes}
    return (report.totals.macs, report.totals.elementwise_flops, report.totals.status), ops, \
        report


def test_frozen_encoder_layer_matches_the_hand_formula() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, HEADS, FF, dropout=0.0, batch_first=True).eval()
    (macs, flops, status), ops, _ = cpu_totals(layer, frozen=True)
    assert "aten._native_multi_head_attention.default" in ops      # the fast path ran
    tokens, head_dim = B * L, E // HEADS
    scores = B * HEADS * L * L
    assert status == "exact"
    assert macs == (tokens * E * 3 * E            # QKV in-projection
                    + scores * 2 * head_dim        # Q·Kᵀ and P·V
                    + tokens * E * E               # out-projection
                    + 2 * tokens * E * FF)         # FFN: E → FF → E
    assert flops == (tokens * 3 * E + 2 * scores + tokens * E   # biases, scale + softmax
                     + 2 * tokens * E                            # two residual adds
                     + 2 * tokens * E * 6                        # 2 layer norms: 2+2+2 / elt
                     + tokens * FF + tokens * E + tokens * FF)   # FFN biases, ReLU


@pytest.mark.parametrize("options", [
    {}, {"need_weights": False}, {"average_attn_weights": False},
    {"padding_mask": True}, {"padding_mask": True, "need_weights": False},
    {"attn_mask": True}, {"attn_mask": True, "need_weights": False},
])
def test_multi_head_attention_fast_path_equals_slow_path(options) -> None:
    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(E, HEADS, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            kwargs = {k: v for k, v in options.items() if k not in ("padding_mask", "attn_mask")}
            if options.get("padding_mask"):
                kwargs["key_padding_mask"] = torch.zeros(B, L, dtype=torch.bool, device=x.device)
            if options.get("attn_mask"):
                kwargs["attn_mask"] = torch.zeros(L, L, dtype=torch.bool, device=x.device)
            out, weights = self.attn(x, x, x, **kwargs)
            return out if weights is None else out.sum() + weights.sum()

    torch.manual_seed(0)
    model = SelfAttention().eval()
    slow, slow_ops, _ = cpu_totals(model, frozen=False)
    fast, fast_ops, report = cpu_totals(model, frozen=True)
    assert "aten._native_multi_head_attention.default" in fast_ops - slow_ops
    assert fast == slow
    assert fast[2] == "exact"
    assert report.layer("attn").macs == (B * L * E * 3 * E + B * HEADS * L * L * 2 * (E // HEADS)
                                         + B * L * E * E)


class DirectEncoderLayer(nn.Module):
    """Calls the fused encoder-layer kernel itself (module hooks, which netanatomy attaches,
    keep ``TransformerEncoderLayer`` from choosing it during capture)."""

    def __init__(self, layer: nn.TransformerEncoderLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        return torch._transformer_encoder_layer_fwd(
            x, E, HEADS, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias,
            layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias,
            layer.activation_relu_or_gelu == 2, layer.norm_first, layer.norm1.eps,
            layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias,
            layer.linear1.weight, layer.linear1.bias, layer.linear2.weight,
            layer.linear2.bias, None, None)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_fused_encoder_layer_kernel_equals_slow_path(norm_first, activation) -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, HEADS, FF, dropout=0.0, activation=activation,
                                       batch_first=True, norm_first=norm_first).eval()
    slow, _, _ = cpu_totals(layer, frozen=False)
    fused, ops, report = cpu_totals(DirectEncoderLayer(layer), frozen=True)
    assert ops == {"aten._transformer_encoder_layer_fwd.default"}
    assert fused == slow
    x = torch.randn(B, L, E)
    with torch.no_grad():  # the direct call computes what the module computes
        torch.testing.assert_close(DirectEncoderLayer(layer)(x), layer(x), rtol=1e-4,
                                   atol=1e-4)
    outputs = report.graph.nodes[-1].outputs
    assert outputs[0].shape == (B, L, E)
