"""Formulas shared by many kinds: memory traffic and "no weights".

Convention for ``bytes``: an op that runs alone reads each operand once and writes each
output once (the traffic of an unfused kernel, as a roofline model takes it); ops that
alias their input (views) move nothing. Rules whose kernels read less (a lookup reads only
the rows it gathers) register their own formula.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.ir.graph import Shape
from netanatomy.symbolic import Dim, prod

ItemSizes = tuple[tuple[int, ...], tuple[int, ...]]
"""Bytes per element of each operand, then of each output."""


def traffic_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                  attrs: Mapping[str, Any], itemsizes: ItemSizes) -> Dim:
    """Σ operand elements × itemsize + Σ output elements × itemsize."""
    read = sum((prod(shape) * size for shape, size in zip(inputs, itemsizes[0])), 0)
    written = sum((prod(shape) * size for shape, size in zip(outputs, itemsizes[1])), 0)
    return read + written


def no_bytes(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
             attrs: Mapping[str, Any], itemsizes: ItemSizes) -> Dim:
    """A view aliases its input: nothing is read or written."""
    return 0


def no_params(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Dim:
    """The kind has no weight operands."""
    return 0


def operand_elements(inputs: tuple[Shape, ...], positions: range | tuple[int, ...]) -> Dim:
    """Elements of the operands at ``positions`` that are present."""
    return sum((prod(inputs[i]) for i in positions if i < len(inputs)), 0)


REAL_MACS_PER_COMPLEX_MAC = 4
"""(a + ib)·(c + id) = (ac − bd) + i(ad + bc): 4 real multiplies and, with the accumulation,
4 real adds — 4 real MACs, the count BLAS uses for complex GEMM (cgemm/zgemm: 8·M·N·K FLOPs,
LAPACK Working Note 41)."""


def complex_factor(attrs: Mapping[str, Any]) -> int:
    """Real MACs per MAC of a product: 4 when the node multiplies complex operands (the
    front-end sets ``attrs["complex"]``), else 1."""
    return REAL_MACS_PER_COMPLEX_MAC if attrs.get("complex") else 1
