"""Pooling: max/avg windows (1-D/2-D/3-D, with ceil_mode and dilation) and adaptive pooling.

Attrs of ``pool``: ``mode`` ("max" or "avg"), and per spatial axis ``kernel``, ``stride``,
``padding`` as ``(before, after)`` pairs, ``dilation``, plus ``ceil_mode``. Attrs of
``adaptive_pool``: ``mode`` and ``output_size`` (one entry per spatial axis).

Convention: a pooling window costs one elementwise FLOP per element it covers (a comparison
for max, an add for avg); the divide of avg pooling is not counted apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import GLOBAL, AxisWindow
from netanatomy.symbolic import Dim, ceildiv, floordiv, is_concrete, prod, to_fraction


def pool_output_size(size: Dim, kernel: Dim, stride: Dim, pad_before: Dim, pad_after: Dim,
                     dilation: Dim, ceil_mode: bool) -> Dim:
    """PyTorch's pooling output size, including the ceil_mode rule that the last window
    must start inside the input or its left padding (a sympy Piecewise with symbols)."""
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return floordiv(span, stride) + 1
    out = ceildiv(span, stride) + 1
    if all(is_concrete(v) for v in (out, stride, size, pad_before)):
        return out - 1 if (out - 1) * stride >= size + pad_before else out
    import sympy

    return sympy.Piecewise((out - 1, (out - 1) * stride >= size + pad_before), (out, True))


@formula("pool", "output_shapes")
def pool_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape = inputs[0]
    rank = len(attrs["kernel"])
    spatial = tuple(
        pool_output_size(size, kernel, stride, before, after, dilation, attrs["ceil_mode"])
        for size, kernel, stride, (before, after), dilation in zip(
            x_shape[-rank:], attrs["kernel"], attrs["stride"], attrs["padding"],
            attrs["dilation"])
    )
    return ((*x_shape[:-rank], *spatial),)


@formula("pool", "macs")
def pool_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Dim:
    """Pooling has no multiply-accumulates."""
    return 0


@formula("pool", "elementwise_flops")
def pool_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """Output elements × window size."""
    return prod(outputs[0]) * prod(attrs["kernel"])


def adaptive_window_total(in_size: Dim, out_size: Dim) -> Dim:
    """Sum over outputs of the adaptive window lengths along one axis.

    Window i spans [floor(i·I/O), ceil((i+1)·I/O)). With symbols the sum is taken as I,
    which is exact when O divides I.
    """
    if not (is_concrete(in_size) and is_concrete(out_size)):
        return in_size
    return sum(ceildiv((i + 1) * in_size, out_size) - floordiv(i * in_size, out_size)
               for i in range(out_size))


@formula("adaptive_pool", "output_shapes")
def adaptive_pool_output_shapes(inputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape = inputs[0]
    rank = len(attrs["output_size"])
    spatial = tuple(size if wanted is None else wanted
                    for size, wanted in zip(x_shape[-rank:], attrs["output_size"]))
    return ((*x_shape[:-rank], *spatial),)


@formula("adaptive_pool", "macs")
def adaptive_pool_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                       attrs: Mapping[str, Any]) -> Dim:
    """Pooling has no multiply-accumulates."""
    return 0


@formula("adaptive_pool", "elementwise_flops")
def adaptive_pool_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                                    attrs: Mapping[str, Any]) -> Dim:
    """Leading (batch, channel) elements × the product over axes of the window totals."""
    x_shape, out_shape = inputs[0], outputs[0]
    rank = len(attrs["output_size"])
    windows = prod(adaptive_window_total(i, o)
                   for i, o in zip(x_shape[-rank:], out_shape[-rank:]))
    return prod(x_shape[:-rank]) * windows


@formula("pool", "rf")
def pool_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """Per axis: extent (k − 1)·d, stride s, start −pad_before (as a conv)."""
    return tuple(AxisWindow(extent=(k - 1) * d, stride=s, start=-before)
                 for k, s, d, (before, _) in zip(attrs["kernel"], attrs["stride"],
                                                 attrs["dilation"], attrs["padding"]))


def adaptive_window_extent(in_size: Dim, out_size: Dim) -> Dim:
    """Largest (end − start − 1) over the adaptive windows along one axis."""
    if not (is_concrete(in_size) and is_concrete(out_size)):
        return ceildiv(in_size, out_size) - 1
    return max(ceildiv((i + 1) * in_size, out_size) - floordiv(i * in_size, out_size)
               for i in range(out_size)) - 1


@formula("adaptive_pool", "rf")
def adaptive_pool_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                     attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...] | str:
    """Global when every output axis has size 1; else windows of stride I/O (exact when O
    divides I) and the largest window's extent."""
    rank = len(attrs["output_size"])
    in_sizes, out_sizes = inputs[0][-rank:], outputs[0][-rank:]
    if all(size == 1 for size in out_sizes):
        return GLOBAL
    return tuple(AxisWindow(extent=adaptive_window_extent(i, o), stride=to_fraction(i, o),
                            start=0) for i, o in zip(in_sizes, out_sizes))


formula(("pool", "adaptive_pool"), "params")(no_params)
formula(("pool", "adaptive_pool"), "bytes")(traffic_bytes)
convention(("pool", "adaptive_pool"), "1 elementwise FLOP per window element (compare for "
                                      "max, add for avg); no MACs")
dim_names(("pool", "adaptive_pool"), ("N C *",), ("N C *'",))
