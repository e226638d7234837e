"""Gradient kernels of the backward pass and fused optimizer steps.

Most backward ops are counted by the rules of their forward twins: a convolution's input
gradient IS a transposed convolution of the output gradient with the same weight (and a
transposed convolution's is a convolution), a bias gradient is a sum over the output
gradient, a matrix product's gradients are matrix products. The kinds here are the ones
with no forward twin:

- ``conv_weight_grad``: operands ``(x, grad_output)`` → the weight's shape; attrs as the
  forward conv (``stride``, ``padding``, ``dilation``, ``groups``, ``transposed``) and
  ``kernel``. The correlation of x with the output gradient multiplies every pair the
  forward multiplied once: MACs = the forward's MACs.
- ``pool_backward``: operands ``(grad_output, x[, indices])`` → x's shape; attrs as the
  forward ``pool`` (``mode``, ``kernel``, ...) or, with ``adaptive``, its ``output_size``.
- ``upsample_backward``: operand ``(grad_output,)`` → ``input_size``; attrs ``mode``,
  ``output_size`` and ``input_size`` (the full input shape).
- ``attention_backward``: operands ``(q, k, v, grad_out[, mask])``; attrs ``part``
  (``"scores"``, ``"query"``, ``"key"``, ``"value"``: the gradient computed), ``recompute``
  (the kernel recomputes the scores from the saved log-sum-exp: flash, memory-efficient,
  cuDNN and the CPU flash kernel all do) and ``is_causal``.
- ``recurrent_backward``: operand ``(x,)`` of one layer and direction of a fused recurrent
  kernel (attrs as ``recurrent``, with ``num_layers = 1``) and ``part``: ``"input"``
  (dx), ``"state"`` (the recurrence through W_hh and the cell's backward), ``"weight_ih"``,
  ``"weight_hh"``, ``"bias"``.
- ``optimizer_step``: operands ``(param, grad, *state)`` of one parameter of a fused
  optimizer kernel; attrs ``fn`` (``"adam"``, ``"adamw"``, ``"sgd"``) and its flags.

Conventions: as the forward rules (MACs primary, FLOPs of products = 2 × MACs, elementwise
work apart); every gradient is counted densely (causal and masked scores included, as
FlopCounterMode does). The receptive-field transfer of a gradient is ``NO_FIELD``: its
output is not made of the model input's positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import complex_factor, no_params, traffic_bytes
from netanatomy.rules.pool import adaptive_pool_elementwise_flops, pool_elementwise_flops
from netanatomy.rules.recurrent import GATES, recurrent_steps_and_batch
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import NO_FIELD
from netanatomy.rules.upsample import TAPS_PER_AXIS, upsample_elementwise_flops
from netanatomy.symbolic import Dim, floordiv, prod

BACKWARD_KINDS = ("conv_weight_grad", "pool_backward", "upsample_backward",
                  "attention_backward", "recurrent_backward", "optimizer_step")


# --- conv_weight_grad ---------------------------------------------------------------------


@formula("conv_weight_grad", "output_shapes")
def conv_weight_grad_output_shapes(inputs: tuple[Shape, ...],
                                   attrs: Mapping[str, Any]) -> tuple[Shape]:
    """conv: (C_out, C_in/groups, *kernel); transposed: (C_in, C_out/groups, *kernel)."""
    x_shape, grad_shape = inputs[0], inputs[1]
    groups = attrs["groups"]
    if attrs.get("transposed", False):
        return ((x_shape[1], floordiv(grad_shape[1], groups), *attrs["kernel"]),)
    return ((grad_shape[1], floordiv(x_shape[1], groups), *attrs["kernel"]),)


@formula("conv_weight_grad", "macs")
def conv_weight_grad_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                          attrs: Mapping[str, Any]) -> Dim:
    """N · (positions the forward's MACs run over) · weight elements: the output gradient's
    spatial size for a conv, x's for a transposed conv (as their forward rules count),
    × 4 when complex."""
    x_shape, grad_shape = inputs[0], inputs[1]
    positions = prod(x_shape[2:]) if attrs.get("transposed", False) else prod(grad_shape[2:])
    return complex_factor(attrs) * x_shape[0] * positions * prod(outputs[0])


@formula("conv_weight_grad", "elementwise_flops")
def conv_weight_grad_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                       attrs: Mapping[str, Any]) -> Dim:
    """A correlation: multiply-accumulates only."""
    return 0


# --- pool_backward ------------------------------------------------------------------------


@formula(("pool_backward", "upsample_backward"), "macs")
def no_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> Dim:
    """Scattering gradients back multiplies by no weight matrix."""
    return 0


@formula("pool_backward", "output_shapes")
def pool_backward_output_shapes(inputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> tuple[Shape]:
    """The gradient of x has x's shape."""
    return (tuple(inputs[1]),)


@formula("pool_backward", "elementwise_flops")
def pool_backward_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                    attrs: Mapping[str, Any]) -> Dim:
    """max: 1 add per output-gradient element (into its saved argmax); avg: the forward's
    count (each window element gets the output gradient over the divisor added once)."""
    grad_shape, x_shape = inputs[0], inputs[1]
    if attrs["mode"] == "max":
        return prod(grad_shape)
    if attrs.get("adaptive", False):
        return adaptive_pool_elementwise_flops((x_shape,), (grad_shape,), attrs)
    return pool_elementwise_flops((x_shape,), (grad_shape,), attrs)


# --- upsample_backward --------------------------------------------------------------------


@formula("upsample_backward", "output_shapes")
def upsample_backward_output_shapes(inputs: tuple[Shape, ...],
                                    attrs: Mapping[str, Any]) -> tuple[Shape]:
    return (tuple(attrs["input_size"]),)


@formula("upsample_backward", "elementwise_flops")
def upsample_backward_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                        attrs: Mapping[str, Any]) -> Dim:
    """nearest: 1 add per output-gradient element (into its source); interpolating: the
    forward's count (each neighbour gets weight × gradient added: 2 per neighbour)."""
    grad_shape = inputs[0]
    if TAPS_PER_AXIS[attrs["mode"]] == 0:
        return prod(grad_shape)
    return upsample_elementwise_flops((tuple(attrs["input_size"]),), (grad_shape,), attrs)


# --- attention_backward -------------------------------------------------------------------

ATTENTION_PARTS = ("scores", "query", "key", "value")


def attention_scores(inputs: tuple[Shape, ...]) -> Dim:
    """batch·heads · L · S: one score per query position and key position."""
    query_shape, key_shape = inputs[0], inputs[1]
    return prod(query_shape[:-1]) * key_shape[-2]


@formula("attention_backward", "output_shapes")
def attention_backward_output_shapes(inputs: tuple[Shape, ...],
                                     attrs: Mapping[str, Any]) -> tuple[Shape]:
    """scores: dS (…, L, S); query, key, value: the shape of that operand."""
    part = attrs["part"]
    if part == "scores":
        return ((*inputs[0][:-1], inputs[1][-2]),)
    return (tuple(inputs[ATTENTION_PARTS.index(part) - 1]),)


@formula("attention_backward", "macs")
def attention_backward_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> Dim:
    """Per score: scores part: dP = dO·Vᵀ (E_v) + the recomputed Q·Kᵀ (E) when
    ``recompute``; query: dQ = dS·K (E); key: dK = dSᵀ·Q (E); value: dV = Pᵀ·dO (E_v).
    Total with recompute 3·E + 2·E_v per score, FlopCounterMode's sdpa backward count."""
    scores = attention_scores(inputs)
    head, head_v = inputs[0][-1], inputs[2][-1]
    per_score = {"scores": head_v + (head if attrs.get("recompute", True) else 0),
                 "query": head, "key": head, "value": head_v}[attrs["part"]]
    return complex_factor(attrs) * scores * per_score


@formula("attention_backward", "elementwise_flops")
def attention_backward_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                         attrs: Mapping[str, Any]) -> Dim:
    """scores part only: dS = scale · P ∘ (dP − D) (3 per score), D = rowsum(dO ∘ O)
    (2 per element of dO), and with ``recompute`` the forward's scale and softmax (2 per
    score, + 1 for a mask operand); the other parts are products only."""
    if attrs["part"] != "scores":
        return 0
    scores = attention_scores(inputs)
    per_score = 3
    if attrs.get("recompute", True):
        per_score += 2 + (1 if len(inputs) > 4 else 0)
    return scores * per_score + 2 * prod(inputs[3])


# --- recurrent_backward -------------------------------------------------------------------

LSTM_CELL_BACKWARD_FLOPS_PER_HIDDEN = 23
"""Elementwise FLOPs per hidden unit, sample and step of an LSTM cell's backward as
PyTorch's op-by-op path runs it (autograd of ``i, f, g, o`` gates, ``c' = f·c + i·g``,
``h' = o·tanh(c')``): 16 multiplies, 5 ``1 − y`` (the sigmoid and tanh derivatives) and 2
adds (dh and dc gathered from the output and the next step); measured in
tests/rules/test_backward.py as the growth of that path's count per added step."""


@formula("recurrent_backward", "output_shapes")
def recurrent_backward_output_shapes(inputs: tuple[Shape, ...],
                                     attrs: Mapping[str, Any]) -> tuple[Shape, ...]:
    """input: x's shape; state: (batch, H) twice (dh₀, dc₀); weight_ih: (G·H, I);
    weight_hh: (G·H, H); bias: (G·H,) twice (b_ih and b_hh get the same gradient)."""
    gates_h = GATES[attrs["mode"]] * attrs["hidden_size"]
    _, batch = recurrent_steps_and_batch(inputs[0], attrs.get("batch_first", False))
    hidden = attrs["hidden_size"]
    return {"input": (tuple(inputs[0]),),
            "state": ((batch, hidden), (batch, hidden)),
            "weight_ih": ((gates_h, attrs["input_size"]),),
            "weight_hh": ((gates_h, hidden),),
            "bias": ((gates_h,), (gates_h,))}[attrs["part"]]


@formula("recurrent_backward", "macs")
def recurrent_backward_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                            attrs: Mapping[str, Any]) -> Dim:
    """T·N·G·H·(I for input and weight_ih, H for state and weight_hh); bias none. The four
    products together are twice the forward's G·H·(I + H) per step and sample."""
    steps, batch = recurrent_steps_and_batch(inputs[0], attrs.get("batch_first", False))
    gates_h = GATES[attrs["mode"]] * attrs["hidden_size"]
    width = {"input": attrs["input_size"], "weight_ih": attrs["input_size"],
             "state": attrs["hidden_size"], "weight_hh": attrs["hidden_size"],
             "bias": 0}[attrs["part"]]
    return steps * batch * gates_h * width


@formula("recurrent_backward", "elementwise_flops")
def recurrent_backward_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                         attrs: Mapping[str, Any]) -> Dim:
    """state: T·N·H·(cell backward FLOPs per hidden unit, LSTM only); bias: T·N·G·H adds
    (the sum of the gate gradients over steps and samples); the products none."""
    steps, batch = recurrent_steps_and_batch(inputs[0], attrs.get("batch_first", False))
    hidden = attrs["hidden_size"]
    if attrs["part"] == "state":
        return steps * batch * hidden * LSTM_CELL_BACKWARD_FLOPS_PER_HIDDEN
    if attrs["part"] == "bias":
        return steps * batch * GATES[attrs["mode"]] * hidden
    return 0


# --- optimizer_step -----------------------------------------------------------------------


def optimizer_flops_per_element(attrs: Mapping[str, Any]) -> int:
    """Elementwise ops per parameter element of one step, as the single-tensor
    implementations of torch.optim run them (``_single_tensor_adam`` / ``_sgd``):

    - adam: exp_avg.lerp_ 1, exp_avg_sq.mul_.addcmul_ 2, sqrt / bias correction / + eps 3,
      param.addcdiv_ 1 = 7; + 1 for weight decay (grad + wd·param), + 1 for amsgrad
      (maximum), + 1 for maximize (−grad);
    - adamw: adam without the decayed gradient, + 1 for the decoupled decay param·(1 − lr·wd);
    - sgd: param.add_ 1; + 1 weight decay, + 2 momentum (buf·m + (1 − d)·grad) after the
      first step (the first copies the gradient), + 1 nesterov, + 1 maximize.
    """
    decay = 1 if attrs.get("weight_decay", False) else 0
    maximize = 1 if attrs.get("maximize", False) else 0
    fn = attrs["fn"]
    if fn in ("adam", "adamw"):
        return 7 + decay + maximize + (1 if attrs.get("amsgrad", False) else 0)
    momentum = attrs.get("momentum", False)
    steady = momentum and not attrs.get("first_step", False)
    nesterov = momentum and attrs.get("nesterov", False)
    return 1 + decay + maximize + (2 if steady else 0) + (1 if nesterov else 0)


@formula("optimizer_step", "output_shapes")
def optimizer_step_output_shapes(inputs: tuple[Shape, ...],
                                 attrs: Mapping[str, Any]) -> tuple[Shape]:
    """The parameter, updated in place."""
    return (tuple(inputs[0]),)


@formula("optimizer_step", "macs")
def optimizer_step_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                        attrs: Mapping[str, Any]) -> Dim:
    """Optimizer arithmetic is elementwise."""
    return 0


@formula("optimizer_step", "elementwise_flops")
def optimizer_step_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                     attrs: Mapping[str, Any]) -> Dim:
    """Parameter elements × the ops per element of :func:`optimizer_flops_per_element`."""
    return prod(inputs[0]) * optimizer_flops_per_element(attrs)


@formula("optimizer_step", "bytes")
def optimizer_step_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                         attrs: Mapping[str, Any], itemsizes: tuple[tuple[int, ...],
                                                                    tuple[int, ...]]) -> Dim:
    """Every operand read once; the parameter and each state tensor (operands 2 onwards)
    written back in place, the gradient not."""
    sizes = itemsizes[0]
    read = sum((prod(shape) * size for shape, size in zip(inputs, sizes)), 0)
    written = sum((prod(inputs[i]) * sizes[i] for i in range(len(inputs)) if i != 1), 0)
    return read + written


# --- shared -------------------------------------------------------------------------------

formula(BACKWARD_KINDS, "params")(no_params)
formula(("conv_weight_grad", "pool_backward", "upsample_backward", "attention_backward",
         "recurrent_backward"), "bytes")(traffic_bytes)


@formula(BACKWARD_KINDS, "rf")
def gradient_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> str:
    """A gradient or an update is not made of the model input's positions."""
    return NO_FIELD


convention("conv_weight_grad", "MACs = N·(output positions of the forward conv, or input "
                               "positions of a transposed one)·(weight elements) = the "
                               "forward's MACs, × 4 when complex; no elementwise FLOPs")
convention("pool_backward", "max: 1 elementwise FLOP per output-gradient element (added at "
                            "its argmax); avg: the forward's 1 per window element; no MACs")
convention("upsample_backward", "nearest: 1 elementwise FLOP per output-gradient element; "
                                "interpolation: the forward's 2 per neighbour per output "
                                "element; no MACs")
convention("attention_backward", "MACs per score: dQ and dK E each, dV and dP E_v each, + E "
                                 "for the recomputed Q·Kᵀ (3·E + 2·E_v in all, dense); dS "
                                 "3 elementwise FLOPs per score, D = rowsum(dO∘O) 2 per dO "
                                 "element, + the recomputed scale and softmax 2 per score "
                                 "(+ 1 with a mask)")
convention("recurrent_backward", "MACs = T·N·G·H·(I or H) per product (dx, dh, dW_ih, dW_hh: "
                                 "2 × the forward's); LSTM cell backward 23 elementwise "
                                 "FLOPs per hidden unit and step; bias gradient T·N·G·H adds")
convention("optimizer_step", "elementwise FLOPs = parameter elements × the ops per element "
                             "of torch.optim's single-tensor step (Adam 7, AdamW 8, SGD 1, "
                             "+ 2 for momentum, + 1 per option); bytes = operands read, "
                             "parameter and state written")
dim_names("conv_weight_grad", ("N C_in *", "N C_out *'"), ("C_out C_g *k",))
dim_names("attention_backward", ("B H L E", "B H S E", "B H S E_v", "B H L E_v", "... L S"))
