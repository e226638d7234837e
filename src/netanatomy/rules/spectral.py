"""Fast Fourier transforms (``torch.fft.*``, aten ``_fft_r2c`` / ``_fft_c2c`` / ``_fft_c2r``).

Operand ``x``; attrs ``transform`` (``"r2c"``, ``"c2c"`` or ``"c2r"``), ``dims`` (the
transformed axes, non-negative, in torch's order), ``onesided`` (r2c: the last transformed
axis keeps N//2 + 1 frequencies) and ``last_dim_size`` (c2r: the real length of the last
transformed axis); ``normalization`` is kept for display.

Convention (FFTW's benchFFT, http://www.fftw.org/speed/method.html, whose "mflops" count a
radix-2 Cooley–Tukey transform: N/2·log2 N butterflies of one complex multiply, 6 real
FLOPs, and two complex adds, 4): a complex transform of length N costs 5·N·log2 N real
FLOPs, a real-input (r2c) or real-output (c2r) one half of that, 2.5·N·log2 N, N being
the real length. A multi-dimensional transform is one 1-D transform per axis over all
the other elements: Σ_axes (T / N_a)·5·N_a·log2 N_a = 5·T·log2 L, with T the elements of
the real-side (c2c: either) tensor and L the product of the transformed lengths. The count
is rounded up to a whole number (log2 N is irrational unless N is a power of two; with
symbols the result is ``ceiling(5·T·log(L, 2))``), counted as elementwise FLOPs; 0 MACs.
The normalisation scale (``norm="ortho"`` / ``"forward"``) is not counted, as in FFTW's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim, floordiv, is_concrete, prod

FLOPS_PER_N_LOG2_N: dict[str, Fraction] = {"c2c": Fraction(5), "r2c": Fraction(5, 2),
                                           "c2r": Fraction(5, 2)}
"""Real FLOPs per N·log2 N of one transform (FFTW's convention, see the module docstring)."""


def times_log2(coefficient: Any, n: Dim) -> Dim:
    """⌈coefficient · log2 n⌉ (0 for n ≤ 1).

    Exact for ints and Fractions: for n a power of two log2 n is whole; otherwise it is
    irrational, the float product is never whole and is rounded up. With a symbol
    anywhere: ``sympy.ceiling(coefficient · log(n, 2))``, which substituted gives the same.
    """
    if is_concrete(n) and isinstance(coefficient, (int, Fraction)):
        if n <= 1:
            return 0
        if n & (n - 1) == 0:
            return math.ceil(coefficient * (n.bit_length() - 1))
        return math.ceil(coefficient * math.log2(n))
    import sympy

    return sympy.ceiling(sympy.sympify(coefficient) * sympy.log(n, 2))


def real_side_shape(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                    attrs: Mapping[str, Any]) -> Shape:
    """The shape whose transformed lengths are the N of the convention: the input for r2c
    and c2c, the output for c2r."""
    return outputs[0] if attrs["transform"] == "c2r" else inputs[0]


@formula("fft", "output_shapes")
def fft_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape]:
    """x's shape; r2c one-sided: the last transformed axis N → N//2 + 1; c2r: it becomes
    ``last_dim_size``."""
    shape = list(inputs[0])
    last = attrs["dims"][-1]
    if attrs["transform"] == "r2c" and attrs.get("onesided", True):
        shape[last] = floordiv(shape[last], 2) + 1
    elif attrs["transform"] == "c2r":
        shape[last] = attrs["last_dim_size"]
    return (tuple(shape),)


@formula("fft", "macs")
def fft_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
             attrs: Mapping[str, Any]) -> Dim:
    """The butterflies' fixed twiddle factors are counted as elementwise FLOPs, not MACs."""
    return 0


@formula("fft", "elementwise_flops")
def fft_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                          attrs: Mapping[str, Any]) -> Dim:
    """⌈c · T · log2 L⌉: c = 5 (c2c) or 5/2 (r2c, c2r), T the real-side elements, L the
    product of the transformed lengths."""
    shape = real_side_shape(inputs, outputs, attrs)
    length = prod(shape[d] for d in attrs["dims"])
    return times_log2(FLOPS_PER_N_LOG2_N[attrs["transform"]] * prod(shape), length)


@formula("fft", "rf")
def fft_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
           attrs: Mapping[str, Any]) -> Mixes:
    """Every frequency combines every position of the transformed axes."""
    return Mixes(((0, tuple(attrs["dims"])),))


formula("fft", "params")(no_params)
formula("fft", "bytes")(traffic_bytes)
convention("fft", "5·N·log2 N real FLOPs per complex transform of length N, 2.5·N·log2 N "
                  "for real input or output (FFTW), per axis over the other elements, "
                  "rounded up; elementwise FLOPs, no MACs")
