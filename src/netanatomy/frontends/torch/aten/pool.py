"""Pooling, adaptive pooling, upsampling and grid sampling → window and resampling kinds."""

from __future__ import annotations

from netanatomy.frontends.torch.aten.registry import (
    Adapter,
    AtenCall,
    Emit,
    per_axis,
    register_adapter,
)


def pool_adapter(mode: str, has_dilation: bool) -> Adapter:
    """Adapter for max/avg pooling: (x, kernel, stride, padding[, dilation], ceil_mode)."""

    def adapt(call: AtenCall) -> Emit:
        x = call.args[0]
        kernel_arg = call.arg(1, "kernel_size")
        rank = len(kernel_arg) if isinstance(kernel_arg, (list, tuple)) and len(kernel_arg) > 1 \
            else x.dim() - 2
        kernel = per_axis(kernel_arg, rank, 1)
        stride = per_axis(call.arg(2, "stride"), rank, 0)
        stride = tuple(k if s == 0 else s for s, k in zip(stride, kernel))
        padding = per_axis(call.arg(3, "padding"), rank, 0)
        dilation = per_axis(call.arg(4, "dilation"), rank, 1) if has_dilation \
            else (1,) * rank
        ceil_index = 5 if has_dilation else 4
        attrs = {"mode": mode, "kernel": kernel, "stride": stride,
                 "padding": tuple((p, p) for p in padding), "dilation": dilation,
                 "ceil_mode": bool(call.arg(ceil_index, "ceil_mode", False))}
        return Emit("pool", (call.info(x),), attrs)

    return adapt


def adaptive_pool_adapter(mode: str) -> Adapter:
    def adapt(call: AtenCall) -> Emit:
        rank = len(call.arg(1, "output_size"))
        return Emit("adaptive_pool", (call.info(call.args[0]),), {
            "mode": mode, "output_size": tuple(call.outputs[0].shape[-rank:])})

    return adapt


def upsample_adapter(mode: str, rank: int) -> Adapter:
    def adapt(call: AtenCall) -> Emit:
        return Emit("upsample", (call.info(call.args[0]),), {
            "mode": mode, "output_size": tuple(call.outputs[0].shape[-rank:])})

    return adapt


GRID_SAMPLE_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}


def grid_sample_adapter(rank: int) -> Adapter:
    """grid_sampler_2d/3d(x, grid, mode, ...): interpolation at data-dependent grid points
    (kind ``sample``; ``trilinear`` for 3-D bilinear)."""

    def adapt(call: AtenCall) -> Emit:
        mode = GRID_SAMPLE_MODES.get(int(call.arg(2, "interpolation_mode", 0)), "bilinear")
        if rank == 3 and mode == "bilinear":
            mode = "trilinear"
        return Emit("sample", (call.info(call.args[0]), call.info(call.args[1])),
                    {"mode": mode})

    return adapt


for _rank in (1, 2, 3):
    register_adapter([f"aten.max_pool{_rank}d_with_indices", f"aten.max_pool{_rank}d"],
                     pool_adapter("max", True))
    register_adapter(f"aten.avg_pool{_rank}d", pool_adapter("avg", False))
    register_adapter([f"aten.adaptive_avg_pool{_rank}d"]
                     + ([f"aten._adaptive_avg_pool{_rank}d"] if _rank > 1 else []),
                     adaptive_pool_adapter("avg"))
    register_adapter(f"aten.adaptive_max_pool{_rank}d", adaptive_pool_adapter("max"))

UPSAMPLERS = {
    "upsample_nearest1d": ("nearest", 1), "upsample_nearest2d": ("nearest", 2),
    "upsample_nearest3d": ("nearest", 3), "_upsample_nearest_exact1d": ("nearest", 1),
    "_upsample_nearest_exact2d": ("nearest", 2), "_upsample_nearest_exact3d": ("nearest", 3),
    "upsample_linear1d": ("linear", 1), "upsample_bilinear2d": ("bilinear", 2),
    "_upsample_bilinear2d_aa": ("bilinear", 2), "upsample_bicubic2d": ("bicubic", 2),
    "_upsample_bicubic2d_aa": ("bicubic", 2), "upsample_trilinear3d": ("trilinear", 3),
}
for _name, (_mode, _rank) in UPSAMPLERS.items():
    register_adapter(f"aten.{_name}", upsample_adapter(_mode, _rank))
register_adapter("aten.grid_sampler_2d", grid_sample_adapter(2))
register_adapter("aten.grid_sampler_3d", grid_sample_adapter(3))
