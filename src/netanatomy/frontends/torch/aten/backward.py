"""Backward kernels and optimizer steps → IR nodes, one per gradient they compute.

Each node's attrs say what it computes where that is known: ``"grad"`` is ``"input"``
(the gradient flowing to the op's input), ``"weight"``, ``"bias"`` or ``"state"`` (the
gradient of an internal state: attention scores, a recurrent layer's hidden state). A
gradient the kernel is not asked for (``output_mask`` False) costs nothing and gets no node.

- ``convolution_backward``: dx as a ``conv_transpose`` of the output gradient with the same
  weight (a ``conv`` for a transposed forward), dW as ``conv_weight_grad``, db as a sum.
- pooling / interpolation backward → ``pool_backward`` / ``upsample_backward``.
- the fused attention backward kernels (CPU flash, CUDA flash, memory-efficient, cuDNN,
  overrideable) → ``attention_backward`` nodes for dS (with the recomputed scores), dQ, dK,
  dV, and a sum for the mask's gradient. All of them recompute the scores; on meta, SDPA
  runs its math path instead and its backward is plain ``bmm``/softmax-backward ops.
- ``mkldnn_rnn_layer_backward`` (CPU LSTM) → ``recurrent_backward`` nodes.
- ``_embedding_bag_backward`` → ``scatter_add`` (+ the mean's scaling).
- ``_foreach_*`` (optimizers with ``foreach=True``) → one node of the base op's kind per
  tensor, so a foreach step counts as the per-tensor loop does; ``_fused_adam(w)_`` /
  ``_fused_sgd_`` → one ``optimizer_step`` per parameter.
- a few forward ops that only show up inside decompositions of backward and loss ops
  (``__and__``, ``__or__``, ``log_sigmoid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from netanatomy.frontends.torch.aten.elementwise import ACTIVATIONS, ELEMENTWISE
from netanatomy.frontends.torch.aten.pool import UPSAMPLERS, pool_adapter
from netanatomy.frontends.torch.aten.registry import (
    AtenCall,
    Emit,
    aten,
    per_axis,
    plain,
    register_adapter,
)
from netanatomy.ir.graph import TensorInfo
from netanatomy.ir.kinds import UNKNOWN

plain("elementwise", ["__and__", "__or__", "__xor__"])
plain("activation", ["log_sigmoid"])


def named_arg(call: AtenCall, name: str, default: Any = None) -> Any:
    """The argument called ``name`` in the op's schema, positional or keyword."""
    for position, argument in enumerate(call.func._schema.arguments):
        if argument.name == name:
            return call.arg(position, name, default)
    return default


def masked_outputs(call: AtenCall, mask: Sequence[bool]) -> list[TensorInfo | None]:
    """The op's outputs aligned with ``mask``: None where a gradient is not computed
    (undefined outputs are dropped from ``call.outputs``, so they are matched in order)."""
    if len(call.outputs) == len(mask):
        return [out if wanted else None for out, wanted in zip(call.outputs, mask)]
    remaining = iter(call.outputs)
    return [next(remaining, None) if wanted else None for wanted in mask]


def tagged(attrs: dict[str, Any], grad: str) -> dict[str, Any]:
    return {**attrs, "grad": grad}


# --- convolution --------------------------------------------------------------------------


def transposed_output_padding(x_shape: Sequence[int], grad_shape: Sequence[int],
                              kernel: Sequence[int], stride: Sequence[int],
                              padding: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """Output padding that makes the transposed conv of the output gradient come out at
    x's size: x − ((g − 1)·s − 2p + d·(k − 1) + 1) per axis (the rows the forward's floor
    dropped)."""
    return tuple(size - ((g - 1) * s - 2 * p + d * (k - 1) + 1)
                 for size, g, k, s, p, d in zip(x_shape, grad_shape, kernel, stride, padding,
                                                 dilation))


@aten("convolution_backward")
def adapt_convolution_backward(call: AtenCall) -> list[Emit]:
    """(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
    output_padding, groups, output_mask)."""
    grad, x, weight = call.args[0], call.args[1], call.args[2]
    rank = weight.dim() - 2
    stride = per_axis(call.arg(4, "stride"), rank, 1)
    padding = per_axis(call.arg(5, "padding"), rank, 0)
    dilation = per_axis(call.arg(6, "dilation"), rank, 1)
    transposed = bool(call.arg(7, "transposed", False))
    groups = int(call.arg(9, "groups", 1))
    grad_x, grad_w, grad_b = masked_outputs(call, list(call.arg(10, "output_mask")))
    g, xi, wi = call.info(grad), call.info(x), call.info(weight)
    base = {"stride": stride, "padding": tuple((p, p) for p in padding),
            "dilation": dilation, "groups": groups}
    kernel = tuple(weight.shape[2:])
    emits = []
    if grad_x is not None:
        if transposed:
            emits.append(Emit("conv", (g, wi), tagged(base, "input"), (grad_x,)))
        else:
            extra = transposed_output_padding(x.shape[2:], grad.shape[2:], kernel, stride,
                                              padding, dilation)
            emits.append(Emit("conv_transpose", (g, wi),
                              tagged({**base, "output_padding": extra}, "input"), (grad_x,)))
    if grad_w is not None:
        emits.append(Emit("conv_weight_grad", (xi, g), tagged(
            {**base, "transposed": transposed, "kernel": kernel}, "weight"), (grad_w,)))
    if grad_b is not None:
        emits.append(Emit("reduction", (g,), tagged(
            {"fn": "sum", "dims": (0, *range(2, grad.dim())), "keepdim": False}, "bias"),
            (grad_b,)))
    return emits


# --- pooling and interpolation ------------------------------------------------------------


def shifted(call: AtenCall) -> AtenCall:
    """The call without its first argument (the output gradient): a backward pooling op's
    remaining arguments are its forward's."""
    return AtenCall(call.func, call.args[1:], call.kwargs, call.info_of, call.outputs)


def pool_backward_adapter(mode: str, has_dilation: bool) -> Any:
    """(grad_output, x, kernel, stride, padding[, dilation], ceil_mode, ...[, indices])."""
    forward = pool_adapter(mode, has_dilation)

    def adapt(call: AtenCall) -> Emit:
        emitted = forward(shifted(call))
        assert isinstance(emitted, Emit)  # pool_adapter emits one node
        attrs = dict(emitted.attrs)
        operands = [call.info(call.args[0]), call.info(call.args[1])]
        indices = named_arg(call, "indices")
        if isinstance(indices, torch.Tensor):
            operands.append(call.info(indices))
        return Emit("pool_backward", tuple(operands), tagged(attrs, "input"))

    return adapt


def adaptive_pool_backward_adapter(mode: str, rank: int) -> Any:
    """(grad_output, x[, indices])."""

    def adapt(call: AtenCall) -> Emit:
        grad = call.args[0]
        operands = call.tensors(call.args[:3])
        return Emit("pool_backward", operands, tagged(
            {"mode": mode, "adaptive": True, "output_size": tuple(grad.shape[-rank:])},
            "input"))

    return adapt


def upsample_backward_adapter(mode: str) -> Any:
    """(grad_output, output_size, input_size, ...)."""

    def adapt(call: AtenCall) -> Emit:
        return Emit("upsample_backward", (call.info(call.args[0]),), tagged(
            {"mode": mode, "output_size": tuple(int(s) for s in call.arg(1, "output_size")),
             "input_size": tuple(int(s) for s in call.arg(2, "input_size"))}, "input"))

    return adapt


for _rank in (2, 3):
    register_adapter(f"aten.max_pool{_rank}d_with_indices_backward",
                     pool_backward_adapter("max", True))
    register_adapter(f"aten.avg_pool{_rank}d_backward", pool_backward_adapter("avg", False))
    register_adapter(f"aten._adaptive_avg_pool{_rank}d_backward",
                     adaptive_pool_backward_adapter("avg", _rank))
    register_adapter(f"aten.adaptive_max_pool{_rank}d_backward",
                     adaptive_pool_backward_adapter("max", _rank))
for _name, (_mode, _) in UPSAMPLERS.items():
    if hasattr(torch.ops.aten, f"{_name}_backward"):
        register_adapter(f"aten.{_name}_backward", upsample_backward_adapter(_mode))


# --- attention ----------------------------------------------------------------------------


@aten("_scaled_dot_product_flash_attention_for_cpu_backward",
      "_scaled_dot_product_flash_attention_backward",
      "_scaled_dot_product_efficient_attention_backward",
      "_scaled_dot_product_cudnn_attention_backward",
      "_scaled_dot_product_fused_attention_overrideable_backward")
def adapt_attention_backward(call: AtenCall) -> list[Emit]:
    """(grad_out, query, key, value, ...): the scores are recomputed from the saved
    log-sum-exp, then dS, dQ, dK, dV (and the mask's gradient where asked for)."""
    grad_out, query, key, value = call.args[:4]
    mask = named_arg(call, "attn_mask")
    if not isinstance(mask, torch.Tensor):
        mask = named_arg(call, "attn_bias")
    q, k, v, g = (call.info(t) for t in (query, key, value, grad_out))
    operands = (q, k, v, g) + ((call.info(mask),) if isinstance(mask, torch.Tensor) else ())
    attrs = {"recompute": True, "is_causal": bool(named_arg(call, "is_causal", False))}
    scores = call.virtual((*q.shape[:-1], k.shape[-2]), q)
    emits = [Emit("attention_backward", operands, tagged({**attrs, "part": "scores"}, "state"),
                  (scores,))]
    wanted = named_arg(call, "grad_input_mask")
    mask_list = list(wanted) if wanted is not None else [True] * min(len(call.outputs), 4)
    outputs = masked_outputs(call, mask_list)
    for part, output in zip(("query", "key", "value"), outputs):
        if output is not None:
            emits.append(Emit("attention_backward", operands,
                              tagged({**attrs, "part": part}, "input"), (output,)))
    if len(outputs) > 3 and outputs[3] is not None and isinstance(mask, torch.Tensor):
        emits.append(mask_gradient(scores, outputs[3]))
    return emits


def mask_gradient(scores: TensorInfo, output: TensorInfo) -> Emit:
    """The additive mask's gradient: dS summed over the axes the mask broadcasts along."""
    rank = len(scores.shape)
    shape = (1,) * (rank - len(output.shape)) + tuple(output.shape)
    dims = tuple(axis for axis, (size, full) in enumerate(zip(shape, scores.shape))
                 if size == 1 and full != 1)
    if not dims:
        return Emit("copy", (scores,), {"fn": "copy", "grad": "bias"}, (output,))
    return Emit("reduction", (scores,), {"fn": "sum", "dims": dims, "keepdim": True,
                                         "grad": "bias"}, (output,))


# --- recurrent ----------------------------------------------------------------------------

MKLDNN_MODES = {0: "rnn_relu", 1: "rnn_tanh", 2: "lstm", 3: "gru"}


@aten("mkldnn_rnn_layer_backward")
def adapt_mkldnn_rnn_layer_backward(call: AtenCall) -> list[Emit]:
    """(input, w_ih, w_hh, b_ih, b_hh, hx, cx, output, hy, cy, grad_output, grad_hy,
    grad_cy, reverse, mode, hidden_size, num_layers, has_biases, train, bidirectional,
    batch_sizes, batch_first, workspace) → (dx, dW_ih, dW_hh, db_ih, db_hh, dhx, dcx)."""
    x, weight_ih, weight_hh = (call.info(call.args[i]) for i in range(3))
    mode = MKLDNN_MODES[int(call.arg(14, "mode"))]
    if mode != "lstm" or len(call.outputs) != 7:  # oneDNN runs only LSTM layers here
        return [Emit(UNKNOWN, call.tensors())]
    has_biases = bool(call.arg(17, "has_biases"))
    attrs = {"mode": mode, "input_size": int(weight_ih.shape[1]),
             "hidden_size": int(call.arg(15, "hidden_size")), "num_layers": 1,
             "bidirectional": False, "bias": has_biases, "proj_size": 0,
             "batch_first": bool(call.arg(21, "batch_first")),
             "reverse": bool(call.arg(13, "reverse"))}
    out = call.outputs
    parts: list[tuple[str, str, tuple[TensorInfo, ...], tuple[TensorInfo, ...]]] = [
        ("input", "input", (x, weight_ih), (out[0],)),
        ("state", "state", (x, weight_hh), (out[5], out[6])),
        ("weight_ih", "weight", (x,), (out[1],)),
        ("weight_hh", "weight", (x,), (out[2],)),
    ]
    if has_biases:
        parts.append(("bias", "bias", (x,), (out[3], out[4])))
    return [Emit("recurrent_backward", operands, tagged({**attrs, "part": part}, grad), outputs)
            for part, grad, operands, outputs in parts]


# --- embedding bag ------------------------------------------------------------------------

EMBEDDING_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


@aten("_embedding_bag_backward", "_embedding_bag_dense_backward")
def adapt_embedding_bag_backward(call: AtenCall) -> list[Emit]:
    """The gradient of every gathered row (its bag's output gradient, over the bag's size
    for a mean) added into a zero table of ``num_weights`` rows; max adds one row per bag."""
    grad, indices = call.args[0], call.args[1]
    mode = EMBEDDING_BAG_MODES.get(int(named_arg(call, "mode", 0)), "sum")
    g, table = call.info(grad), call.outputs[0]
    rows = grad.shape[0] if mode == "max" else indices.numel()
    gathered = call.virtual((rows, grad.shape[-1]), g)
    emits = []
    if mode == "mean":
        emits.append(Emit("elementwise", (gathered,), {"fn": "div", "grad": "weight"},
                          (call.virtual(gathered.shape, g),)))
    emits.append(Emit("scatter_add", (call.virtual(table.shape, table), call.info(indices),
                                      gathered), {"added": "source", "dim": 0,
                                                  "grad": "weight"}, (table,)))
    return emits


# --- optimizers ---------------------------------------------------------------------------

FOREACH_KINDS: dict[str, str] = {
    **{name: "elementwise" for name in (
        "add sub mul div addcdiv addcmul lerp sqrt rsqrt neg exp expm1 log log1p log2 log10 "
        "abs reciprocal sign maximum minimum clamp_min clamp_max pow round trunc frac floor "
        "ceil erf erfc sin cos tan asin acos atan sinh cosh").split()},
    **{name: "activation" for name in ("sigmoid", "tanh")},
    **{name: "reduction" for name in ("norm", "max")},
    **{name: "copy" for name in ("copy", "zero")},
}
"""Base op of each ``_foreach_<op>`` → the kind its per-tensor op has."""

assert all(name in ELEMENTWISE + ACTIVATIONS for name, kind in FOREACH_KINDS.items()
           if kind in ("elementwise", "activation"))


def foreach_adapter(kind: str, fn: str) -> Any:
    """One ``kind`` node per tensor: operands are the i-th tensor of every tensor list and
    any single tensor argument; in-place ops write the first list's tensors."""

    def adapt(call: AtenCall) -> list[Emit]:
        values = [*call.args, *call.kwargs.values()]
        lists = [v for v in values if isinstance(v, (list, tuple)) and v
                 and isinstance(v[0], torch.Tensor)]
        if not lists:
            return []
        single = tuple(call.info(v) for v in values if isinstance(v, torch.Tensor))
        in_place = str(call.func.overloadpacket).endswith("_")
        attrs: dict[str, Any] = {"fn": fn}
        if kind == "reduction":
            attrs.update(dims=None, keepdim=False)
        emits = []
        for i, first in enumerate(lists[0]):
            operands = tuple(call.info(tensors[i]) for tensors in lists) + single
            output = call.info(first) if in_place or i >= len(call.outputs) else call.outputs[i]
            emits.append(Emit(kind, operands, attrs, (output,)))
        return emits

    return adapt


for _fn, _kind in FOREACH_KINDS.items():
    register_adapter(f"aten._foreach_{_fn}", foreach_adapter(_kind, _fn))


def fused_optimizer_adapter(fn: str) -> Any:
    """_fused_adam(w)_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, ...)
    and _fused_sgd_(params, grads, momentum_buffers, ...): one node per parameter."""

    def adapt(call: AtenCall) -> list[Emit]:
        params, grads = call.args[0], call.args[1]
        if fn == "sgd":
            momentum = float(call.kwargs.get("momentum", 0.0)) != 0.0
            states = [call.args[2]] if momentum and len(call.args) > 2 and call.args[2] else []
            attrs: dict[str, Any] = {
                "fn": fn, "momentum": momentum, "nesterov": bool(call.kwargs.get("nesterov")),
                "first_step": bool(call.kwargs.get("is_first_step"))}
        else:
            amsgrad = bool(call.kwargs.get("amsgrad"))
            states = [call.args[2], call.args[3]] + ([call.args[4]] if amsgrad else [])
            attrs = {"fn": fn, "amsgrad": amsgrad}
        attrs["weight_decay"] = float(call.kwargs.get("weight_decay", 0.0)) != 0.0
        attrs["maximize"] = bool(call.kwargs.get("maximize"))
        return [Emit("optimizer_step", (call.info(param), call.info(grads[i]),
                                        *(call.info(state[i]) for state in states)),
                     attrs, (call.info(param),))
                for i, param in enumerate(params)]

    return adapt


register_adapter("aten._fused_adam", fused_optimizer_adapter("adam"))
register_adapter("aten._fused_adamw", fused_optimizer_adapter("adamw"))
register_adapter("aten._fused_sgd", fused_optimizer_adapter("sgd"))
