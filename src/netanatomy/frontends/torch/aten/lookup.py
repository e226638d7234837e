"""Lookups that compute, and the routing ops of mixture-of-experts models.

- ``_embedding_bag`` / ``_embedding_bag_forward_only`` (``nn.EmbeddingBag``; a 2-D input
  reaches aten flattened, with offsets from ``arange``) → ``embedding_bag``.
- ``index_add``, ``scatter_add``, ``scatter`` with ``reduce=``, ``scatter_reduce`` and
  ``histc`` (a histogram is a scatter-add of ones) → ``scatter_add``.
- ``_weight_norm_interface(v, g, dim)`` (weight norm of wav2vec2, HuBERT, WavLM, SEW,
  Encodec) → ``w = v · (g / ‖v‖)``, ‖v‖ over every axis but ``dim``: a ``reduction`` (the
  norm, an op output), an ``elementwise`` divide (g / ‖v‖, an intermediate) and an
  ``elementwise`` multiply: |v| + |g| + |v| elementwise FLOPs, the numbers of its
  torch._decomp decomposition, with the norm's axes named right.
"""

from __future__ import annotations

import torch

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten

BAG_MODES = ("sum", "mean", "max")
"""``mode`` of ``_embedding_bag`` by its integer code."""


@aten("_embedding_bag", "_embedding_bag_forward_only")
def adapt_embedding_bag(call: AtenCall) -> Emit:
    """(weight, indices, offsets, scale_grad_by_freq, mode, sparse, per_sample_weights,
    include_last_offset, padding_idx) → embedding_bag(weight, indices, offsets[, psw])."""
    weight, indices, offsets = call.args[0], call.args[1], call.args[2]
    operands = [call.info(weight), call.info(indices), call.info(offsets)]
    per_sample_weights = call.arg(6, "per_sample_weights")
    if isinstance(per_sample_weights, torch.Tensor):
        operands.append(call.info(per_sample_weights))
    mode = BAG_MODES[int(call.arg(4, "mode", 0))]
    last = bool(call.arg(7, "include_last_offset", False))
    return Emit("embedding_bag", tuple(operands), {"mode": mode, "include_last_offset": last})


@aten("index_add")
def adapt_index_add(call: AtenCall) -> Emit:
    """(self, dim, index, source, alpha): every source element is added once."""
    target, dim, index, source = call.args[:4]
    return Emit("scatter_add", (call.info(target), call.info(index), call.info(source)),
                {"dim": int(dim), "added": "source", "fn": "index_add"})


@aten("scatter_add", "aten.scatter.reduce", "aten.scatter_.reduce", "aten.scatter.value_reduce",
      "aten.scatter_.value_reduce", "aten.scatter_reduce.two", "aten.scatter_reduce_.two")
def adapt_scatter_add(call: AtenCall) -> Emit:
    """(self, dim, index, src or a scalar value[, reduce]): one combine per index entry."""
    target, dim, index, source = call.args[:4]
    operands = [call.info(target), call.info(index)]
    if isinstance(source, torch.Tensor):
        operands.append(call.info(source))
    reduce = call.arg(4, "reduce", "sum")
    return Emit("scatter_add", tuple(operands), {
        "dim": int(dim), "added": "index", "reduce": str(reduce),
        "fn": str(call.func.overloadpacket).removeprefix("aten.")})


@aten("histc")
def adapt_histc(call: AtenCall) -> Emit:
    """(self, bins=100, min=0, max=0): min = max takes the range from the data."""
    low, high = call.arg(2, "min", 0), call.arg(3, "max", 0)
    return Emit("scatter_add", (call.info(call.args[0]),), {
        "bins": int(call.arg(1, "bins", 100)), "added": "input",
        "data_range": bool(low == high), "fn": "histc"})


@aten("_weight_norm_interface")
def adapt_weight_norm(call: AtenCall) -> list[Emit]:
    """(v, g, dim) → (w, norm): norm of v over the other axes, g / norm, v · (g / norm)."""
    v, g = call.info(call.args[0]), call.info(call.args[1])
    rank = len(v.shape)
    dim = int(call.arg(2, "dim", 0)) % max(rank, 1)
    weight, norm = call.outputs[0], call.outputs[1]
    scale = call.virtual(g.shape, g)
    return [
        Emit("reduction", (v,), {"dims": tuple(i for i in range(rank) if i != dim),
                                 "keepdim": True, "fn": "norm"}, outputs=(norm,)),
        Emit("elementwise", (g, norm), {"fn": "div"}, outputs=(scale,)),
        Emit("elementwise", (v, scale), {"fn": "mul"}, outputs=(weight,)),
    ]
