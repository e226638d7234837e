"""Upsampling / interpolation (nearest, linear, bilinear, bicubic, trilinear), and sampling
at data-dependent positions (``grid_sample``, deformable convolution).

Attrs: ``mode`` and ``output_size`` (one entry per spatial axis). Convention: nearest
copies (0 FLOPs); the interpolating modes cost 2 elementwise FLOPs (a multiply and an add)
per neighbour taken per output element: 2 neighbours per axis for (bi/tri)linear, 4 per
axis for bicubic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import GLOBAL, AxisWindow
from netanatomy.symbolic import Dim, floordiv, prod, to_fraction

TAPS_PER_AXIS = {"nearest": 0, "nearest-exact": 0, "linear": 2, "bilinear": 2,
                 "trilinear": 2, "bicubic": 4}


@formula("upsample", "output_shapes")
def upsample_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape = inputs[0]
    rank = len(attrs["output_size"])
    return ((*x_shape[:-rank], *attrs["output_size"]),)


@formula("upsample", "macs")
def upsample_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                  attrs: Mapping[str, Any]) -> Dim:
    """Interpolation weights are fixed; they are counted as elementwise work, not MACs."""
    return 0


@formula("upsample", "elementwise_flops")
def upsample_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                               attrs: Mapping[str, Any]) -> Dim:
    """Output elements × 2 × neighbours (taps_per_axis ** spatial rank); 0 for nearest."""
    taps = TAPS_PER_AXIS[attrs["mode"]]
    if taps == 0:
        return 0
    return prod(outputs[0]) * 2 * taps ** len(attrs["output_size"])


@formula("upsample", "rf")
def upsample_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """Output o samples input coordinate x = (o + ½)·I/O − ½ (align_corners=False): nearest
    reads one input, (bi/tri)linear the 2 around x, bicubic 4. Stride I/O."""
    rank = len(attrs["output_size"])
    taps = max(TAPS_PER_AXIS[attrs["mode"]], 1)
    windows = []
    for in_size, out_size in zip(inputs[0][-rank:], outputs[0][-rank:]):
        stride = to_fraction(in_size, out_size)
        if taps == 1:
            windows.append(AxisWindow(extent=0, stride=stride, start=0))
            continue
        first = floordiv(in_size - out_size, 2 * out_size)      # floor(½·I/O − ½)
        windows.append(AxisWindow(extent=taps - 1, stride=stride, start=first - (taps // 2 - 1)))
    return tuple(windows)


@formula("sample", "output_shapes")
def sample_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """(N, C, *grid positions): operand 1 is the grid (N, *positions, rank)."""
    x_shape, grid_shape = inputs[0], inputs[1]
    return ((x_shape[0], x_shape[1], *grid_shape[1:-1]),)


@formula("sample", "macs")
def sample_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                attrs: Mapping[str, Any]) -> Dim:
    """Interpolation weights are computed per sample; counted as elementwise work."""
    return 0


@formula("sample", "elementwise_flops")
def sample_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                             attrs: Mapping[str, Any]) -> Dim:
    """Output elements × 2 × neighbours, as for upsampling (0 for nearest)."""
    return upsample_elementwise_flops(inputs, outputs,
                                      {"mode": attrs["mode"],
                                       "output_size": tuple(outputs[0][2:])})


@formula("sample", "rf")
def sample_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> str:
    """Sampling positions come from data (a grid, offsets): any input pixel can be read."""
    return GLOBAL


formula(("upsample", "sample"), "params")(no_params)
formula(("upsample", "sample"), "bytes")(traffic_bytes)
convention(("upsample", "sample"), "nearest copies (0 FLOPs); interpolation 2 elementwise "
                                   "FLOPs per neighbour per output element; no MACs")
dim_names("upsample", ("N C *",), ("N C *'",))
