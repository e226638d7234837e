"""Mixture-of-experts kernels → ``grouped_matmul``.

``aten._grouped_mm`` is the default experts path of transformers' MoE models (Mixtral,
Qwen2/3-MoE, OLMoE, DeepSeek-V3, Jamba: ``config._experts_implementation ==
"grouped_mm"``). transformers' own ``transformers.grouped_mm_fallback`` (taken only under
torch.compile with non-bf16 weights, or for unaligned CPU tensors with torch <= 2.10) is
not registered: that op exists only once transformers is imported, and is reported as
uncounted by name where it runs. The meta kernel of ``_grouped_mm`` accepts only
bfloat16, while the CPU kernel runs float32 as well: :func:`grouped_mm_meta` gives the
shapes on meta for any floating dtype.
"""

from __future__ import annotations

from typing import Any

import torch

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten, meta_override


@aten("_grouped_mm")
def adapt_grouped_mm(call: AtenCall) -> Emit:
    """(a, b, offs=None, bias=None): operands a, b, offs when given, bias last."""
    first, second = call.arg(0, "self"), call.arg(1, "mat2")
    offs, bias = call.arg(2, "offs"), call.arg(3, "bias")
    operands = [call.info(first), call.info(second)]
    if isinstance(offs, torch.Tensor):
        operands.append(call.info(offs))
    if isinstance(bias, torch.Tensor):
        operands.append(call.info(bias))
    return Emit("grouped_matmul", tuple(operands), {"bias": isinstance(bias, torch.Tensor)})


@meta_override("_grouped_mm")
def grouped_mm_meta(mat_a: torch.Tensor, mat_b: torch.Tensor, offs: Any = None,
                    bias: Any = None, out_dtype: Any = None) -> torch.Tensor:
    """The output of ``torch._grouped_mm`` as an empty meta tensor, for every floating
    dtype (the layouts of torch's ``_create_grouped_mm_output_tensor``)."""
    a_2d, b_2d = mat_a.dim() == 2, mat_b.dim() == 2
    torch._check(mat_a.dtype.is_floating_point and mat_a.dtype == mat_b.dtype,
                 lambda: f"grouped_mm needs one floating dtype, got {mat_a.dtype}, {mat_b.dtype}")
    torch._check(mat_a.size(-1) == mat_b.size(-2) or (a_2d and b_2d),
                 lambda: "contraction dimension of mat_a and mat_b must match")
    if a_2d and b_2d:
        size = [offs.size(0), mat_a.size(0), mat_b.size(1)]
    elif a_2d:
        size = [mat_a.size(0), mat_b.size(-1)]
    elif b_2d:
        size = [mat_a.size(1), mat_b.size(1)]
    else:
        size = [mat_a.size(0), mat_a.size(1), mat_b.size(-1)]
    return torch.empty(size, dtype=out_dtype or mat_a.dtype, device="meta")
