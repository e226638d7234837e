"""Convolution and transposed convolution, 1-D/2-D/3-D, with groups and dilation.

Operands: ``(x, weight[, bias])`` with ``x = (N, C_in, *spatial)``.
``conv`` weight: ``(C_out, C_in/groups, *kernel)``; ``conv_transpose`` weight:
``(C_in, C_out/groups, *kernel)`` (PyTorch's layouts).

Attrs (one entry per spatial axis): ``stride``, ``dilation``, ``padding`` as ``(before,
after)`` pairs (asymmetric and 'same' padding resolved by the front-end), ``groups``, and
for ``conv_transpose`` ``output_padding``.

Conventions: MACs count every kernel tap at every output position, padded taps included
(dense counting, as PyTorch's FlopCounterMode and fvcore do). A transposed conv's MACs are
counted from its *input* positions: each input element is multiplied by every tap of its
group's filters, whether or not the result lands inside the cropped output. The bias add is
one elementwise FLOP per output element. A conv over complex operands (``attrs["complex"]``)
counts 4 real MACs per complex MAC; PyTorch itself runs ``F.conv*d`` on complex tensors as
three real convolutions (Gauss's trick), which arrive here as real convs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import complex_factor, operand_elements, traffic_bytes
from netanatomy.rules.registry import convention, dim_names, formula
from netanatomy.rules.transfer import AxisWindow
from netanatomy.symbolic import Dim, ceildiv, floordiv, prod, to_fraction


def conv_output_size(size: Dim, kernel: Dim, stride: Dim, pad_before: Dim, pad_after: Dim,
                     dilation: Dim) -> Dim:
    """floor((size + pad_before + pad_after − dilation·(kernel − 1) − 1) / stride) + 1."""
    return floordiv(size + pad_before + pad_after - dilation * (kernel - 1) - 1, stride) + 1


def conv_transpose_output_size(size: Dim, kernel: Dim, stride: Dim, pad_before: Dim,
                               pad_after: Dim, dilation: Dim, output_padding: Dim) -> Dim:
    """(size − 1)·stride − pad_before − pad_after + dilation·(kernel − 1) + output_padding + 1."""
    return ((size - 1) * stride - pad_before - pad_after + dilation * (kernel - 1)
            + output_padding + 1)


@formula("conv", "output_shapes")
def conv_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape, weight_shape = inputs[0], inputs[1]
    spatial = tuple(
        conv_output_size(size, kernel, stride, before, after, dilation)
        for size, kernel, stride, (before, after), dilation in zip(
            x_shape[2:], weight_shape[2:], attrs["stride"], attrs["padding"], attrs["dilation"])
    )
    return ((x_shape[0], weight_shape[0], *spatial),)


@formula("conv_transpose", "output_shapes")
def conv_transpose_output_shapes(inputs: tuple[Shape, ...],
                                 attrs: Mapping[str, Any]) -> tuple[Shape]:
    x_shape, weight_shape = inputs[0], inputs[1]
    spatial = tuple(
        conv_transpose_output_size(size, kernel, stride, before, after, dilation, extra)
        for size, kernel, stride, (before, after), dilation, extra in zip(
            x_shape[2:], weight_shape[2:], attrs["stride"], attrs["padding"],
            attrs["dilation"], attrs["output_padding"])
    )
    out_channels = weight_shape[1] * attrs["groups"]
    return ((x_shape[0], out_channels, *spatial),)


@formula("conv", "macs")
def conv_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Dim:
    """N · C_out · prod(out spatial) · (C_in/groups) · prod(kernel) (× 4 when complex)."""
    weight_shape = inputs[1]
    return complex_factor(attrs) * prod(outputs[0]) * weight_shape[1] * prod(weight_shape[2:])


@formula("conv_transpose", "macs")
def conv_transpose_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                        attrs: Mapping[str, Any]) -> Dim:
    """N · C_in · prod(in spatial) · (C_out/groups) · prod(kernel), from input positions
    (× 4 when complex)."""
    x_shape, weight_shape = inputs[0], inputs[1]
    return complex_factor(attrs) * prod(x_shape) * weight_shape[1] * prod(weight_shape[2:])


@formula(("conv", "conv_transpose"), "elementwise_flops")
def conv_bias_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                    attrs: Mapping[str, Any]) -> Dim:
    """One add per output element when a bias operand is present, else 0."""
    return prod(outputs[0]) if len(inputs) > 2 else 0


@formula("conv", "rf")
def conv_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """Per axis: extent (k − 1)·d, stride s, start −pad_before."""
    kernels = inputs[1][2:]
    return tuple(AxisWindow(extent=(k - 1) * d, stride=s, start=-before)
                 for k, s, d, (before, _) in zip(kernels, attrs["stride"], attrs["dilation"],
                                                 attrs["padding"]))


@formula("conv_transpose", "rf")
def conv_transpose_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                      attrs: Mapping[str, Any]) -> tuple[AxisWindow, ...]:
    """Output o is fed by inputs i with o + p − i·s ∈ {0, d, …, (k − 1)·d}: in input units a
    window of stride 1/s, starting at (p − (k − 1)·d)/s, spanning at most
    floor((k − 1)·d / s) inputs apart."""
    kernels = inputs[1][2:]
    windows = []
    for k, s, d, (before, _) in zip(kernels, attrs["stride"], attrs["dilation"],
                                    attrs["padding"]):
        span = (k - 1) * d
        windows.append(AxisWindow(extent=floordiv(span, s), stride=to_fraction(1, s),
                                  start=ceildiv(before - span, s)))
    return tuple(windows)


@formula(("conv", "conv_transpose"), "params")
def conv_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """Weight (C_out · C_in/groups · kernel, or C_in · C_out/groups · kernel) + bias."""
    return operand_elements(inputs, (1, 2))


formula(("conv", "conv_transpose"), "bytes")(traffic_bytes)
convention("conv", "MACs = N·C_out·(output positions)·(C_in/groups)·(kernel taps), padded "
                   "taps included, × 4 real MACs for complex operands; bias add 1 "
                   "elementwise FLOP per output element")
convention("conv_transpose", "MACs = N·C_in·(input positions)·(C_out/groups)·(kernel taps), "
                             "counted from input positions, × 4 real MACs for complex "
                             "operands; bias add 1 elementwise FLOP per output element")
dim_names("conv", ("N C_in *", "C_out C_g *k", "C_out"), ("N C_out *'",))
dim_names("conv_transpose", ("N C_in *", "C_in C_og *k", "C_out"), ("N C_out *'",))
