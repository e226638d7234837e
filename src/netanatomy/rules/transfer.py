"""What an op does to input positions: the vocabulary of receptive-field transfers.

An ``rf`` formula returns one of these; :mod:`netanatomy.analysis.receptive_field` composes
them along the graph (Araujo, Norris and Sim, Distill 2019). The vocabulary is small on
purpose, so that every kind states its transfer explicitly and an op the analysis cannot
follow is reported as unknown, by name:

- a tuple of :class:`AxisWindow`: a window per trailing spatial axis (conv, pool, pad, ...);
- :data:`POINTWISE`: positions unchanged; operands broadcast and their fields merge;
- :data:`GLOBAL`: every output position sees every input position;
- :class:`Mixes`: the listed axes of the listed operands are mixed (global when one of
  them carries positions), the other axes pass (matmul, reduction, softmax, attention);
- :class:`Relayout`: data moves without arithmetic (permute, slice, reshape, copy); axes
  are followed by permutation, slice or element strides;
- :class:`AlongAxis`: one window along a named tensor axis (a scan), wherever that axis is;
- :class:`Regrid`: windows over a regrouped view of the operand, whose window grid is stored
  flattened (im2col / col2im);
- :data:`NO_FIELD`: the output is not made of input positions (new tensors, lookups);
- :data:`UNKNOWN`: the rule cannot say; the op is listed in ``unknown_ops``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from netanatomy.symbolic import Dim

GLOBAL = "global"
"""Every output position sees the whole input."""

POINTWISE = "pointwise"
"""Output position o reads input position o of every operand (after broadcasting)."""

NO_FIELD = "no_field"
"""The output is not derived from input positions (a new tensor, a table lookup)."""

UNKNOWN = "unknown"
"""The transfer is not known: the field stops and the op is reported by name."""


@dataclass(frozen=True, slots=True)
class AxisWindow:
    """The input window of output position ``o`` along one spatial axis, in input indices.

    Output ``o`` reads input positions from ``o·stride + start`` to ``o·stride + start +
    extent``. ``extent`` = (kernel − 1)·dilation for a conv or pool; ``start`` = −padding.
    For upsampling and transposed convs ``stride`` is a fraction (1/scale) and ``extent``
    the largest input distance any output spans. Values are ints, Fractions or symbols.
    """

    extent: Dim
    stride: Dim
    start: Dim


@dataclass(frozen=True, slots=True)
class Mixes:
    """Axes mixed by the op: ``operands`` pairs an operand index with the axes (negative
    counts from the end; ``None`` for all) that every output position combines.

    When no mixed axis carries positions, ``rest`` says what happens to the others:
    ``"pass"`` (axes stay where they are, aligned on the output's rank) or ``"reshape"``
    (the mixed axes disappear, the others are followed through the shape change).
    """

    operands: tuple[tuple[int, tuple[int, ...] | None], ...]
    rest: str = "pass"


@dataclass(frozen=True, slots=True)
class Relayout:
    """Data movement: ``permutation`` (output axis i is input axis p[i]), or ``slice``
    ``(dim, start, step)``, or neither (axes followed by their element strides)."""

    permutation: tuple[int, ...] | None = None
    slice: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class AlongAxis:
    """One ``window`` along tensor axis ``dim`` of operand 0 (negative counts from the end),
    found by the axis it lives in rather than as a trailing spatial axis, so that it holds
    in any layout; the other axes pass. Nothing changes when ``dim`` carries no positions
    (a scan along channels)."""

    dim: int
    window: AxisWindow


@dataclass(frozen=True, slots=True)
class Regrid:
    """``windows`` (one per trailing spatial axis) over a regrouped view: operand 0 is read
    row-major as shape ``before`` (None: its own shape), the windows slide over its
    trailing axes, and their result, of shape ``after`` (None: the output's), is stored
    row-major as the output. im2col's window grid is stored flattened into one axis
    (``after`` = the grid, the output its flattening); col2im reads a flattened grid
    (``before`` = the grid)."""

    windows: tuple[AxisWindow, ...]
    before: tuple[Dim, ...] | None = None
    after: tuple[Dim, ...] | None = None


Transfer = Union[tuple[AxisWindow, ...], str, Mixes, Relayout, AlongAxis, Regrid]
"""What an ``rf`` formula returns."""


def is_windows(transfer: Any) -> bool:
    """True for a tuple of :class:`AxisWindow`."""
    return isinstance(transfer, tuple) and all(isinstance(w, AxisWindow) for w in transfer)
