"""Quantized kernels (``torch.ao.nn.quantized``, dynamic and static) → the float kinds.

A quantized module calls one op of the ``quantized`` namespace (``quantized::linear_dynamic``,
``quantized::conv2d.new``, ...) whose weights come packed in a TorchScript object
(``LinearPackedParamsBase``, ``Conv2dPackedParamsBase``); dynamic RNNs call
``aten::quantized_lstm`` / ``quantized_gru`` with one ``CellParamsBase`` per layer and
direction. The adapters read the weight shape (and a conv's stride, padding, dilation and
groups) back from the packed object and emit the node of the float layer — ``linear``,
``conv``, ``conv_transpose``, ``recurrent``, ``embedding`` — so a quantized layer costs the
MACs of its float layer; the weight operand has its stored dtype (``qint8``: 1 byte per
element), so bytes are the int8 bytes. A fused kernel (``linear_relu``, ``conv2d_add_relu``)
emits the float layer's nodes one after the other. Quantizing, requantizing and
dequantizing count one elementwise FLOP per element; the scaling inside the int8 kernels is
not counted. Packed weights live on the CPU: quantized models are captured there.
"""

from __future__ import annotations

from typing import Any

import torch

from netanatomy.frontends.torch.aten.norm import norm_adapter
from netanatomy.frontends.torch.aten.registry import (
    AtenCall,
    Emit,
    Emitted,
    aten,
    per_axis,
    register_adapter,
)
from netanatomy.frontends.torch.params import dtype_name
from netanatomy.ir.graph import Shape, TensorInfo
from netanatomy.ir.kinds import UNKNOWN


def stored_like(dtype: torch.dtype) -> TensorInfo:
    """A template for :meth:`AtenCall.virtual`: a tensor of ``dtype``."""
    return TensorInfo(id=0, shape=(), dtype=dtype_name(dtype),
                      itemsize=torch.empty((), dtype=dtype, device="meta").element_size())


def unpacked(packed: Any) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(weight, bias) of a packed-weights object, or None when it cannot be unpacked."""
    try:
        weight, bias = packed.unpack()
    except (RuntimeError, AttributeError, TypeError, ValueError):
        return None
    return weight, bias


def weight_operands(call: AtenCall, found: tuple[torch.Tensor, torch.Tensor | None],
                    shape: Shape | None = None,
                    dtype: torch.dtype | None = None) -> tuple[TensorInfo, ...]:
    """The unpacked weight (as ``shape`` and ``dtype`` when given) and bias as tensors of
    their stored dtypes."""
    weight, bias = found
    operands = [call.virtual(tuple(weight.shape) if shape is None else shape,
                             stored_like(dtype or weight.dtype))]
    if bias is not None:
        operands.append(call.virtual(tuple(bias.shape), stored_like(bias.dtype)))
    return tuple(operands)


def uncounted(call: AtenCall) -> Emit:
    """A quantized op whose packed weights cannot be read: uncounted, by name."""
    return Emit(UNKNOWN, call.tensors())


Fused = tuple[str, tuple[TensorInfo, ...], dict[str, Any]]
"""A node a fused kernel applies to the previous result: (kind, extra operands, attrs)."""


def then(call: AtenCall, first: Emit, *rest: Fused) -> list[Emit]:
    """A fused kernel: ``first``, then each ``(kind, extra operands, attrs)`` applied to the
    previous result; intermediate results are virtual tensors like the op's output."""
    output = call.outputs[0]
    emits = [first]
    for kind, extra, attrs in rest:
        between = call.virtual(output.shape, output)
        last = emits[-1]
        emits[-1] = Emit(last.kind, last.inputs, last.attrs, (between,))
        emits.append(Emit(kind, (between, *extra), attrs))
    return emits


RELU: Fused = ("activation", (), {"fn": "relu"})


@aten("quantized.linear", "quantized.linear_dynamic", "quantized.linear_dynamic_fp16",
      "quantized.linear_relu", "quantized.linear_relu_dynamic",
      "quantized.linear_relu_dynamic_fp16")
def adapt_quantized_linear(call: AtenCall) -> Emitted:
    """(x, packed W, ...): ``linear`` over (x, W, b), then a ReLU for the ``_relu`` ops; the
    fp16 ops keep their weight in float16."""
    name = str(call.func.overloadpacket)
    fp16 = name.endswith("_fp16")
    found = unpacked(call.args[1])
    if found is None:
        return uncounted(call)
    weights = weight_operands(call, found, dtype=torch.float16 if fp16 else None)
    node = Emit("linear", (call.info(call.args[0]), *weights))
    return then(call, node, RELU) if "_relu" in name else node


CONVS = ("conv1d", "conv2d", "conv3d", "conv1d_relu", "conv2d_relu", "conv3d_relu",
         "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


@aten(*(f"quantized.{name}" for name in CONVS + ("conv2d_add", "conv2d_add_relu")))
def adapt_quantized_conv(call: AtenCall) -> Emitted:
    """(x, [accumulator,] packed W, ...): ``conv`` / ``conv_transpose`` with the packed
    stride, padding, dilation and groups, then the fused add and ReLU. A 1-D conv is packed
    as a 2-D one with a kernel of height 1; that axis is dropped."""
    name = str(call.func.overloadpacket)
    adds = "_add" in name
    x, packed = call.args[0], call.args[2 if adds else 1]
    rank = x.dim() - 2
    found = unpacked(packed)
    if found is None:
        return uncounted(call)
    weight_shape = tuple(found[0].shape)
    weights = weight_operands(call, found, (*weight_shape[:2], *weight_shape[-rank:]))
    transposed = bool(packed.transpose())
    padding = per_axis(list(packed.padding())[-rank:], rank, 0)
    attrs: dict[str, Any] = {
        "stride": per_axis(list(packed.stride())[-rank:], rank, 1),
        "padding": tuple((p, p) for p in padding),
        "dilation": per_axis(list(packed.dilation())[-rank:], rank, 1),
        "groups": int(packed.groups()),
    }
    if transposed:
        attrs["output_padding"] = per_axis(list(packed.output_padding())[-rank:], rank, 0)
    node = Emit("conv_transpose" if transposed else "conv", (call.info(x), *weights), attrs)
    fused: list[Fused] = []
    if adds:
        fused.append(("elementwise", (call.info(call.args[1]),), {"fn": "add"}))
    if "_relu" in name:
        fused.append(RELU)
    return then(call, node, *fused) if fused else node


@aten("aten.quantized_lstm.input", "aten.quantized_lstm.data", "aten.quantized_gru.input",
      "aten.quantized_gru.data")
def adapt_quantized_rnn(call: AtenCall) -> Emit:
    """``recurrent`` over (x, weights): ``.input`` is (x, hx, params, has_biases,
    num_layers, dropout, train, bidirectional, batch_first); ``.data`` (a packed sequence)
    is (data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
    bidirectional), whose rows are all time steps of all sequences. The weights are
    ``dtype`` (qint8, or float16), one (G·H, in) and one (G·H, H) per layer and direction."""
    packet, overload = str(call.func.overloadpacket), call.func._overloadname
    mode = "lstm" if packet.endswith("lstm") else "gru"
    shift = 1 if overload == "data" else 0
    x, hx = call.args[0], call.args[1 + shift]
    state = hx[-1] if isinstance(hx, (list, tuple)) else hx     # LSTM: (h0, c0)
    num_layers, bidirectional = int(call.args[4 + shift]), bool(call.args[7 + shift])
    input_size, hidden = int(x.shape[-1]), int(state.shape[-1])
    attrs = {"mode": mode, "input_size": input_size, "hidden_size": hidden,
             "num_layers": num_layers, "bidirectional": bidirectional,
             "bias": bool(call.args[3 + shift]), "proj_size": 0,
             "batch_first": bool(call.args[8]) if overload == "input" else False}
    like = stored_like(call.kwargs.get("dtype") or torch.qint8)
    gates, directions = (4 if mode == "lstm" else 3) * hidden, 2 if bidirectional else 1
    weights = []
    for layer in range(num_layers):
        layer_in = input_size if layer == 0 else directions * hidden
        for _ in range(directions):
            weights += [call.virtual((gates, layer_in), like), call.virtual((gates, hidden), like)]
    return Emit("recurrent", (call.info(x), *weights), attrs)


@aten("quantized.embedding_byte")
def adapt_quantized_embedding(call: AtenCall) -> Emit:
    """(packed table, indices, pruned_weights): ``embedding`` over (table, indices)."""
    try:
        table = call.args[0].unpack()
    except (RuntimeError, AttributeError):
        return uncounted(call)
    return Emit("embedding", (call.virtual(tuple(table.shape), stored_like(table.dtype)),
                              call.info(call.args[1])))


def first_operand(kind: str, fn: str, **attrs: Any) -> Any:
    """An adapter of ``kind`` over the first argument only (the rest are qparams)."""

    def adapt(call: AtenCall) -> Emit:
        return Emit(kind, (call.info(call.args[0]),), {**attrs, "fn": fn})

    return adapt


def binary(fn: str, relu: bool) -> Any:
    """quantized add / mul (two tensors, or a tensor and a scalar), then a fused ReLU."""

    def adapt(call: AtenCall) -> Emitted:
        node = Emit("elementwise", call.tensors(call.args[:2]), {"fn": fn})
        return then(call, node, RELU) if relu else node

    return adapt


for _fn in ("add", "mul"):
    for _suffix in ("", "_scalar"):
        register_adapter(f"quantized.{_fn}{_suffix}", binary(_fn, relu=False))
        register_adapter(f"quantized.{_fn}{_suffix}_relu", binary(_fn, relu=True))

for _name in ("hardswish", "sigmoid", "leaky_relu", "relu6", "elu", "celu", "threshold",
              "clamp"):
    register_adapter(f"quantized.{_name}", first_operand("activation", _name))

for _name in ("quantize_per_tensor", "quantize_per_channel", "quantize_per_tensor_dynamic"):
    register_adapter(f"aten.{_name}", first_operand("elementwise", "quantize"))
register_adapter("aten.dequantize.self", first_operand("elementwise", "dequantize"))

for _name, (_type, _affine, _stats) in {
    "quantized.batch_norm": ("batch", (1, 2), False),
    "quantized.batch_norm1d": ("batch", (1, 2), False),
    "quantized.batch_norm2d": ("batch", (1, 2), False),
    "quantized.batch_norm3d": ("batch", (1, 2), False),
    "quantized.layer_norm": ("layer", (2, 3), True),
    "quantized.group_norm": ("group", (2, 3), True),
    "quantized.instance_norm": ("instance", (1, 2), True),
}.items():
    register_adapter(_name, norm_adapter(_type, _affine, _stats))


@aten("quantized.cat", "quantized.cat_relu")
def adapt_quantized_cat(call: AtenCall) -> Emitted:
    node = Emit("concat", call.tensors(call.args[0]), {"dim": int(call.arg(1, "dim", 0))})
    return then(call, node, RELU) if str(call.func.overloadpacket).endswith("_relu") else node


@aten("quantized.softmax")
def adapt_quantized_softmax(call: AtenCall) -> Emit:
    return Emit("softmax", (call.info(call.args[0]),), {"dim": int(call.arg(1, "dim", -1))})


@aten("quantized.matmul")
def adapt_quantized_matmul(call: AtenCall) -> Emit:
    return Emit("matmul", call.tensors(call.args[:2]))
