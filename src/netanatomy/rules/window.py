"""Sliding-window extraction and accumulation (im2col / col2im), and depth ↔ space moves.

``unfold`` (``F.unfold``, aten ``im2col``): operand ``x = (*lead, C, *spatial)``; output
``(*lead, C·prod(kernel), L)`` where L = prod over axes of the conv output size (the
window positions, row-major over the output grid). ``fold`` (``F.fold``, aten ``col2im``):
operand ``(*lead, C·prod(kernel), L)``; output ``(*lead, C, *output_size)``. Attrs of both,
one entry per spatial axis: ``kernel``, ``dilation``, ``padding`` as ``(before, after)``
pairs, ``stride``; ``fold`` also ``output_size``.

``pixel_shuffle`` (depth-to-space, ``attrs["mode"] == "shuffle"``) maps ``(*lead, C·r²,
H, W)`` to ``(*lead, C, H·r, W·r)``; ``"unshuffle"`` (space-to-depth) the reverse; attrs
``factor`` = r.

Conventions: all three only move data (0 MACs); ``unfold`` and ``pixel_shuffle`` compute
nothing, ``fold`` adds the values it accumulates: 1 elementwise FLOP per input element
(every column entry, those that fall into the padding included, as conv MACs count padded
taps). Bytes: each operand read once, each output written once.

Receptive fields, per output position across all channels (as for a conv): unfold's field
is the conv window (k, d, s, p) per axis, but its grid is flattened into the L axis, so the
field shows only after a reshape that restores the grid (``Regrid``); fold reads a
flattened grid and is the transposed window (as a transposed conv). Both take the kernel
offsets in the channel axis as channels, so ``fold(unfold(x))`` with nothing mixing the
channels in between is reported wider than it is (each output pixel then only reads
itself): the field is the bound for a fold of columns that a layer has mixed.
PixelShuffle(r): output o reads input ⌊o/r⌋, a window of stride 1/r and extent 0;
PixelUnshuffle(r): output o reads r·o … r·o + r − 1 (stride r, extent r − 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.conv import conv_output_size
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import AxisWindow, Regrid
from netanatomy.symbolic import Dim, ceildiv, floordiv, prod, to_fraction

WINDOW_KINDS = ("unfold", "fold", "pixel_shuffle")


def window_grid(sizes: Shape, attrs: Mapping[str, Any]) -> tuple[Dim, ...]:
    """Window positions per spatial axis: the conv output size of each axis."""
    return tuple(conv_output_size(size, kernel, stride, before, after, dilation)
                 for size, kernel, stride, (before, after), dilation in zip(
                     sizes, attrs["kernel"], attrs["stride"], attrs["padding"],
                     attrs["dilation"]))


@formula("unfold", "output_shapes")
def unfold_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """(*lead, C·prod(kernel), prod(window grid))."""
    x_shape, rank = inputs[0], len(attrs["kernel"])
    grid = window_grid(x_shape[-rank:], attrs)
    channels = x_shape[-rank - 1]
    return ((*x_shape[:-rank - 1], channels * prod(attrs["kernel"]), prod(grid)),)


@formula("fold", "output_shapes")
def fold_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """(*lead, C·prod(kernel) / prod(kernel), *output_size)."""
    x_shape = inputs[0]
    channels = floordiv(x_shape[-2], prod(attrs["kernel"]))
    return ((*x_shape[:-2], channels, *attrs["output_size"]),)


@formula("pixel_shuffle", "output_shapes")
def pixel_shuffle_output_shapes(inputs: tuple[Shape, ...],
                                attrs: Mapping[str, Any]) -> tuple[Shape]:
    """shuffle: (*lead, C/r², H·r, W·r); unshuffle: (*lead, C·r², H/r, W/r)."""
    *lead, channels, height, width = inputs[0]
    r = attrs["factor"]
    if attrs["mode"] == "shuffle":
        return ((*lead, floordiv(channels, r * r), height * r, width * r),)
    return ((*lead, channels * r * r, floordiv(height, r), floordiv(width, r)),)


@formula(WINDOW_KINDS, "macs")
def window_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Dim:
    """Moving windows multiplies nothing."""
    return 0


@formula(("unfold", "pixel_shuffle"), "elementwise_flops")
def copy_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """Pure copies: 0."""
    return 0


@formula("fold", "elementwise_flops")
def fold_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """One add per column entry accumulated into the output: the operand's elements."""
    return prod(inputs[0])


@formula("unfold", "rf")
def unfold_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Regrid:
    """The conv window per axis (extent (k − 1)·d, stride s, start −pad_before); its grid
    (*lead, C·prod(kernel), *grid) is stored flattened as the output."""
    x_shape, rank = inputs[0], len(attrs["kernel"])
    windows = tuple(AxisWindow(extent=(k - 1) * d, stride=s, start=-before)
                    for k, s, d, (before, _) in zip(attrs["kernel"], attrs["stride"],
                                                    attrs["dilation"], attrs["padding"]))
    grid = window_grid(x_shape[-rank:], attrs)
    return Regrid(windows, after=(*outputs[0][:-1], *grid))


@formula("fold", "rf")
def fold_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> Regrid:
    """The operand's L axis read as the window grid; output o is fed by the windows l with
    o + p − l·s ∈ {0, d, …, (k − 1)·d}: in grid units a window of stride 1/s starting at
    ⌈(p − (k − 1)·d)/s⌉ and spanning ⌊(k − 1)·d / s⌋ (as ``conv_transpose_rf``)."""
    x_shape = inputs[0]
    grid = window_grid(attrs["output_size"], attrs)
    windows = []
    for k, s, d, (before, _) in zip(attrs["kernel"], attrs["stride"], attrs["dilation"],
                                    attrs["padding"]):
        span = (k - 1) * d
        windows.append(AxisWindow(extent=floordiv(span, s), stride=to_fraction(1, s),
                                  start=ceildiv(before - span, s)))
    return Regrid(tuple(windows), before=(*x_shape[:-1], *grid))


@formula("pixel_shuffle", "rf")
def pixel_shuffle_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                     attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """shuffle: output o reads ⌊o/r⌋ (stride 1/r, extent 0); unshuffle: r·o … r·o + r − 1
    (stride r, extent r − 1). Per axis of H and W; the channel interleaving moves no
    spatial position."""
    r = attrs["factor"]
    if attrs["mode"] == "shuffle":
        window = AxisWindow(extent=0, stride=to_fraction(1, r), start=0)
    else:
        window = AxisWindow(extent=r - 1, stride=r, start=0)
    return (window, window)


formula(WINDOW_KINDS, "params")(no_params)
formula(WINDOW_KINDS, "bytes")(traffic_bytes)
convention("unfold", "data movement: 0 MACs and 0 FLOPs; output (N, C·k·k, L), L window "
                     "positions row-major")
convention("fold", "0 MACs; 1 elementwise FLOP (an add) per input element accumulated, "
                   "padded positions included")
convention("pixel_shuffle", "data movement: 0 MACs and 0 FLOPs")
