"""Matrix products and fused attention → ``matmul`` / ``attention``."""

from __future__ import annotations

from typing import Any

import torch

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, meta_check, plain

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


DTYPE_NAMES = {torch.float16: "Half", torch.bfloat16: "BFloat16", torch.float32: "Float",
               torch.float64: "Double"}


def same_dtype_check(op: str, positions: tuple[int, ...]) -> Any:
    """A meta check refusing operands of different floating dtypes, as the CPU and CUDA
    kernels do (meta kernels of matrix products skip it, so an fp16 input into an fp32
    layer would be analysed although it cannot run)."""

    def check(args: tuple[Any, ...]) -> None:
        dtypes = [args[i].dtype for i in positions
                  if i < len(args) and isinstance(args[i], torch.Tensor)
                  and args[i].is_floating_point()]
        if len(set(dtypes)) > 1:
            first, second = (DTYPE_NAMES.get(d, str(d)) for d in dtypes[:2])
            raise RuntimeError(f"{op}: expected the operands to have the same dtype, but "
                               f"got {first} and {second}")

    return check


for _name, _positions in {"mm": (0, 1), "bmm": (0, 1), "mv": (0, 1), "dot": (0, 1),
                          "addmm": (0, 1, 2), "baddbmm": (0, 1, 2), "addmv": (0, 1, 2),
                          "convolution": (0, 1, 2)}.items():
    meta_check(_name)(same_dtype_check(_name, _positions))
