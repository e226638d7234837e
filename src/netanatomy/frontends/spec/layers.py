"""Spec layer types: their options, and the IR nodes and parameters each one produces.

Every handler takes the current tensor and returns the layer's output tensor, using the
same op rules (output shapes, costs) as the torch front-end. Tensors carry a batch axis of
1: ``(1, C, *spatial)`` for images, ``(1, F)`` flat, ``(1, L)`` token ids,
``(1, T, F)`` sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from netanatomy.frontends.spec import limits
from netanatomy.frontends.spec.context import REQUIRED, GraphContext, Where
from netanatomy.frontends.spec.values import proven_at_least
from netanatomy.ir.graph import TensorInfo
from netanatomy.symbolic import ceildiv, floordiv, is_concrete, maximum, prod

Handler = Callable[[GraphContext, TensorInfo, dict[str, Any], Where], TensorInfo]


@dataclass(frozen=True)
class LayerType:
    """A spec layer type: its options (``REQUIRED`` or a default) and its handler."""

    name: str
    options: Mapping[str, Any]
    handler: Handler
    summary: str


LAYER_TYPES: dict[str, LayerType] = {}


def layer(name: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
    """Register a layer type (the ``name`` option is accepted by every type)."""

    def register(handler: Handler) -> Handler:
        LAYER_TYPES[name] = LayerType(name, {**options, "name": None}, handler, summary)
        return handler

    return register


def spatial_rank(ctx: GraphContext, x: TensorInfo, where: Where, what: str) -> int:
    """Number of spatial axes of an image tensor, or a clear error."""
    rank = len(x.shape) - 2
    if rank < 1 or x.dtype.startswith("int"):
        raise ctx.error(f"{what} needs an input of shape (C, *spatial), found "
                        f"{tuple(x.shape[1:])}", where,
                        hint="convs and pools work on images; put them before 'flatten'")
    return rank


def same_padding(size: Any, kernel: Any, stride: Any, dilation: Any) -> tuple[Any, Any]:
    """TF/PyTorch 'same': total = max((⌈H/s⌉ − 1)·s + d·(k − 1) + 1 − H, 0), extra after."""
    if is_concrete(stride) and stride == 1:
        total = dilation * (kernel - 1)
    else:
        total = maximum((ceildiv(size, stride) - 1) * stride + dilation * (kernel - 1) + 1
                        - size, 0)
    before = floordiv(total, 2)
    return before, total - before


def padding_pairs(ctx: GraphContext, x: TensorInfo, options: dict[str, Any], where: Where,
                  kernel: tuple[Any, ...], stride: tuple[Any, ...],
                  dilation: tuple[Any, ...]) -> tuple[tuple[Any, Any], ...]:
    rank = len(kernel)
    raw = options["p"]
    if raw == "valid":
        return ((0, 0),) * rank
    if raw == "same":
        return tuple(same_padding(size, k, s, d)
                     for size, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    return tuple((p, p) for p in ctx.numbers(options, "p", rank, where, allow_zero=True))


def check_divides(ctx: GraphContext, where: Where, total: Any, groups: Any, what: str) -> None:
    if is_concrete(total) and is_concrete(groups) and total % groups:
        raise ctx.error(f"{what} ({total}) is not divisible by groups ({groups})", where,
                        "groups", hint="groups must divide both input and output channels")


def conv_type_name(rank: int, padding: tuple[tuple[Any, Any], ...],
                   stride: tuple[Any, ...]) -> str:
    """``ConvNd``, or ``SameConvNd`` for asymmetric 'same' padding with a stride (PyTorch's
    own padding='same' needs stride 1; SameConvNd pads explicitly, as TensorFlow does)."""
    asymmetric = any(not same_value(before, after) for before, after in padding)
    strided = any(not (is_concrete(s) and s == 1) for s in stride)
    return f"SameConv{rank}d" if asymmetric and strided else f"Conv{rank}d"


def same_value(first: Any, second: Any) -> bool:
    if is_concrete(first) and is_concrete(second):
        return bool(first == second)
    import sympy

    return bool(sympy.simplify(sympy.sympify(first) - second) == 0)


def conv_node(ctx: GraphContext, x: TensorInfo, where: Where, path: str, out: Any,
              kernel: tuple[Any, ...], stride: tuple[Any, ...], dilation: tuple[Any, ...],
              padding: tuple[tuple[Any, Any], ...], groups: Any, bias: bool) -> TensorInfo:
    channels = x.shape[1]
    check_divides(ctx, where, channels, groups, "input channels")
    check_divides(ctx, where, out, groups, "output channels")
    weight = ctx.param(path, "weight", (out, floordiv(channels, groups), *kernel))
    operands = [x, weight] + ([ctx.param(path, "bias", (out,))] if bias else [])
    attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    ctx.record(path, "conv", in_channels=channels, out_channels=out, kernel=kernel,
               stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    return ctx.op("conv", "conv", tuple(operands), attrs, where, path=path)


def conv_geometry(ctx: GraphContext, x: TensorInfo, options: dict[str, Any], where: Where,
                  rank: int) -> tuple[Any, ...]:
    kernel = ctx.numbers(options, "k", rank, where)
    stride = ctx.numbers(options, "s", rank, where)
    dilation = ctx.numbers(options, "d", rank, where)
    return kernel, stride, dilation, padding_pairs(ctx, x, options, where, kernel, stride,
                                                    dilation)


def simple_module(ctx: GraphContext, where: Where, type_name: str, output: TensorInfo
                  ) -> TensorInfo:
    ctx.module(where.path, type_name)
    ctx.finish(where.path, output)
    return output


@layer("conv", "convolution", out=REQUIRED, k=REQUIRED, s=1, p=0, d=1, groups=1, bias=True)
def conv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "conv")
    kernel, stride, dilation, padding = conv_geometry(ctx, x, o, where, rank)
    ctx.module(where.path, conv_type_name(rank, padding, stride))
    out = conv_node(ctx, x, where, where.path, ctx.number(o, "out", where), kernel, stride,
                    dilation, padding, ctx.number(o, "groups", where), bool(o["bias"]))
    ctx.finish(where.path, out)
    return out


@layer("dwconv", "depthwise convolution (groups = channels)", k=REQUIRED, s=1, p=0, d=1,
       multiplier=1, bias=True)
def dwconv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "dwconv")
    kernel, stride, dilation, padding = conv_geometry(ctx, x, o, where, rank)
    ctx.module(where.path, conv_type_name(rank, padding, stride))
    channels = x.shape[1]
    out = conv_node(ctx, x, where, where.path, channels * ctx.number(o, "multiplier", where),
                    kernel, stride, dilation, padding, channels, bool(o["bias"]))
    ctx.finish(where.path, out)
    return out


@layer("sepconv", "depthwise k×k then pointwise 1×1", out=REQUIRED, k=REQUIRED, s=1, p=0, d=1,
       bias=True)
def sepconv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "sepconv")
    ctx.module(where.path, f"SeparableConv{rank}d")
    kernel, stride, dilation, padding = conv_geometry(ctx, x, o, where, rank)
    channels = x.shape[1]
    dw_path, pw_path = f"{where.path}.dw", f"{where.path}.pw"
    ctx.module(dw_path, conv_type_name(rank, padding, stride))
    depthwise = conv_node(ctx, x, where, dw_path, channels, kernel, stride, dilation, padding,
                          channels, False)
    ctx.finish(dw_path, depthwise)
    ctx.module(pw_path, f"Conv{rank}d")
    ones = (1,) * rank
    out = conv_node(ctx, depthwise, where, pw_path, ctx.number(o, "out", where), ones, ones,
                    ones, ((0, 0),) * rank, 1, bool(o["bias"]))
    ctx.finish(pw_path, out)
    ctx.finish(where.path, out)
    ctx.record(where.path, "sepconv", rank=rank)
    return out


@layer("deconv", "transposed convolution", out=REQUIRED, k=REQUIRED, s=1, p=0, d=1,
       output_padding=0, groups=1, bias=True)
def deconv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "deconv")
    ctx.module(where.path, f"ConvTranspose{rank}d")
    kernel = ctx.numbers(o, "k", rank, where)
    stride = ctx.numbers(o, "s", rank, where)
    dilation = ctx.numbers(o, "d", rank, where)
    padding = tuple((p, p) for p in ctx.numbers(o, "p", rank, where, allow_zero=True))
    extra = ctx.numbers(o, "output_padding", rank, where, allow_zero=True)
    check_output_padding(ctx, where, extra, stride, dilation)
    groups, out, channels = ctx.number(o, "groups", where), ctx.number(o, "out", where), x.shape[1]
    check_divides(ctx, where, channels, groups, "input channels")
    check_divides(ctx, where, out, groups, "output channels")
    weight = ctx.param(where.path, "weight", (channels, floordiv(out, groups), *kernel))
    operands = [x, weight] + ([ctx.param(where.path, "bias", (out,))] if o["bias"] else [])
    attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
             "output_padding": extra}
    ctx.record(where.path, "deconv", in_channels=channels, out_channels=out, kernel=kernel,
               stride=stride, padding=tuple(p for p, _ in padding), dilation=dilation,
               groups=groups, output_padding=extra, bias=bool(o["bias"]))
    result = ctx.op("conv_transpose", "deconv", tuple(operands), attrs, where)
    ctx.finish(where.path, result)
    return result


def check_output_padding(ctx: GraphContext, where: Where, extra: tuple[Any, ...],
                         stride: tuple[Any, ...], dilation: tuple[Any, ...]) -> None:
    """PyTorch's ConvTranspose needs output_padding < stride or < dilation, per axis."""
    for padding, step, spread in zip(extra, stride, dilation):
        if proven_at_least(padding, step) and proven_at_least(padding, spread):
            raise ctx.error(f"'output_padding' {padding} must be smaller than the stride "
                            f"({step}) or the dilation ({spread})", where, "output_padding",
                            hint="output_padding only resolves the output size a stride "
                                 "leaves ambiguous: use 0 … stride − 1")


@layer("maskedconv", "PixelCNN masked convolution (type A excludes the centre pixel)",
       type=REQUIRED, out=REQUIRED, k=REQUIRED, p="same", bias=True)
def maskedconv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
               ) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "maskedconv")
    if rank != 2:
        raise ctx.error("maskedconv needs a 2-D image input", where)
    if o["type"] not in ("A", "B"):
        raise ctx.error(f"maskedconv type must be 'A' or 'B', found {o['type']!r}", where, "type",
                        hint="A for the first layer (excludes the centre), B after it")
    ctx.module(where.path, "MaskedConv2d")
    kernel = ctx.numbers(o, "k", rank, where)
    ones = (1,) * rank
    padding = padding_pairs(ctx, x, o, where, kernel, ones, ones)
    out, channels = ctx.number(o, "out", where), x.shape[1]
    weight = ctx.param(where.path, "weight", (out, channels, *kernel))
    mask = ctx.param(where.path, "mask", (out, channels, *kernel), buffer=True)
    masked = ctx.op("elementwise", "mask", (weight, mask), {"fn": "mul"}, where)
    operands = [x, masked] + ([ctx.param(where.path, "bias", (out,))] if o["bias"] else [])
    attrs = {"stride": ones, "padding": padding, "dilation": ones, "groups": 1,
             "mask_type": o["type"]}
    ctx.record(where.path, "maskedconv", in_channels=channels, out_channels=out, kernel=kernel,
               mask_type=o["type"], padding=padding, bias=bool(o["bias"]))
    result = ctx.op("conv", "maskedconv", tuple(operands), attrs, where)
    ctx.finish(where.path, result)
    return result


@layer("deformconv", "deformable convolution v1 (offsets predicted by a conv, bilinear "
       "sampling)", out=REQUIRED, k=REQUIRED, s=1, p=0, d=1, bias=True)
def deformconv(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
               ) -> TensorInfo:
    """Offset conv (2·k_h·k_w channels, same geometry) → bilinear sampling of the k_h·k_w
    displaced taps of every output position → a conv with stride k over the sampled
    columns. MACs = offset conv + C_out·H'·W'·C_in·k_h·k_w; the field is global, since the
    sampling positions come from the data."""
    rank = spatial_rank(ctx, x, where, "deformconv")
    if rank != 2:
        raise ctx.error("deformconv needs a 2-D image input", where)
    ctx.module(where.path, "DeformConv2d")
    kernel = ctx.numbers(o, "k", rank, where)
    stride = ctx.numbers(o, "s", rank, where)
    dilation = ctx.numbers(o, "d", rank, where)
    padding = tuple((p, p) for p in ctx.numbers(o, "p", rank, where, allow_zero=True))
    offset_path = f"{where.path}.offset"
    ctx.module(offset_path, "Conv2d")
    offsets = conv_node(ctx, x, where, offset_path, 2 * prod(kernel), kernel, stride, dilation,
                        padding, 1, True)
    ctx.finish(offset_path, offsets)
    positions = offsets.shape[2:]
    grid = ctx.tensor((x.shape[0], positions[0] * kernel[0], positions[1] * kernel[1], 2))
    columns = ctx.op("sample", "deform_sample", (x, grid), {"mode": "bilinear"}, where)
    out, channels = ctx.number(o, "out", where), x.shape[1]
    weight = ctx.param(where.path, "weight", (out, channels, *kernel))
    operands = [columns, weight] + ([ctx.param(where.path, "bias", (out,))] if o["bias"] else [])
    attrs = {"stride": kernel, "padding": ((0, 0),) * rank, "dilation": (1,) * rank,
             "groups": 1}
    result = ctx.op("conv", "deformconv", tuple(operands), attrs, where)
    ctx.record(where.path, "deformconv", in_channels=channels, out_channels=out,
               kernel=kernel, stride=stride, padding=tuple(p for p, _ in padding),
               dilation=dilation, bias=bool(o["bias"]))
    ctx.finish(where.path, result)
    return result


def pool(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where, mode: str
         ) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, f"{mode}pool")
    kernel = ctx.numbers(o, "k", rank, where)
    stride = kernel if o["s"] is None else ctx.numbers(o, "s", rank, where)
    padding = tuple((p, p) for p in ctx.numbers(o, "p", rank, where, allow_zero=True))
    for k, (p, _) in zip(kernel, padding):
        if is_concrete(k) and is_concrete(p) and 2 * p > k:
            raise ctx.error(f"padding {p} exceeds half the kernel {k}", where, "p",
                            hint="PyTorch requires padding ≤ kernel/2 for pooling")
    attrs = {"mode": mode, "kernel": kernel, "stride": stride, "padding": padding,
             "dilation": (1,) * rank, "ceil_mode": bool(o["ceil"])}
    name = "MaxPool" if mode == "max" else "AvgPool"
    ctx.record(where.path, "pool", mode=mode, rank=rank, kernel=kernel, stride=stride,
               padding=tuple(p for p, _ in padding), ceil_mode=bool(o["ceil"]))
    return simple_module(ctx, where, f"{name}{rank}d",
                         ctx.op("pool", f"{mode}pool", (x,), attrs, where))


@layer("maxpool", "max pooling", k=REQUIRED, s=None, p=0, ceil=False)
def maxpool(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    return pool(ctx, x, o, where, "max")


@layer("avgpool", "average pooling", k=REQUIRED, s=None, p=0, ceil=False)
def avgpool(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    return pool(ctx, x, o, where, "avg")


@layer("globalavgpool", "global average pooling to 1×1")
def globalavgpool(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                  ) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "globalavgpool")
    attrs = {"mode": "avg", "output_size": (1,) * rank}
    ctx.record(where.path, "globalavgpool", rank=rank)
    return simple_module(ctx, where, f"AdaptiveAvgPool{rank}d",
                         ctx.op("adaptive_pool", "globalavgpool", (x,), attrs, where))


@layer("adaptiveavgpool", "adaptive average pooling to a fixed output size", size=REQUIRED)
def adaptiveavgpool(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                    ) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "adaptiveavgpool")
    sizes = ctx.numbers(o, "size", rank, where)
    attrs = {"mode": "avg", "output_size": sizes}
    ctx.record(where.path, "adaptiveavgpool", rank=rank, size=sizes)
    return simple_module(ctx, where, f"AdaptiveAvgPool{rank}d",
                         ctx.op("adaptive_pool", "adaptiveavgpool", (x,), attrs, where))


@layer("crop", "centre crop to 'size', or drop 'amount' at both ends, per spatial axis "
       "(UNet skips)", amount=None, size=None)
def crop(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "crop")
    if (o["amount"] is None) == (o["size"] is None):
        raise ctx.error("crop takes exactly one of 'amount' or 'size'", where,
                        hint="size: 392 crops the centre to 392; amount: 88 drops 88 per end")
    if o["size"] is not None:
        sizes = ctx.numbers(o, "size", rank, where)
        befores = tuple(floordiv(full - size, 2) for full, size in zip(x.shape[2:], sizes))
    else:
        befores = ctx.numbers(o, "amount", rank, where, allow_zero=True)
        sizes = tuple(full - 2 * amount for full, amount in zip(x.shape[2:], befores))
    out = x
    for axis, (before, size) in enumerate(zip(befores, sizes)):
        dim = 2 + axis
        if is_concrete(size) and (size <= 0 or size > x.shape[dim]
                                  or (is_concrete(before) and before < 0)):
            raise ctx.error(f"cannot crop axis of size {x.shape[dim]} to {size}", where,
                            hint="the crop must leave between 1 and all positions")
        shape = list(out.shape)
        shape[dim] = size
        out = ctx.op("view", "crop", (out,), {"slice": (dim, before, 1)}, where,
                     output_shape=tuple(shape))
    ctx.record(where.path, "crop", starts=befores, sizes=sizes)
    return simple_module(ctx, where, "Crop", out)


@layer("upsample", "upsampling by a scale factor", scale=REQUIRED, mode="nearest")
def upsample(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    rank = spatial_rank(ctx, x, where, "upsample")
    ranks = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    if o["mode"] != "nearest" and ranks.get(o["mode"]) != rank:
        raise ctx.error(f"mode {o['mode']!r} does not fit a {rank}-D input", where, "mode",
                        hint="nearest for any; linear 1-D, bilinear/bicubic 2-D, trilinear 3-D")
    scales = ctx.numbers(o, "scale", rank, where, whole=False)
    sizes = tuple(scaled_size(size, scale) for size, scale in zip(x.shape[2:], scales))
    attrs = {"mode": o["mode"], "output_size": sizes}
    ctx.record(where.path, "upsample", scale=scales, mode=o["mode"])
    return simple_module(ctx, where, "Upsample", ctx.op("upsample", "upsample", (x,), attrs,
                                                        where))


def scaled_size(size: Any, scale: Any) -> Any:
    """PyTorch's floor(size · scale)."""
    if is_concrete(size) and isinstance(scale, (int, float)):
        return int(math.floor(size * scale))
    return floordiv(size * scale, 1)


def norm_type_name(prefix: str, x: TensorInfo) -> str:
    return f"{prefix}{max(len(x.shape) - 2, 1)}d"


@layer("bn", "batch norm (inference: running statistics)", eps=1e-5)
def bn(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    ctx.module(where.path, norm_type_name("BatchNorm", x))
    channels = x.shape[1]
    weight = ctx.param(where.path, "weight", (channels,))
    bias = ctx.param(where.path, "bias", (channels,))
    for name in ("running_mean", "running_var"):
        ctx.param(where.path, name, (channels,), buffer=True)
    ctx.param(where.path, "num_batches_tracked", (), buffer=True)
    out = ctx.op("norm", "bn", (x, weight, bias), {"type": "batch", "stats": False}, where)
    ctx.record(where.path, "bn", rank=max(len(x.shape) - 2, 1), channels=channels,
               eps=ctx.real(o, "eps", where, positive=True))
    ctx.finish(where.path, out)
    return out


@layer("gn", "group norm", groups=REQUIRED)
def gn(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    ctx.module(where.path, "GroupNorm")
    channels, groups = x.shape[1], ctx.number(o, "groups", where)
    check_divides(ctx, where, channels, groups, "channels")
    operands = (x, ctx.param(where.path, "weight", (channels,)),
                ctx.param(where.path, "bias", (channels,)))
    out = ctx.op("norm", "gn", operands, {"type": "group", "stats": True, "groups": groups},
                 where)
    ctx.record(where.path, "gn", groups=groups, channels=channels)
    ctx.finish(where.path, out)
    return out


@layer("in", "instance norm", affine=False)
def instance_norm(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                  ) -> TensorInfo:
    spatial_rank(ctx, x, where, "in")
    ctx.module(where.path, norm_type_name("InstanceNorm", x))
    channels = x.shape[1]
    affine = (ctx.param(where.path, "weight", (channels,)),
              ctx.param(where.path, "bias", (channels,))) if o["affine"] else ()
    out = ctx.op("norm", "in", (x, *affine), {"type": "instance", "stats": True}, where)
    ctx.record(where.path, "in", rank=len(x.shape) - 2, channels=channels,
               affine=bool(o["affine"]))
    ctx.finish(where.path, out)
    return out


@layer("ln", "layer norm over all non-batch axes")
def ln(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    ctx.module(where.path, "LayerNorm")
    shape = x.shape[1:]
    operands = (x, ctx.param(where.path, "weight", shape), ctx.param(where.path, "bias", shape))
    out = ctx.op("norm", "ln", operands, {"type": "layer", "stats": True}, where)
    ctx.record(where.path, "ln", shape=shape)
    ctx.finish(where.path, out)
    return out


def activation(type_name: str, op_name: str, fn: str | None = None) -> Handler:
    """``fn``: the function's torch name (attr ``fn``, as the aten front-end sets it)."""

    def handler(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                ) -> TensorInfo:
        slope = ctx.real(o, "slope", where) if "slope" in o else None
        ctx.record(where.path, "activation", type=type_name, slope=slope)
        attrs = {"op": op_name, "fn": fn or op_name}
        return simple_module(ctx, where, type_name,
                             ctx.op("activation", op_name, (x,), attrs, where))

    return handler


for _name, _type in (("relu", "ReLU"), ("relu6", "ReLU6"), ("elu", "ELU"),
                     ("sigmoid", "Sigmoid"), ("tanh", "Tanh")):
    layer(_name, f"{_type} activation")(activation(_type, _name))
layer("leakyrelu", "Leaky ReLU", slope=0.01)(activation("LeakyReLU", "leakyrelu", "leaky_relu"))


@layer("prelu", "PReLU (one slope, or one per channel)", per_channel=False)
def prelu(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    ctx.module(where.path, "PReLU")
    count = x.shape[1] if o["per_channel"] else 1
    slope = ctx.param(where.path, "weight", (count,))
    ctx.record(where.path, "prelu", count=count)
    out = ctx.op("activation", "prelu", (x, slope), {"op": "prelu", "fn": "prelu"}, where,
                 output_shape=x.shape)
    ctx.finish(where.path, out)
    return out


@layer("softmax", "softmax over channels (or axis 'dim')", dim=1)
def softmax(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    dim, axes = ctx.number(o, "dim", where, positive=False), len(x.shape)
    if not is_concrete(dim):
        raise ctx.error(f"'dim' must be a number, found {dim}", where, "dim")
    if not -axes <= dim < axes:
        raise ctx.error(f"'dim' {dim} is out of range for an input of {axes} axes, batch "
                        f"included ({tuple(x.shape[1:])} without it)", where, "dim",
                        hint=f"use 0 … {axes - 1}, or -{axes} … -1 counting from the end; "
                             "1 is the channels")
    ctx.record(where.path, "softmax", dim=dim)
    return simple_module(ctx, where, "Softmax",
                         ctx.op("softmax", "softmax", (x,), {"dim": dim}, where))


def dropout(type_name: str | None) -> Handler:
    """Dropout is the identity at inference: no node, no cost."""

    def handler(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                ) -> TensorInfo:
        p = o["p"]
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
            raise ctx.error(f"dropout probability must be in [0, 1), found {p!r}", where, "p")
        name = type_name or f"Dropout{max(len(x.shape) - 2, 1)}d"
        ctx.record(where.path, "dropout", type=name, p=p)
        return simple_module(ctx, where, name, x)

    return handler


layer("dropout", "dropout (identity at inference)", p=0.5)(dropout("Dropout"))
layer("dropout2d", "spatial dropout of whole maps (identity at inference)", p=0.5)(
    dropout(None))
layer("gaussiandropout", "multiplicative N(1, p/(1−p)) noise (identity at inference)", p=0.5)(
    dropout("GaussianDropout"))


@layer("flatten", "flatten all non-batch axes")
def flatten(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    shape = (x.shape[0], prod(x.shape[1:]))
    ctx.record(where.path, "flatten")
    return simple_module(ctx, where, "Flatten",
                         ctx.op("reshape", "flatten", (x,), {"shape": shape}, where))


def needs_features(ctx: GraphContext, x: TensorInfo, where: Where, what: str) -> None:
    if x.dtype.startswith("int"):
        raise ctx.error(f"{what} needs features, found token ids {tuple(x.shape[1:])}", where,
                        hint="put an 'embedding' layer first")
    if len(x.shape) > 3:
        raise ctx.error(f"{what} needs a flat input, found shape {tuple(x.shape[1:])}", where,
                        hint="add 'flatten' or 'globalavgpool' before it")


@layer("fc", "fully connected", out=REQUIRED, bias=True)
def fc(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    needs_features(ctx, x, where, "fc")
    ctx.module(where.path, "Linear")
    out = ctx.number(o, "out", where)
    operands = [x, ctx.param(where.path, "weight", (out, x.shape[-1]))]
    if o["bias"]:
        operands.append(ctx.param(where.path, "bias", (out,)))
    result = ctx.op("linear", "fc", tuple(operands), {}, where)
    ctx.record(where.path, "fc", in_features=x.shape[-1], out_features=out, bias=bool(o["bias"]))
    ctx.finish(where.path, result)
    return result


@layer("pedcc", "PEDCC head: fixed, evenly spread class centroids (frozen, no bias)",
       classes=REQUIRED)
def pedcc(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    needs_features(ctx, x, where, "pedcc")
    ctx.module(where.path, "PEDCCHead")
    classes = ctx.number(o, "classes", where)
    if is_concrete(classes) and classes > limits.MAX_PEDCC_CLASSES:
        raise ctx.error(f"'classes' is {classes}, more than MAX_PEDCC_CLASSES = "
                        f"{limits.MAX_PEDCC_CLASSES} (building the centroids would take "
                        "too long)", where, "classes",
                        hint=limits.limit_hint("MAX_PEDCC_CLASSES"))
    weight = ctx.param(where.path, "weight", (classes, x.shape[-1]), trainable=False)
    result = ctx.op("linear", "pedcc", (x, weight), {}, where)
    ctx.record(where.path, "pedcc", in_features=x.shape[-1], classes=classes)
    ctx.finish(where.path, result)
    return result


@layer("embedding", "token embedding table", vocab=REQUIRED, dim=REQUIRED)
def embedding(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where) -> TensorInfo:
    if not x.dtype.startswith("int"):
        raise ctx.error(f"embedding needs token ids, found features {tuple(x.shape[1:])}",
                        where, hint="declare the input as tokens: input: {tokens: L}")
    ctx.module(where.path, "Embedding")
    table = ctx.param(where.path, "weight", (ctx.number(o, "vocab", where),
                                             ctx.number(o, "dim", where)))
    result = ctx.op("embedding", "embedding", (table, x), {}, where)
    ctx.record(where.path, "embedding", vocab=table.shape[0], dim=table.shape[1])
    ctx.finish(where.path, result)
    return result


def recurrent(mode: str, type_name: str) -> Handler:
    gates = {"rnn_tanh": 1, "lstm": 4, "gru": 3}[mode]

    def handler(ctx: GraphContext, x: TensorInfo, o: dict[str, Any], where: Where
                ) -> TensorInfo:
        if len(x.shape) != 3 or x.dtype.startswith("int"):
            raise ctx.error(f"{type_name} needs a sequence (T, F), found "
                            f"{tuple(x.shape[1:])}", where,
                            hint="declare input: {sequence: [T, F]}, or add an embedding")
        ctx.module(where.path, type_name)
        hidden, layers = ctx.number(o, "hidden", where), ctx.number(o, "layers", where)
        if not is_concrete(layers):
            raise ctx.error("'layers' must be a number", where, "layers")
        directions = 2 if o["bidirectional"] else 1
        if layers > limits.MAX_REPEAT:
            raise ctx.error(f"'layers' is {layers}, more than MAX_REPEAT = "
                            f"{limits.MAX_REPEAT}", where, "layers",
                            hint=limits.limit_hint("MAX_REPEAT"))
        for index in range(layers):
            layer_in = x.shape[-1] if index == 0 else directions * hidden
            for suffix in ("", "_reverse")[:directions]:
                ctx.param(where.path, f"weight_ih_l{index}{suffix}", (gates * hidden, layer_in))
                ctx.param(where.path, f"weight_hh_l{index}{suffix}", (gates * hidden, hidden))
                if o["bias"]:
                    ctx.param(where.path, f"bias_ih_l{index}{suffix}", (gates * hidden,))
                    ctx.param(where.path, f"bias_hh_l{index}{suffix}", (gates * hidden,))
        attrs = {"mode": mode, "input_size": x.shape[-1], "hidden_size": hidden,
                 "num_layers": layers, "bidirectional": bool(o["bidirectional"]),
                 "bias": bool(o["bias"]), "proj_size": 0, "batch_first": True}
        result = ctx.op("recurrent", mode, (x,), attrs, where)
        ctx.record(where.path, "recurrent", type=type_name, input_size=x.shape[-1],
                   hidden_size=hidden, num_layers=layers, bias=bool(o["bias"]),
                   bidirectional=bool(o["bidirectional"]))
        ctx.finish(where.path, result)
        return result

    return handler


for _name, _mode, _type in (("rnn", "rnn_tanh", "RNN"), ("lstm", "lstm", "LSTM"),
                            ("gru", "gru", "GRU")):
    layer(_name, f"{_type} (batch first)", hidden=REQUIRED, layers=1, bidirectional=False,
          bias=True)(recurrent(_mode, _type))
