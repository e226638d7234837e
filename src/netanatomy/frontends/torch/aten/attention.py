"""Fused attention fast paths of ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer``.

In eval mode, or with grad off or frozen parameters, these modules run one fused kernel on
the CPU (``aten._native_multi_head_attention``, ``aten._transformer_encoder_layer_fwd``)
instead of the ops of their slow path. Each kernel becomes the nodes the slow path records,
so the counts are the same whichever path runs:

- in-projection: one ``linear`` over the packed weight (3E × E) for self-attention, one
  per input with a third of it otherwise;
- with ``need_weights=False``: one ``attention`` node (scale and softmax per score, +1 per
  score for a mask), as ``F.scaled_dot_product_attention`` on the CPU;
  with ``need_weights=True``: the scale of q (an ``elementwise`` node), Q·Kᵀ (a ``matmul``,
  the mask as its added term), the ``softmax``, P·V (a ``matmul``) and, when the weights are
  averaged, a ``reduction`` over the heads — the ops of ``F.multi_head_attention_forward``;
- out-projection: one ``linear``.

The encoder layer adds its layer norms, residual adds and feed-forward (linear, ReLU or
GELU, linear), in the order of its ``norm_first`` flag. The fast paths run only in eval
mode, so there is no dropout to count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from netanatomy.frontends.torch.aten.registry import AtenCall, Emit, aten
from netanatomy.ir.graph import TensorInfo


@dataclass(frozen=True)
class Projections:
    """The weights of one multi-head attention: packed in-projection and out-projection."""

    qkv_weight: TensorInfo
    qkv_bias: TensorInfo
    out_weight: TensorInfo
    out_bias: TensorInfo


def in_projection(call: AtenCall, sources: Sequence[TensorInfo], embed: int,
                  weights: Projections) -> tuple[list[Emit], list[TensorInfo]]:
    """Nodes projecting q, k, v and the three projected tensors, ``(batch, len, E)``."""
    query, key, value = sources
    if key.id == query.id and value.id == query.id:
        packed = call.virtual((*query.shape[:-1], 3 * embed), query)
        emit = Emit("linear", (query, weights.qkv_weight, weights.qkv_bias), {}, (packed,))
        parts = [call.virtual((*query.shape[:-1], embed), query) for _ in range(3)]
        return [emit], parts
    emits, parts = [], []
    weight = call.virtual((embed, embed), weights.qkv_weight)
    bias = call.virtual((embed,), weights.qkv_bias)
    for source in sources:
        projected = call.virtual((*source.shape[:-1], embed), source)
        emits.append(Emit("linear", (source, weight, bias), {}, (projected,)))
        parts.append(projected)
    return emits, parts


def attention_core(call: AtenCall, parts: Sequence[TensorInfo], heads: int,
                   mask: TensorInfo | None, need_weights: bool,
                   weights_output: TensorInfo | None) -> tuple[list[Emit], TensorInfo]:
    """Nodes from projected q, k, v to the per-head context, and that context."""
    query, key, _ = parts
    batch, target, embed = query.shape
    source = key.shape[1]
    head_dim = embed // heads
    q, k, v = (call.virtual((batch, heads, length, head_dim), query)
               for length in (target, source, source))
    context = call.virtual((batch, heads, target, head_dim), query)
    masks = () if mask is None else (mask,)
    if not need_weights:
        return [Emit("attention", (q, k, v, *masks), {"is_causal": False}, (context,))], context
    scaled = call.virtual(q.shape, query)
    keys_t = call.virtual((batch, heads, head_dim, source), query)
    scores = call.virtual((batch, heads, target, source), query)
    averaged = weights_output is not None and len(weights_output.shape) == 3
    probs = (weights_output if weights_output is not None and not averaged
             else call.virtual(scores.shape, query))
    emits = [Emit("elementwise", (q,), {"fn": "mul"}, (scaled,)),
             Emit("matmul", (scaled, keys_t, *masks), {}, (scores,)),
             Emit("softmax", (scores,), {"dim": -1}, (probs,)),
             Emit("matmul", (probs, v), {}, (context,))]
    if averaged and weights_output is not None:
        emits.append(Emit("reduction", (probs,), {"fn": "mean", "dims": (1,), "keepdim": False},
                          (weights_output,)))
    return emits, context


def multi_head_attention(call: AtenCall, sources: Sequence[TensorInfo], heads: int,
                         weights: Projections, mask: TensorInfo | None, need_weights: bool,
                         outputs: tuple[TensorInfo, ...]) -> list[Emit]:
    """In-projection, attention and out-projection; ``outputs[0]`` is the result,
    ``outputs[1]`` (when given) the attention weights."""
    query = sources[0]
    embed = int(query.shape[-1])
    emits, parts = in_projection(call, sources, embed, weights)
    weights_output = outputs[1] if need_weights and len(outputs) > 1 else None
    core, context = attention_core(call, parts, heads, mask, need_weights, weights_output)
    merged = call.virtual((*query.shape[:-1], embed), query)
    final = outputs if not need_weights else outputs[:1]
    return [*emits, *core, Emit("linear", (merged, weights.out_weight, weights.out_bias), {},
                                final)]


def optional_info(call: AtenCall, value: object) -> TensorInfo | None:
    return call.info(value) if isinstance(value, torch.Tensor) else None


@aten("_native_multi_head_attention")
def adapt_native_multi_head_attention(call: AtenCall) -> list[Emit]:
    """(query, key, value, embed_dim, num_head, qkv_weight, qkv_bias, proj_weight,
    proj_bias, mask=None, need_weights=True, average_attn_weights=True, mask_type=None)."""
    sources = [call.info(call.args[i]) for i in range(3)]
    weights = Projections(*(call.info(call.args[i]) for i in (5, 6, 7, 8)))
    mask = optional_info(call, call.arg(9, "mask"))
    need_weights = bool(call.arg(10, "need_weights", True))
    return multi_head_attention(call, sources, int(call.arg(4, "num_head")), weights, mask,
                                need_weights, call.outputs)


@aten("_transformer_encoder_layer_fwd")
def adapt_transformer_encoder_layer(call: AtenCall) -> list[Emit]:
    """(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, use_gelu,
    norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2, ffn_weight_1,
    ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None, mask_type=None): the ops of
    ``TransformerEncoderLayer``'s slow path, self-attention without weights."""
    src = call.info(call.args[0])
    info = [call.info(call.args[i]) for i in range(3, 18) if i not in (7, 8, 9)]
    weights = Projections(*info[:4])
    norm1, norm2, ffn1, ffn2 = info[4:6], info[6:8], info[8:10], info[10:12]
    use_gelu, norm_first = bool(call.args[7]), bool(call.args[8])
    mask = optional_info(call, call.arg(18, "mask"))
    emits: list[Emit] = []

    def add(kind: str, inputs: tuple[TensorInfo, ...], attrs: dict, shape: tuple) -> TensorInfo:
        output = call.virtual(shape, src)
        emits.append(Emit(kind, inputs, attrs, (output,)))
        return output

    def norm(x: TensorInfo, affine: list[TensorInfo]) -> TensorInfo:
        return add("norm", (x, *affine), {"type": "layer", "stats": True}, x.shape)

    x = norm(src, norm1) if norm_first else src
    attended = call.virtual(src.shape, src)
    emits += multi_head_attention(call, [x, x, x], int(call.args[2]), weights, mask, False,
                                  (attended,))
    x = add("elementwise", (attended, src), {"fn": "add"}, src.shape)
    if not norm_first:
        x = norm(x, norm1)
    residual = x
    if norm_first:
        x = norm(x, norm2)
    hidden = add("linear", (x, *ffn1), {}, (*src.shape[:-1], ffn1[0].shape[0]))
    hidden = add("activation", (hidden,), {"fn": "gelu" if use_gelu else "relu"}, hidden.shape)
    x = add("linear", (hidden, *ffn2), {}, src.shape)
    x = add("elementwise", (x, residual), {"fn": "add"}, src.shape)
    if not norm_first:
        x = norm(x, norm2)
    last = emits[-1]
    emits[-1] = Emit(last.kind, last.inputs, last.attrs, call.outputs)
    return emits
