"""Selection: sort, argsort, top-k, k-th value, median, mode and min-max along one axis.

Operand ``x``; attrs ``fn`` (``"sort"``, ``"argsort"``, ``"topk"``, ``"kthvalue"``,
``"median"``, ``"nanmedian"``, ``"mode"``, ``"aminmax"``), ``dim`` (the axis; ``None``:
all elements, flattened, for median / nanmedian / aminmax), ``keepdim``, and ``k`` for
topk. Outputs: sort → (values, indices) of x's shape; argsort → indices; topk →
(values, indices) with k along ``dim``; kthvalue, median, nanmedian, mode → (values,
indices) with ``dim`` reduced (only the value when ``dim`` is None); aminmax → (min, max).

Convention: comparisons count as elementwise FLOPs, no MACs. Per slice of n elements
along ``dim``: a comparison sort n·log2 n (the order of the log2 n! lower bound; also mode,
which sorts), top-k n + k·log2 k (one selection pass, then the k winners sorted), k-th
value and median n (a linear-time selection; an expected quickselect does a small
multiple), aminmax 2 per element (a min and a max comparison). Totals are rounded up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netanatomy.errors import RuleError
from netanatomy.ir.graph import Shape
from netanatomy.rules.common import no_params, traffic_bytes
from netanatomy.rules.registry import convention, formula
from netanatomy.rules.spectral import times_log2
from netanatomy.rules.transfer import Mixes
from netanatomy.symbolic import Dim, prod

SORTING = ("sort", "argsort", "mode")
"""Selections counted as a comparison sort of each slice."""

SELECTING = ("kthvalue", "median", "nanmedian")
"""Selections counted as one linear pass over each slice."""

SAME_RANK = ("sort", "argsort", "topk")
"""Selections whose outputs keep ``dim``."""

FUNCTIONS = (*SORTING, *SELECTING, "topk", "aminmax")


def checked_fn(attrs: Mapping[str, Any]) -> str:
    """``attrs["fn"]``, refused when the rule does not know it (never guessed)."""
    fn = attrs.get("fn")
    if fn not in FUNCTIONS:
        raise RuleError(f"the sort rule does not know fn={fn!r}; expected one of "
                        f"{', '.join(FUNCTIONS)}")
    return str(fn)


def reduced_shape(x_shape: Shape, dim: int | None, keepdim: bool) -> Shape:
    """x's shape with ``dim`` (all axes when None) removed, or set to 1 with keepdim."""
    axes = set(range(len(x_shape))) if dim is None else {dim % len(x_shape)}
    if keepdim:
        return tuple(1 if axis in axes else size for axis, size in enumerate(x_shape))
    return tuple(size for axis, size in enumerate(x_shape) if axis not in axes)


def slice_length(x_shape: Shape, dim: int | None) -> Dim:
    """n: elements along ``dim`` (all elements when None; 1 for a 0-d tensor)."""
    if dim is None or not x_shape:
        return prod(x_shape)
    return x_shape[dim % len(x_shape)]


@formula("sort", "output_shapes")
def sort_output_shapes(inputs: tuple[Shape, ...], attrs: Mapping[str, Any]) -> tuple[Shape, ...]:
    x_shape, fn, dim = tuple(inputs[0]), checked_fn(attrs), attrs.get("dim")
    if fn == "argsort":
        return (x_shape,)
    if fn == "sort":
        return (x_shape, x_shape)
    if fn == "topk":
        axis = int(attrs["dim"]) % len(x_shape) if x_shape else 0
        kept = (*x_shape[:axis], attrs["k"], *x_shape[axis + 1:]) if x_shape else ()
        return (kept, kept)
    reduced = reduced_shape(x_shape, dim, attrs.get("keepdim", False))
    if dim is None and fn in ("median", "nanmedian"):
        return (reduced,)
    return (reduced, reduced)


@formula("sort", "macs")
def sort_macs(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
              attrs: Mapping[str, Any]) -> Dim:
    """Comparisons are no multiply-accumulates."""
    return 0


@formula("sort", "elementwise_flops")
def sort_elementwise_flops(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
                           attrs: Mapping[str, Any]) -> Dim:
    """Comparisons, with T = elements of x, n = slice length, B = T / n slices:
    sort ⌈T·log2 n⌉; topk T + ⌈B·k·log2 k⌉; kthvalue / median T; aminmax 2·T."""
    x_shape, fn = inputs[0], checked_fn(attrs)
    total = prod(x_shape)
    n = slice_length(x_shape, attrs.get("dim"))
    if fn in SORTING:
        return times_log2(total, n)
    if fn == "topk":
        k = attrs["k"]
        slices = prod(size for axis, size in enumerate(x_shape)
                      if axis != attrs["dim"] % len(x_shape)) if x_shape else 1
        return total + times_log2(slices * k, k)
    if fn in SELECTING:
        return total
    return 2 * total                                             # aminmax


@formula("sort", "rf")
def sort_rf(inputs: tuple[Shape, ...], outputs: tuple[Shape, ...],
            attrs: Mapping[str, Any]) -> Mixes:
    """The selection axis mixes (all axes when ``dim`` is None); the others pass, or are
    followed through the reduction."""
    dim = attrs.get("dim")
    rest = "pass" if checked_fn(attrs) in SAME_RANK else "reshape"
    return Mixes(((0, None if dim is None else (dim,)),), rest=rest)


formula("sort", "params")(no_params)
formula("sort", "bytes")(traffic_bytes)
convention("sort", "comparisons as elementwise FLOPs: sort n·log2 n per slice, topk "
                   "n + k·log2 k, kthvalue/median n, aminmax 2 per element; no MACs")
