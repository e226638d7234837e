"""Translation of aten ops into IR op kinds, operands and attributes.

Each entry of the table maps an aten op (``aten.convolution``) to an *adapter*: a small
function that picks the operands in the order the kind's rule expects and normalises the
hyper-parameters. An op that is not in the table becomes kind ``"unknown"`` and is reported
as uncounted, by name. In-place variants (``relu_``, ``add_``) share their base op's entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from netanatomy.ir.graph import TensorInfo

InfoOf = Callable[[torch.Tensor], TensorInfo]
Adapted = tuple[str, tuple[TensorInfo, ...], dict[str, Any]]
Adapter = Callable[[tuple[Any, ...], dict[str, Any], InfoOf, Sequence[TensorInfo]], Adapted]


def tensor_operands(args: Sequence[Any], info_of: InfoOf) -> tuple[TensorInfo, ...]:
    """TensorInfo of every tensor among ``args`` (one level of lists unpacked), in order."""
    found: list[TensorInfo] = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            found.append(info_of(arg))
        elif isinstance(arg, (list, tuple)):
            found.extend(info_of(item) for item in arg if isinstance(item, torch.Tensor))
    return tuple(found)


def per_axis(value: Any, rank: int, default: int) -> tuple[int, ...]:
    """Expand an int or a 0/1-element list to ``rank`` entries; an empty list → default."""
    if value is None:
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(int(v) for v in value)
    if len(values) == 0:
        return (default,) * rank
    if len(values) == 1:
        return values * rank
    return values


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str,
        default: Any = None) -> Any:
    """Positional argument ``index`` or keyword ``name``, else ``default``."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def plain(kind: str) -> Adapter:
    """Adapter for ops whose operands are simply all their tensor arguments."""

    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        return kind, tensor_operands(list(args) + list(kwargs.values()), info_of), {}

    return adapt


def adapt_convolution(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                      outputs: Sequence[TensorInfo]) -> Adapted:
    x, weight, bias = args[0], args[1], args[2]
    rank = weight.dim() - 2
    transposed = bool(arg(args, kwargs, 6, "transposed", False))
    padding = per_axis(arg(args, kwargs, 4, "padding"), rank, 0)
    attrs: dict[str, Any] = {
        "stride": per_axis(arg(args, kwargs, 3, "stride"), rank, 1),
        "padding": tuple((p, p) for p in padding),
        "dilation": per_axis(arg(args, kwargs, 5, "dilation"), rank, 1),
        "groups": int(arg(args, kwargs, 8, "groups", 1)),
    }
    if transposed:
        attrs["output_padding"] = per_axis(arg(args, kwargs, 7, "output_padding"), rank, 0)
    operands = [info_of(x), info_of(weight)] + ([info_of(bias)] if bias is not None else [])
    return ("conv_transpose" if transposed else "conv"), tuple(operands), attrs


def adapt_biased_matmul(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                        outputs: Sequence[TensorInfo]) -> Adapted:
    """addmm / baddbmm / addmv (bias, a, b): the bias goes last, as the rule expects."""
    bias, first, second = args[0], args[1], args[2]
    return "matmul", (info_of(first), info_of(second), info_of(bias)), {}


def adapt_attention(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                    outputs: Sequence[TensorInfo]) -> Adapted:
    query, key, value = args[0], args[1], args[2]
    mask = kwargs.get("attn_mask", kwargs.get("attn_bias"))
    if mask is None and len(args) > 3 and isinstance(args[3], torch.Tensor):
        mask = args[3]
    operands = [info_of(query), info_of(key), info_of(value)]
    if isinstance(mask, torch.Tensor):
        operands.append(info_of(mask))
    causal = kwargs.get("is_causal", False)
    return "attention", tuple(operands), {"is_causal": bool(causal)}


def adapt_embedding(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                    outputs: Sequence[TensorInfo]) -> Adapted:
    return "embedding", (info_of(args[0]), info_of(args[1])), {}


def norm_adapter(norm_type: str, affine_positions: tuple[int, ...],
                 stats: bool | int) -> Adapter:
    """Adapter for a norm op: operand 0 is x, ``affine_positions`` hold weight/bias.

    ``stats`` is a constant bool, or the index of the op's ``training`` argument.
    """

    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        affine = [info_of(args[i]) for i in affine_positions
                  if len(args) > i and isinstance(args[i], torch.Tensor)]
        computed = stats if isinstance(stats, bool) else bool(arg(args, kwargs, stats,
                                                                   "training", True))
        return "norm", (info_of(args[0]), *affine), {"type": norm_type, "stats": computed}

    return adapt


def pool_adapter(mode: str, has_dilation: bool) -> Adapter:
    """Adapter for max/avg pooling: (x, kernel, stride, padding[, dilation], ceil_mode)."""

    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        x = args[0]
        kernel_arg = arg(args, kwargs, 1, "kernel_size")
        rank = len(kernel_arg) if isinstance(kernel_arg, (list, tuple)) and len(kernel_arg) > 1 \
            else x.dim() - 2
        kernel = per_axis(kernel_arg, rank, 1)
        stride = per_axis(arg(args, kwargs, 2, "stride"), rank, 0)
        stride = tuple(k if s == 0 else s for s, k in zip(stride, kernel))
        padding = per_axis(arg(args, kwargs, 3, "padding"), rank, 0)
        dilation = per_axis(arg(args, kwargs, 4, "dilation"), rank, 1) if has_dilation \
            else (1,) * rank
        ceil_index = 5 if has_dilation else 4
        attrs = {"mode": mode, "kernel": kernel, "stride": stride,
                 "padding": tuple((p, p) for p in padding), "dilation": dilation,
                 "ceil_mode": bool(arg(args, kwargs, ceil_index, "ceil_mode", False))}
        return "pool", (info_of(x),), attrs

    return adapt


def adaptive_pool_adapter(mode: str) -> Adapter:
    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        x = args[0]
        rank = len(arg(args, kwargs, 1, "output_size"))
        return "adaptive_pool", (info_of(x),), {
            "mode": mode, "output_size": tuple(outputs[0].shape[-rank:])}

    return adapt


def upsample_adapter(mode: str, rank: int) -> Adapter:
    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        return "upsample", (info_of(args[0]),), {
            "mode": mode, "output_size": tuple(outputs[0].shape[-rank:])}

    return adapt


GRID_SAMPLE_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}


def grid_sample_adapter(rank: int) -> Adapter:
    """grid_sampler_2d/3d(x, grid, mode, ...): interpolation at data-dependent grid points
    (kind ``sample``; ``trilinear`` for 3-D bilinear)."""

    def adapt(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
        mode = GRID_SAMPLE_MODES.get(int(arg(args, kwargs, 2, "interpolation_mode", 0)),
                                     "bilinear")
        if rank == 3 and mode == "bilinear":
            mode = "trilinear"
        return "sample", (info_of(args[0]), info_of(args[1])), {"mode": mode}

    return adapt


def adapt_reduction(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                    outputs: Sequence[TensorInfo]) -> Adapted:
    dims = arg(args, kwargs, 1, "dim")
    if isinstance(dims, int):
        dims = (dims,)
    elif not isinstance(dims, (list, tuple)) or len(dims) == 0:
        dims = None
    keepdim = arg(args, kwargs, 2, "keepdim", False)
    return "reduction", (info_of(args[0]),), {
        "dims": None if dims is None else tuple(dims),
        "keepdim": keepdim if isinstance(keepdim, bool) else False}


def adapt_permute(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                  outputs: Sequence[TensorInfo]) -> Adapted:
    """permute / transpose / t: attrs ``permutation`` (output axis i is input axis p[i])."""
    x = args[0]
    rank = x.dim()
    if len(args) > 1 and isinstance(args[1], (list, tuple)):
        permutation = [int(d) % rank for d in args[1]]
    else:
        permutation = list(range(rank))
        if rank >= 2:
            first = int(arg(args, kwargs, 1, "dim0", 0)) % rank
            second = int(arg(args, kwargs, 2, "dim1", 1)) % rank
            permutation[first], permutation[second] = permutation[second], permutation[first]
    return "view", (info_of(x),), {"permutation": tuple(permutation)}


def adapt_pad(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
              outputs: Sequence[TensorInfo]) -> Adapted:
    """constant/reflection/replication padding; torch lists pads last axis first."""
    pads = [int(p) for p in arg(args, kwargs, 1, "padding", [])]
    pairs = [(pads[i], pads[i + 1]) for i in range(0, len(pads), 2)][::-1]
    return "pad", (info_of(args[0]),), {"padding": tuple(pairs)}


def adapt_slice(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                outputs: Sequence[TensorInfo]) -> Adapted:
    """slice(x, dim, start, end, step): a view; attrs ``slice = (dim, start, step)``."""
    x = args[0]
    dim = int(arg(args, kwargs, 1, "dim", 0)) % max(x.dim(), 1)
    start = arg(args, kwargs, 2, "start", 0)
    start = 0 if start is None else int(start)
    if start < 0:
        start += x.shape[dim]
    step = int(arg(args, kwargs, 4, "step", 1) or 1)
    return "view", (info_of(x),), {"slice": (dim, max(start, 0), step)}


def adapt_softmax(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                  outputs: Sequence[TensorInfo]) -> Adapted:
    return "softmax", (info_of(args[0]),), {"dim": int(arg(args, kwargs, 1, "dim", -1))}


def adapt_concat(args: tuple[Any, ...], kwargs: dict[str, Any], info_of: InfoOf,
                 outputs: Sequence[TensorInfo]) -> Adapted:
    return "concat", tensor_operands(args[0], info_of), {"dim": int(arg(args, kwargs, 1, "dim", 0))}


ACTIVATIONS = (
    "relu relu6 gelu silu sigmoid tanh hardtanh hardswish hardsigmoid elu selu celu "
    "leaky_relu softplus mish _prelu_kernel prelu log_sigmoid_forward threshold "
    "rrelu_with_noise glu softshrink hardshrink logit"
).split()

ELEMENTWISE = (
    "add sub rsub mul div neg abs exp exp2 expm1 log log2 log10 log1p sqrt rsqrt pow "
    "reciprocal sin cos tan asin acos atan atan2 sinh cosh erf erfc erfinv sign sgn floor "
    "ceil round trunc frac clamp clamp_min clamp_max clip minimum maximum fmax fmin where "
    "eq ne lt le gt ge logical_and logical_or logical_not logical_xor bitwise_and "
    "bitwise_or bitwise_not bitwise_xor masked_fill lerp addcmul addcdiv fmod remainder "
    "floor_divide square isnan isinf isfinite nan_to_num hypot xlogy bernoulli cumsum cumprod"
).split()

REDUCTIONS = (
    "sum mean amax amin var std var_mean std_mean prod argmax argmin logsumexp norm "
    "linalg_vector_norm any all count_nonzero nonzero"
).split()

VIEWS = (
    "view _unsafe_view reshape _reshape_alias permute transpose t expand squeeze unsqueeze "
    "slice select narrow alias detach as_strided unfold split split_with_sizes "
    "unsafe_split chunk unbind diagonal view_as_real view_as_complex lift_fresh movedim "
    "swapaxes numpy_T"
).split()

COPIES = (
    "clone contiguous _to_copy to copy copy_ constant_pad_nd reflection_pad1d "
    "reflection_pad2d reflection_pad3d replication_pad1d replication_pad2d "
    "replication_pad3d pad repeat repeat_interleave roll flip tril triu index_select "
    "gather index index_put scatter masked_scatter pixel_shuffle pixel_unshuffle "
    "channel_shuffle native_channel_shuffle im2col lift_fresh_copy _unsafe_index fill "
    "zero slice_scatter select_scatter diag_embed take _local_scalar_dense max_unpool2d "
    "max_unpool3d"
).split()

CREATIONS = (
    "zeros zeros_like ones ones_like empty empty_like empty_strided full full_like arange "
    "linspace new_zeros new_ones new_empty new_full new_empty_strided scalar_tensor rand "
    "rand_like randn randn_like randint randint_like randperm eye normal uniform "
    "exponential random resize"
).split()


def build_table() -> dict[str, Adapter]:
    """The aten op table, keyed by overload packet name (``"aten.convolution"``) or, where
    overloads differ in meaning, by full overload name (``"aten.max.other"``)."""
    table: dict[str, Adapter] = {}
    for names, kind in ((ACTIVATIONS, "activation"), (ELEMENTWISE, "elementwise"),
                        (VIEWS, "view"), (COPIES, "copy"), (CREATIONS, "create")):
        for name in names:
            table[f"aten.{name}"] = plain(kind)
    for name in REDUCTIONS:
        table[f"aten.{name}"] = adapt_reduction
    for name in ("max", "min"):
        table[f"aten.{name}"] = adapt_reduction
        table[f"aten.{name}.other"] = plain("elementwise")
    for name in ("_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax"):
        table[f"aten.{name}"] = adapt_softmax
    for name in ("permute", "transpose", "t", "swapaxes", "numpy_T"):
        table[f"aten.{name}"] = adapt_permute
    for name in ("constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
                 "replication_pad1d", "replication_pad2d", "replication_pad3d"):
        table[f"aten.{name}"] = adapt_pad
    table["aten.slice"] = adapt_slice
    table["aten.native_dropout"] = plain("dropout")
    table["aten.cat"] = adapt_concat
    table["aten.stack"] = plain("copy")      # a new axis: data movement, not a concat
    table["aten.convolution"] = adapt_convolution
    table["aten._convolution"] = adapt_convolution
    for name in ("mm", "bmm", "mv", "dot", "vdot", "matmul"):
        table[f"aten.{name}"] = plain("matmul")
    for name in ("addmm", "baddbmm", "addmv"):
        table[f"aten.{name}"] = adapt_biased_matmul
    for name in ("_scaled_dot_product_flash_attention_for_cpu",
                 "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                 "_scaled_dot_product_cudnn_attention",
                 "_scaled_dot_product_fused_attention_overrideable"):
        table[f"aten.{name}"] = adapt_attention
    table["aten.embedding"] = adapt_embedding
    table.update(norm_table())
    table.update(pool_table())
    return table


def norm_table() -> dict[str, Adapter]:
    return {
        "aten.native_batch_norm": norm_adapter("batch", (1, 2), 5),
        "aten._native_batch_norm_legit": norm_adapter("batch", (1, 2), 5),
        "aten._native_batch_norm_legit.no_stats": norm_adapter("batch", (1, 2), 3),
        "aten._native_batch_norm_legit_no_training": norm_adapter("batch", (1, 2), False),
        "aten._batch_norm_with_update": norm_adapter("batch", (1, 2), True),
        "aten._batch_norm_no_update": norm_adapter("batch", (1, 2), False),
        "aten.cudnn_batch_norm": norm_adapter("batch", (1, 2), 5),
        "aten.native_layer_norm": norm_adapter("layer", (2, 3), True),
        "aten.native_group_norm": norm_adapter("group", (1, 2), True),
        "aten.rms_norm": norm_adapter("rms", (2,), True),
        "aten._fused_rms_norm": norm_adapter("rms", (2,), True),
    }


def pool_table() -> dict[str, Adapter]:
    table: dict[str, Adapter] = {}
    for rank in (1, 2, 3):
        table[f"aten.max_pool{rank}d_with_indices"] = pool_adapter("max", True)
        table[f"aten.max_pool{rank}d"] = pool_adapter("max", True)
        table[f"aten.avg_pool{rank}d"] = pool_adapter("avg", False)
        table[f"aten.adaptive_avg_pool{rank}d"] = adaptive_pool_adapter("avg")
        if rank > 1:
            table[f"aten._adaptive_avg_pool{rank}d"] = adaptive_pool_adapter("avg")
        table[f"aten.adaptive_max_pool{rank}d"] = adaptive_pool_adapter("max")
    upsamplers = {
        "upsample_nearest1d": ("nearest", 1), "upsample_nearest2d": ("nearest", 2),
        "upsample_nearest3d": ("nearest", 3), "_upsample_nearest_exact1d": ("nearest", 1),
        "_upsample_nearest_exact2d": ("nearest", 2), "_upsample_nearest_exact3d": ("nearest", 3),
        "upsample_linear1d": ("linear", 1), "upsample_bilinear2d": ("bilinear", 2),
        "_upsample_bilinear2d_aa": ("bilinear", 2), "upsample_bicubic2d": ("bicubic", 2),
        "_upsample_bicubic2d_aa": ("bicubic", 2), "upsample_trilinear3d": ("trilinear", 3),
    }
    for name, (mode, rank) in upsamplers.items():
        table[f"aten.{name}"] = upsample_adapter(mode, rank)
    table["aten.grid_sampler_2d"] = grid_sample_adapter(2)
    table["aten.grid_sampler_3d"] = grid_sample_adapter(3)
    return table


ATEN_TABLE = build_table()


def find_adapter(func: torch._ops.OpOverload) -> Adapter | None:
    """The adapter for ``func``: by full name, then packet name, then its out-of-place base."""
    packet = str(func.overloadpacket)
    full = f"{packet}.{func._overloadname}"
    adapter = ATEN_TABLE.get(full) or ATEN_TABLE.get(packet)
    if adapter is None and packet.endswith("_") and not packet.endswith("__"):
        adapter = ATEN_TABLE.get(packet[:-1])
    return adapter
