"""Matrix products and fused attention → ``matmul`` / ``attention``."""

from __future__ import annotations

import torch

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, plain

plain("matmul", ["mm", "bmm", "mv", "dot", "vdot", "matmul"])


@aten("addmm", "baddbmm", "addmv")
def adapt_biased_matmul(call: AtenCall) -> Emit:
    """addmm / baddbmm / addmv (bias, a, b): the bias goes last, as the rule expects."""
    bias, first, second = call.args[0], call.args[1], call.args[2]
    return Emit("matmul", (call.info(first), call.info(second), call.info(bias)))


@aten("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
      "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
      "_scaled_dot_product_fused_attention_overrideable")
def adapt_attention(call: AtenCall) -> Emit:
    query, key, value = call.args[0], call.args[1], call.args[2]
    mask = call.kwargs.get("attn_mask", call.kwargs.get("attn_bias"))
    if mask is None and len(call.args) > 3 and isinstance(call.args[3], torch.Tensor):
        mask = call.args[3]
    operands = [call.info(query), call.info(key), call.info(value)]
    if isinstance(mask, torch.Tensor):
        operands.append(call.info(mask))
    causal = call.kwargs.get("is_causal", False)
    return Emit("attention", tuple(operands), {"is_causal": bool(causal)})
