"""More linear algebra: addbmm, addr, _trilinear (``nn.Bilinear``) and cdist.

- ``addbmm(C, A (b, n, m), B (b, m, p))`` = β·C + α·Σ_b A_b·B_b is one matrix product
  contracting b·m: it is emitted as ``matmul`` of ``(n, b·m) × (b·m, p)`` plus the bias
  (MACs = b·n·m·p, bias 1 elementwise FLOP per output element). The two reshaped operands
  are intermediate tensors of the kernel (the receptive field does not follow them).
- ``addr(C, x (n,), y (m,))`` = β·C + α·x⊗y is counted as the ``addmm`` it equals,
  ``addmm(C, x[:, None], y[None, :])``: a product with contracted size 1, MACs = n·m, plus
  n·m elementwise for β·C. ``torch.outer`` never reaches the dispatcher as ``aten.outer``
  (PyTorch decomposes it to ``view`` + ``mul`` before any dispatch mode sees it): it counts
  as n·m elementwise multiplies, the same n·m multiplies in the elementwise column.
  FlopCounterMode has no formula for addr, outer, addbmm, _trilinear or cdist (it counts 0).
- ``_trilinear`` in the pattern ``F.bilinear`` calls it with → ``bilinear``; any other
  pattern is uncounted (``unknown``), never 0.
- ``_cdist_forward`` and ``_euclidean_dist`` → ``distance`` with the form ATen takes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten
from netanatomy.ir.graph import TensorInfo
from netanatomy.ir.kinds import UNKNOWN

BILINEAR_PATTERN = ((1, 3), (0,), (1, 2), (2, 3))
"""expand1, expand2, expand3 and sumdim of ``_trilinear`` as ``F.bilinear`` calls it on
``(x1 (N, in1), weight (out, in1, in2), x2 (N, in2))``."""

MM_ROWS = 25
"""cdist takes the matrix-product route for p = 2 when P or R exceeds this (compute_mode
None / 0, "use_mm_for_euclid_dist_if_necessary"; aten/src/ATen/native/Distance.cpp)."""


def reshaped(call: AtenCall, info: TensorInfo, shape: tuple[Any, ...]) -> TensorInfo:
    """An intermediate view of ``info`` with ``shape`` (the parameter name kept)."""
    return replace(call.virtual(shape, info), param=info.param)


@aten("addbmm")
def adapt_addbmm(call: AtenCall) -> Emit:
    """(C, A (b, n, m), B (b, m, p)) → matmul((n, b·m), (b·m, p), C)."""
    bias, first, second = (call.info(t) for t in call.args[:3])
    batch, rows, inner = first.shape
    cols = second.shape[-1]
    return Emit("matmul", (reshaped(call, first, (rows, batch * inner)),
                           reshaped(call, second, (batch * inner, cols)), bias),
                {"fn": "addbmm"})


@aten("addr")
def adapt_addr(call: AtenCall) -> Emit:
    """(C, x (n,), y (m,)) → matmul((n, 1), (1, m), C), as addmm."""
    bias, first, second = (call.info(t) for t in call.args[:3])
    return Emit("matmul", (reshaped(call, first, (first.shape[0], 1)),
                           reshaped(call, second, (1, second.shape[0])), bias),
                {"fn": "addr"})


@aten("_trilinear")
def adapt_trilinear(call: AtenCall) -> Emit:
    """F.bilinear's (x1, weight, x2, [1, 3], [0], [1, 2], [2, 3]) → bilinear(x1, x2, weight)."""
    x1, weight, x2 = (call.info(t) for t in call.args[:3])
    pattern = tuple(tuple(int(d) for d in call.arg(i, name, ())) for i, name in
                    enumerate(("expand1", "expand2", "expand3", "sumdim"), start=3))
    if pattern != BILINEAR_PATTERN or len(x1.shape) != 2 or len(weight.shape) != 3:
        return Emit(UNKNOWN, (x1, weight, x2))
    return Emit("bilinear", (x1, x2, weight))


def norm_order(p: float) -> int | float | str:
    """p as an int when whole, ``"inf"`` for ∞ (JSON-safe), else the float."""
    if math.isinf(p):
        return "inf"
    return int(p) if float(p).is_integer() else float(p)


@aten("_cdist_forward")
def adapt_cdist(call: AtenCall) -> Emit:
    """(x1, x2, p, compute_mode): the mm form for p = 2 where ATen's cdist_impl takes it."""
    x1, x2 = call.info(call.args[0]), call.info(call.args[1])
    p = norm_order(float(call.arg(2, "p", 2.0)))
    mode = call.arg(3, "compute_mode") or 0
    uses_mm = p == 2 and (mode == 1 or (mode == 0 and max(x1.shape[-2], x2.shape[-2]) > MM_ROWS))
    return Emit("distance", (x1, x2), {"p": p, "form": "mm" if uses_mm else "direct"})


@aten("_euclidean_dist")
def adapt_euclidean_dist(call: AtenCall) -> Emit:
    """(x1, x2): ‖x‖² + ‖y‖² − 2·x·y by a matrix product."""
    return Emit("distance", (call.info(call.args[0]), call.info(call.args[1])),
                {"p": 2, "form": "mm"})
