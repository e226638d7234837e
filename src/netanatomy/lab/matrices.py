"""Operators as matrices: convolution (1-D/2-D, stride, padding, dilation, channels) as
its Toeplitz-like matrix A, transposed convolution as Aᵀ, average and max pooling, and the
dilated kernel as a Kronecker product with a selector, each checked against torch's op.

Vectorisation is row-major, like ``x.flatten()``: channels first, then rows, then columns,
so ``y = A·vec(x)`` with ``vec(x) = (x_11, x_12, …, x_HW)``. Entries are sympy objects:
symbols ``w_11 …`` (``w_o,c,i,j`` with several channels) or exact numbers.

>>> op = conv(2, (3, 3), (2, 2))
>>> op.shape, op.matrix[0, :5].tolist()[0]
((4, 9), [w_11, w_12, 0, w_21, w_22])

Building is pure Python and sympy; the torch check (:func:`check`) runs the real op on a
float64 random input (and random weights for the symbols) and stores max |A·vec(x) −
op(x)|. Torch is imported only inside the check.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sympy

from netanatomy.errors import UsageError

MAX_ENTRIES = 65_536
"""The largest matrix built (rows × columns, e.g. 256 × 256): sympy holds every entry and
a person could not read more."""

CONVENTION = ("vec is row-major, like x.flatten(): channel, then row, then column "
              "(vec(x) = x_11, x_12, …)")

Index = tuple[int, ...]
Sizes = int | Sequence[int]

KINDS: dict[str, str] = {
    "conv1d": "1-D convolution (cross-correlation, like torch) as y = A·vec(x)",
    "conv2d": "2-D convolution as y = A·vec(x), a block matrix over channels",
    "conv-transpose1d": "1-D transposed convolution as z = Aᵀ·vec(y)",
    "conv-transpose2d": "2-D transposed convolution as z = Aᵀ·vec(y)",
    "avg-pool1d": "1-D average pooling as y = P·vec(x)",
    "avg-pool2d": "2-D average pooling as y = P·vec(x) (entries 1/r²)",
    "max-pool1d": "1-D max pooling: the 0/1 switch matrix S of one input",
    "max-pool2d": "2-D max pooling: the 0/1 switch matrix S of one input",
    "dilated": "the dilated kernel: K ⊗ selector (a₁₁ = 1), last D−1 rows/columns cropped",
}
"""Kind → what its matrix is (``netanatomy matrix KIND``)."""


@dataclass(frozen=True)
class MatrixStep:
    """A matrix shown on the way (the kernel K, the selector S, K ⊗ S, a max-pool input)."""

    name: str
    matrix: Any
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]


@dataclass(frozen=True)
class OperatorMatrix:
    """An operator as a matrix, with what its rows and columns are and how it was checked.

    ``matrix``: a sympy ``ImmutableMatrix`` (symbols or exact numbers); ``row_labels`` /
    ``column_labels``: the output / input position of each row / column (``y_11``,
    ``x_12`` …); shapes are (channels, *spatial) (the dilated kernel: its own shape);
    ``formula``: the output-size formula with the values put in; ``check_error``: max
    |matrix·vec(input) − torch op(input)| on a float64 random input; ``torch_shape``:
    the op's output shape (batch dropped);
    ``row_blocks`` / ``column_blocks``: sizes of the channel blocks.
    """

    kind: str
    title: str
    symbol: str
    relation: str
    matrix: Any
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    formula: tuple[str, ...]
    convention: str = CONVENTION
    symbolic: bool = False
    notes: tuple[str, ...] = ()
    steps: tuple[MatrixStep, ...] = ()
    row_blocks: tuple[int, ...] = ()
    column_blocks: tuple[int, ...] = ()
    check_error: float | None = None
    torch_shape: tuple[int, ...] | None = None
    numeric_weights: Mapping[Any, float] = field(default_factory=dict, repr=False)
    weights: Any = field(default=None, repr=False)
    """The weight tensor's entries by index (o, c, *k) (sympy), for the check."""
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.matrix.rows, self.matrix.cols)

    @property
    def nonzeros(self) -> int:
        """Entries that are not identically 0."""
        return sum(1 for entry in self.matrix if entry != 0)

    @property
    def check_passed(self) -> bool:
        """The torch check ran, the shapes agree and the error is float64 rounding
        (≤ 1e-9 · (1 + the largest entry·input product sum); see :func:`check`)."""
        return (self.check_error is not None and self.check_error <= self.check_tolerance
                and self.torch_shape == self.output_shape)

    @property
    def check_tolerance(self) -> float:
        return float(self.parameters.get("tolerance", 1e-9))

    def entries(self) -> tuple[tuple[str, ...], ...]:
        """Every entry as text (``w_11``, ``1/4``, ``0``)."""
        return entry_texts(self.matrix)

    def latex_entries(self) -> list[list[str]]:
        return latex_entries(self.matrix)

    def numeric(self) -> Any:
        """The matrix as a float64 NumPy array.

        Raises:
            UsageError: the matrix has symbols (give numbers for the weights).
        """
        import numpy as np

        if self.matrix.free_symbols:
            names = ", ".join(sorted(str(s) for s in self.matrix.free_symbols)[:3])
            raise UsageError(f"the {self.kind} matrix is symbolic ({names}, …): give "
                             "--numbers or --weights for numbers")
        return np.array(self.matrix.tolist(), dtype=np.float64)


def entry_texts(matrix: Any) -> tuple[tuple[str, ...], ...]:
    """Every entry of a sympy matrix as text."""
    return tuple(tuple(str(matrix[i, j]) for j in range(matrix.cols))
                 for i in range(matrix.rows))


def latex_entries(matrix: Any) -> list[list[str]]:
    """Every entry of a sympy matrix as LaTeX (``w_{11}``, ``\\frac{1}{4}``)."""
    return [[sympy.latex(matrix[i, j]) for j in range(matrix.cols)]
            for i in range(matrix.rows)]


# ---------------------------------------------------------------- sizes and validation

def per_axis(name: str, value: Sizes, dims: int, least: int) -> Index:
    """``value`` as one int per axis (an int is used on every axis).

    Raises:
        UsageError: the wrong number of axes, or a value below ``least``.
    """
    values = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(values) != dims:
        raise UsageError(f"{name} {'x'.join(map(str, values))} has {len(values)} axes; this "
                         f"operator has {dims} (e.g. {name} {'x'.join(['3'] * dims)})")
    for item in values:
        if not isinstance(item, int) or isinstance(item, bool) or item < least:
            word = "positive" if least == 1 else f"at least {least}"
            raise UsageError(f"{name} must be {word} on every axis, got "
                             f"{'x'.join(map(str, values))}")
    return values


def conv_output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """⌊(n + 2p − d(k−1) − 1)/s⌋ + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def transpose_output_size(n: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """(n−1)s − 2p + d(k−1) + 1 + op."""
    return (n - 1) * s - 2 * p + d * (k - 1) + 1 + op


def check_fits(spatial: Index, kernel: Index, padding: Index, dilation: Index) -> None:
    for axis, (n, k, p, d) in enumerate(zip(spatial, kernel, padding, dilation, strict=True)):
        effective = d * (k - 1) + 1
        if effective > n + 2 * p:
            raise UsageError(f"the kernel (effective size {effective} = ({k}−1)·{d} + 1) is "
                             f"larger than the padded input {n} + 2·{p} = {n + 2 * p} on axis "
                             f"{axis + 1}: give a larger --input or more --padding")


def check_entries(rows: int, cols: int) -> None:
    if rows * cols > MAX_ENTRIES:
        raise UsageError(f"the matrix would be {rows}×{cols} = {rows * cols:,} entries, more "
                         f"than the {MAX_ENTRIES:,} shown; give a smaller --input or fewer "
                         "channels")


# ---------------------------------------------------------------- labels and weights

def name(letter: str, indices: Sequence[int]) -> str:
    """``x_12`` (1-based; indices joined with commas once one has two digits)."""
    joiner = "" if all(i < 10 for i in indices) else ","
    return f"{letter}_{joiner.join(str(i) for i in indices)}"


def grid_labels(letter: str, channels: int, spatial: Index) -> tuple[str, ...]:
    """Row-major labels of a (channels, *spatial) grid; the channel index only when
    there are several."""
    labels = []
    for c in range(channels):
        for position in itertools.product(*(range(n) for n in spatial)):
            indices = ([c + 1] if channels > 1 else []) + [i + 1 for i in position]
            labels.append(name(letter, indices))
    return tuple(labels)


def weight_indices(out_channels: int, in_channels: int, kernel: Index) -> list[Index]:
    """Indices (o, c, *k) of the weight tensor in row-major order."""
    return [(o, c, *k) for o in range(out_channels) for c in range(in_channels)
            for k in itertools.product(*(range(n) for n in kernel))]


def weight_entries(out_channels: int, in_channels: int, kernel: Index,
                   values: Sequence[Any] | None, symbolic: bool) -> dict[Index, Any]:
    """The weights by index: symbols ``w_…`` (channel indices only when there are several
    channels), the given numbers (row-major over (out, in, *kernel)), or 1, 2, 3 …

    Raises:
        UsageError: ``values`` with symbolic, or the wrong number of values.
    """
    indices = weight_indices(out_channels, in_channels, kernel)
    if values is not None and symbolic:
        raise UsageError("--weights gives numbers: leave out --symbolic")
    if symbolic:
        channels = out_channels > 1 or in_channels > 1
        return {index: sympy.Symbol(name("w", [i + 1 for i in (index if channels
                                                               else index[2:])]))
                for index in indices}
    if values is None:
        values = list(range(1, len(indices) + 1))
    if len(values) != len(indices):
        shape = "×".join(map(str, (out_channels, in_channels, *kernel)))
        raise UsageError(f"--weights has {len(values)} values; the {shape} weight tensor "
                         f"needs {len(indices)} (row-major: out channel, in channel, "
                         "kernel row, kernel column)")
    return {index: exact(value) for index, value in zip(indices, values, strict=True)}


def exact(value: Any) -> Any:
    """A number as an exact sympy number (``0.5`` → 1/2).

    Raises:
        UsageError: not a number.
    """
    try:
        number = sympy.Rational(str(value).strip())
    except (TypeError, ValueError, SyntaxError):
        raise UsageError(f"{value!r} is not a number (give e.g. 1, -2, 0.5 or 1/3)") from None
    return number


# ---------------------------------------------------------------- the matrices

def taps(spatial: Index, kernel: Index, stride: Index, padding: Index, dilation: Index
         ) -> Iterator[tuple[Index, Index, Index]]:
    """(output position, kernel position, input position) of every tap that lands inside
    the input (taps on padding multiply zeros and have no column)."""
    out = tuple(conv_output_size(*args) for args in zip(spatial, kernel, stride, padding,
                                                         dilation, strict=True))
    for position in itertools.product(*(range(n) for n in out)):
        for offset in itertools.product(*(range(k) for k in kernel)):
            source = tuple(q * s - p + o * d for q, o, s, p, d in
                           zip(position, offset, stride, padding, dilation, strict=True))
            if all(0 <= i < n for i, n in zip(source, spatial, strict=True)):
                yield position, offset, source


def flat(index: Sequence[int], shape: Sequence[int]) -> int:
    """Row-major position of ``index`` in an array of ``shape``."""
    position = 0
    for i, n in zip(index, shape, strict=True):
        position = position * n + i
    return position


def conv_rows(in_channels: int, out_channels: int, spatial: Index, kernel: Index,
              stride: Index, padding: Index, dilation: Index, weights: Mapping[Index, Any]
              ) -> tuple[Any, Index]:
    """The matrix of the convolution (torch's cross-correlation) and the output size."""
    out = tuple(conv_output_size(*args) for args in zip(spatial, kernel, stride, padding,
                                                         dilation, strict=True))
    rows, cols = out_channels * _size(out), in_channels * _size(spatial)
    check_entries(rows, cols)
    entries: dict[tuple[int, int], Any] = {}
    for position, offset, source in taps(spatial, kernel, stride, padding, dilation):
        for o in range(out_channels):
            for c in range(in_channels):
                key = (flat((o, *position), (out_channels, *out)),
                       flat((c, *source), (in_channels, *spatial)))
                entries[key] = entries.get(key, 0) + weights[(o, c, *offset)]
    return sympy.ImmutableSparseMatrix(rows, cols, entries).as_immutable(), out


def _size(shape: Sequence[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def conv_formula(axes: Sequence[str], spatial: Index, kernel: Index, stride: Index,
                 padding: Index, dilation: Index, out: Index) -> tuple[str, ...]:
    lines = []
    for names, (n, k, s, p, d, o) in _grouped(axes, spatial, kernel, stride, padding,
                                              dilation, out):
        lines.append(f"{' = '.join(a + chr(8242) for a in names)} = "
                     f"⌊({names[0]} + 2P − D(K−1) − 1)/S⌋ + 1 = "
                     f"⌊({n} + 2·{p} − {d}·({k}−1) − 1)/{s}⌋ + 1 = {o}")
    return tuple(lines)


def transpose_formula(axes: Sequence[str], spatial: Index, kernel: Index, stride: Index,
                      padding: Index, dilation: Index, output_padding: Index, out: Index
                      ) -> tuple[str, ...]:
    lines = []
    for names, (n, k, s, p, d, op, o) in _grouped(axes, spatial, kernel, stride, padding,
                                                  dilation, output_padding, out):
        axis = names[0]
        lines.append(f"{' = '.join(a + chr(8242) for a in names)} = "
                     f"({axis}−1)S − 2P + D(K−1) + 1 + OP = "
                     f"({n}−1)·{s} − 2·{p} + {d}·({k}−1) + 1 + {op} = {o}")
    if all(d == 1 for d in dilation):
        lines.append("with D = 1 this is the course's (H−1)S − 2P + K (+ output padding OP)")
    return tuple(lines)


def _grouped(axes: Sequence[str], *per_axis_values: Index
             ) -> list[tuple[list[str], tuple[int, ...]]]:
    """Axes whose values all agree share one formula line."""
    groups: list[tuple[list[str], tuple[int, ...]]] = []
    for axis, values in zip(axes, zip(*per_axis_values, strict=True), strict=True):
        for names, seen in groups:
            if seen == values:
                names.append(axis)
                break
        else:
            groups.append(([axis], values))
    return groups


def axes_of(dims: int) -> tuple[str, ...]:
    return ("N",) if dims == 1 else ("H", "W")


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def over(kernel: Index, spatial: Index, what: str = "kernel") -> str:
    """``2×2 kernel over a 3×3 input`` / ``3-tap kernel over 5 inputs``."""
    if len(kernel) == 1:
        width = "tap" if what == "kernel" else "wide"
        return f"{kernel[0]}-{width} {what} over {spatial[0]} inputs"
    return f"{shape_text(kernel)} {what} over a {shape_text(spatial)} input"


def compact(values: Sequence[int]) -> str:
    """One number when every axis agrees (``1``), else per axis (``1×2``)."""
    return str(values[0]) if len(set(values)) == 1 else shape_text(values)


def channel_text(in_channels: int, out_channels: int) -> str:
    return "" if in_channels == out_channels == 1 else (
        f"{in_channels} → {out_channels} channels, ")


def conv(dims: int, size: Sizes, kernel: Sizes, stride: Sizes = 1, padding: Sizes = 0,
         dilation: Sizes = 1, in_channels: int = 1, out_channels: int = 1,
         weights: Sequence[Any] | None = None, symbolic: bool | None = None, seed: int = 0,
         run_check: bool = True) -> OperatorMatrix:
    """The convolution (torch's ``conv1d``/``conv2d``, a cross-correlation, no bias) as
    the matrix A with ``y = A·vec(x)``: a block matrix with one Toeplitz-like block per
    (out channel, in channel).

    Raises:
        UsageError: sizes that are not positive, a kernel larger than the padded input,
        channels below 1, the wrong number of weights, or a matrix above
        :data:`MAX_ENTRIES`.
    """
    spatial, k, s, p, d = geometry(dims, size, kernel, stride, padding, dilation)
    channels(in_channels, out_channels)
    check_fits(spatial, k, p, d)
    symbolic = weights is None if symbolic is None else symbolic
    w = weight_entries(out_channels, in_channels, k, weights, symbolic)
    matrix, out = conv_rows(in_channels, out_channels, spatial, k, s, p, d, w)
    result = OperatorMatrix(
        kind=f"conv{dims}d", symbol="A", relation="y = A·vec(x)",
        title=(f"conv{dims}d: {over(k, spatial)} "
               f"({channel_text(in_channels, out_channels)}stride {compact(s)}, padding "
               f"{compact(p)}, dilation {compact(d)})"),
        matrix=matrix, input_shape=(in_channels, *spatial), output_shape=(out_channels, *out),
        row_labels=grid_labels("y", out_channels, out),
        column_labels=grid_labels("x", in_channels, spatial),
        formula=conv_formula(axes_of(dims), spatial, k, s, p, d, out), symbolic=symbolic,
        notes=(f"{matrix.rows}×{matrix.cols}: one row per output position, one column per "
               "input position; torch's conv is a cross-correlation (the kernel is not "
               "flipped)",) + ((f"{out_channels}×{in_channels} blocks, one per (out, in) "
                               "channel",) if in_channels * out_channels > 1 else ()),
        row_blocks=(_size(out),) * out_channels,
        column_blocks=(_size(spatial),) * in_channels,
        weights=w, parameters={"kernel": k, "stride": s, "padding": p, "dilation": d, "seed": seed})
    return check(result) if run_check else result


def conv_transpose(dims: int, size: Sizes, kernel: Sizes, stride: Sizes = 1,
                   padding: Sizes = 0, dilation: Sizes = 1, output_padding: Sizes = 0,
                   in_channels: int = 1, out_channels: int = 1,
                   weights: Sequence[Any] | None = None, symbolic: bool | None = None,
                   seed: int = 0, run_check: bool = True) -> OperatorMatrix:
    """The transposed convolution (torch's ``conv_transpose1d``/``2d``) of a ``size``
    input as Aᵀ, A the matrix of the convolution with the same kernel from the transposed
    conv's output size (H−1)S − 2P + D(K−1) + 1 + OP back to ``size``. Weights are indexed
    like torch's (in, out, *kernel).

    Raises:
        UsageError: as :func:`conv`, and an output padding not below the stride or the
        dilation (torch's rule).
    """
    spatial, k, s, p, d = geometry(dims, size, kernel, stride, padding, dilation)
    op = per_axis("--output-padding", output_padding, dims, 0)
    channels(in_channels, out_channels)
    for axis, (o, si, di) in enumerate(zip(op, s, d, strict=True)):
        if not (o < si or o < di):
            raise UsageError(f"--output-padding {o} on axis {axis + 1} must be smaller than "
                             f"the stride ({si}) or the dilation ({di})")
    out = tuple(transpose_output_size(*args) for args in zip(spatial, k, s, p, d, op,
                                                              strict=True))
    if any(n < 1 for n in out):
        raise UsageError(f"the output would be {shape_text(out)}: reduce --padding")
    symbolic = weights is None if symbolic is None else symbolic
    w = weight_entries(in_channels, out_channels, k, weights, symbolic)
    forward, back = conv_rows(out_channels, in_channels, out, k, s, p, d, w)
    if back != spatial:  # padding so large that no output reaches the input grid
        raise UsageError(f"the convolution matching this transposed one maps "
                         f"{shape_text(out)} to {shape_text(back)}, not {shape_text(spatial)}:"
                         " reduce --padding")
    result = OperatorMatrix(
        kind=f"conv-transpose{dims}d", symbol="Aᵀ", relation="z = Aᵀ·vec(y)",
        title=(f"conv-transpose{dims}d: {shape_text(k)} kernel, {shape_text(spatial)} input "
               f"→ {shape_text(out)} output ({channel_text(in_channels, out_channels)}"
               f"stride {compact(s)}, padding {compact(p)}, dilation {compact(d)}, "
               f"output padding {compact(op)})"),
        matrix=forward.T, input_shape=(in_channels, *spatial),
        output_shape=(out_channels, *out),
        row_labels=grid_labels("z", out_channels, out),
        column_labels=grid_labels("y", in_channels, spatial),
        formula=transpose_formula(axes_of(dims), spatial, k, s, p, d, op, out),
        symbolic=symbolic,
        notes=(f"Aᵀ is {forward.cols}×{forward.rows}: A ({forward.rows}×{forward.cols}) is "
               f"conv{dims}d with the same kernel from {shape_text(out)} to "
               f"{shape_text(spatial)}",),
        row_blocks=(_size(out),) * out_channels, column_blocks=(_size(spatial),) * in_channels,
        weights=w, parameters={"kernel": k, "stride": s, "padding": p, "dilation": d,
                               "output_padding": op, "seed": seed})
    return check(result) if run_check else result


def geometry(dims: int, size: Sizes, kernel: Sizes, stride: Sizes, padding: Sizes,
             dilation: Sizes) -> tuple[Index, Index, Index, Index, Index]:
    if dims not in (1, 2):
        raise UsageError(f"operators are 1-D or 2-D here, not {dims}-D")
    return (per_axis("--input", size, dims, 1), per_axis("--kernel", kernel, dims, 1),
            per_axis("--stride", stride, dims, 1), per_axis("--padding", padding, dims, 0),
            per_axis("--dilation", dilation, dims, 1))


def channels(in_channels: int, out_channels: int) -> None:
    for flag, value in (("--in-channels", in_channels), ("--out-channels", out_channels)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")


def pool_geometry(dims: int, size: Sizes, kernel: Sizes, stride: Sizes | None,
                  padding: Sizes, dilation: Sizes) -> tuple[Index, Index, Index, Index, Index]:
    spatial, k, s, p, d = geometry(dims, size, kernel, kernel if stride is None else stride,
                                   padding, dilation)
    for axis, (ki, pi, di) in enumerate(zip(k, p, d, strict=True)):
        if 2 * pi > di * (ki - 1) + 1:
            raise UsageError(f"--padding {pi} on axis {axis + 1} is more than half the "
                             f"window ({di * (ki - 1) + 1}); torch refuses it")
    check_fits(spatial, k, p, d)
    return spatial, k, s, p, d


def avg_pool(dims: int, size: Sizes, kernel: Sizes, stride: Sizes | None = None,
             padding: Sizes = 0, in_channels: int = 1, seed: int = 0,
             run_check: bool = True) -> OperatorMatrix:
    """Average pooling (torch's ``avg_pool1d``/``2d``, ``count_include_pad=True``) as P
    with ``y = P·vec(x)``: each row holds 1/r (1-D) or 1/r² (r×r window) on the window's
    positions inside the input. ``stride`` defaults to the window."""
    spatial, k, s, p, d = pool_geometry(dims, size, kernel, stride, padding, 1)
    channels(in_channels, 1)
    share = sympy.Rational(1, _size(k))
    w = {(c, c2, *offset): (share if c == c2 else sympy.Integer(0))
         for c in range(in_channels) for c2 in range(in_channels)
         for offset in itertools.product(*(range(n) for n in k))}
    matrix, out = conv_rows(in_channels, in_channels, spatial, k, s, p, d, w)
    result = OperatorMatrix(
        kind=f"avg-pool{dims}d", symbol="P", relation="y = P·vec(x)",
        title=(f"avg-pool{dims}d: {over(k, spatial, 'window')} "
               f"({channel_text(in_channels, in_channels)}stride {compact(s)}, padding "
               f"{compact(p)})"),
        matrix=matrix, input_shape=(in_channels, *spatial), output_shape=(in_channels, *out),
        row_labels=grid_labels("y", in_channels, out),
        column_labels=grid_labels("x", in_channels, spatial),
        formula=conv_formula(axes_of(dims), spatial, k, s, p, d, out),
        notes=(f"every entry of a window is 1/{_size(k)} = 1/(window size) (torch divides "
               "by the whole window, padding included)",)
        + (("channels are pooled apart: P is block diagonal",) if in_channels > 1 else ()),
        row_blocks=(_size(out),) * in_channels, column_blocks=(_size(spatial),) * in_channels,
        weights=w, parameters={"kernel": k, "stride": s, "padding": p, "dilation": d, "seed": seed})
    return check(result) if run_check else result


def max_pool(dims: int, size: Sizes, kernel: Sizes, stride: Sizes | None = None,
             padding: Sizes = 0, dilation: Sizes = 1, in_channels: int = 1,
             values: Sequence[Any] | None = None, seed: int = 0, run_check: bool = True
             ) -> OperatorMatrix:
    """Max pooling of one input as its switch matrix S (``y = S·vec(x)``): row r has a
    single 1 at the window's maximum (the first in row-major order on ties). The input is
    ``values`` (row-major) or a seeded shuffle of 1 … (distinct, so no ties); it is shown
    as a step.

    Raises:
        UsageError: as :func:`avg_pool`, or the wrong number of values.
    """
    spatial, k, s, p, d = pool_geometry(dims, size, kernel, stride, padding, dilation)
    channels(in_channels, 1)
    count = in_channels * _size(spatial)
    if values is None:
        numbers = list(range(1, count + 1))
        random.Random(seed).shuffle(numbers)
        x = [sympy.Integer(v) for v in numbers]
    elif len(values) != count:
        raise UsageError(f"--values has {len(values)} numbers; the {in_channels}×"
                         f"{shape_text(spatial)} input needs {count} (row-major)")
    else:
        x = [exact(v) for v in values]
    out = tuple(conv_output_size(*args) for args in zip(spatial, k, s, p, d, strict=True))
    rows = in_channels * _size(out)
    check_entries(rows, count)
    best: dict[int, tuple[Any, int]] = {}
    for position, _, source in taps(spatial, k, s, p, d):
        for c in range(in_channels):
            row = flat((c, *position), (in_channels, *out))
            col = flat((c, *source), (in_channels, *spatial))
            if row not in best or x[col] > best[row][0]:
                best[row] = (x[col], col)
    matrix = sympy.ImmutableSparseMatrix(rows, count, {(r, col): 1 for r, (_, col)
                                                       in best.items()}).as_immutable()
    grid = sympy.ImmutableMatrix(in_channels * (spatial[0] if dims == 2 else 1),
                                 spatial[-1], x)
    input_rows = (tuple(name("c" if in_channels > 1 else "r",
                             ([c + 1] if in_channels > 1 else []) + [i + 1])
                        for c in range(in_channels) for i in range(spatial[0]))
                  if dims == 2 else tuple(f"c{c + 1}" if in_channels > 1 else "x"
                                          for c in range(in_channels)))
    input_cols = tuple(str(j + 1) for j in range(spatial[-1]))
    result = OperatorMatrix(
        kind=f"max-pool{dims}d", symbol="S", relation="y = S·vec(x)",
        title=(f"max-pool{dims}d: {over(k, spatial, 'window')} "
               f"({channel_text(in_channels, in_channels)}stride {compact(s)}, padding "
               f"{compact(p)}, dilation {compact(d)})"),
        matrix=matrix, input_shape=(in_channels, *spatial), output_shape=(in_channels, *out),
        row_labels=grid_labels("y", in_channels, out),
        column_labels=grid_labels("x", in_channels, spatial),
        formula=conv_formula(axes_of(dims), spatial, k, s, p, d, out),
        notes=("S depends on the input: the 1 of each row sits at its window's maximum (the "
               "'switch'); max-pool backward is Sᵀ·g",
               "input " + ("given" if values is not None else f"seeded (seed {seed}): a "
                           "shuffle of 1 … " + str(count) + ", so no ties")),
        steps=(MatrixStep("input x", grid, input_rows, input_cols),),
        row_blocks=(_size(out),) * in_channels, column_blocks=(_size(spatial),) * in_channels,
        parameters={"kernel": k, "stride": s, "padding": p, "dilation": d, "seed": seed,
                    "input": x})
    return check(result) if run_check else result


def selector(dims: int, dilation: int) -> Any:
    """The D×D selector (a₁₁ = 1, every other entry 0); 1×D for a 1-D kernel."""
    rows = dilation if dims == 2 else 1
    return sympy.ImmutableMatrix(rows, dilation, lambda i, j: int(i == 0 and j == 0))


def dilated_kernel(kernel: Sizes, dilation: int, size: Sizes | None = None,
                   weights: Sequence[Any] | None = None, symbolic: bool | None = None,
                   seed: int = 0, kronecker: bool = True, run_check: bool = True
                   ) -> OperatorMatrix:
    """The dilated kernel as ``crop(K ⊗ S)``: the Kronecker product of the kernel with the
    D×D selector S (a₁₁ = 1), its last D−1 rows and columns cropped, giving a kernel of
    size (K−1)D + 1 with D−1 zeros between taps. ``kernel`` is ``3`` (1-D) or ``3x3``;
    ``size``: the input the check convolves (default: the dilated size + 2 per axis);
    ``kronecker``: keep K, S and K ⊗ S as steps.

    Raises:
        UsageError: sizes that are not positive, or an input smaller than the kernel.
    """
    dims = 1 if isinstance(kernel, int) or len(kernel) == 1 else 2
    k = per_axis("--kernel", kernel, dims, 1)
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
        raise UsageError(f"--dilation must be one positive int for the Kronecker form, got "
                         f"{dilation}")
    effective = tuple((n - 1) * dilation + 1 for n in k)
    spatial = tuple(n + 2 for n in effective) if size is None else per_axis(
        "--input", size, dims, 1)
    check_fits(spatial, k, (0,) * dims, (dilation,) * dims)
    symbolic = weights is None if symbolic is None else symbolic
    w = weight_entries(1, 1, k, weights, symbolic)
    shape = (k[0], k[1]) if dims == 2 else (1, k[0])
    kernel_matrix = sympy.ImmutableMatrix(*shape, [w[i] for i in weight_indices(1, 1, k)])
    chooser = selector(dims, dilation)
    product = sympy.ImmutableMatrix(sympy.kronecker_product(kernel_matrix, chooser))
    cut = dilation - 1
    cropped = product[:product.rows - (cut if dims == 2 else 0), :product.cols - cut]
    labels = [tuple(str(i + 1) for i in range(n)) for n in (*product.shape,)]
    steps = (
        MatrixStep("K (kernel)", kernel_matrix, *[tuple(str(i + 1) for i in range(n))
                                                  for n in kernel_matrix.shape]),
        MatrixStep(f"S ({shape_text(chooser.shape)} selector, a₁₁ = 1)", chooser,
                   *[tuple(str(i + 1) for i in range(n)) for n in chooser.shape]),
        MatrixStep(f"K ⊗ S ({shape_text(product.shape)})", product, labels[0], labels[1]),
    ) if kronecker else ()
    crop_note = (f"crop: drop the last D−1 = {cut} row{'s' if cut != 1 else ''} and "
                 f"column{'s' if cut != 1 else ''} of K ⊗ S "
                 f"({shape_text(product.shape)} → {shape_text(cropped.shape)})"
                 if dims == 2 else f"crop: drop the last D−1 = {cut} columns of K ⊗ S")
    result = OperatorMatrix(
        kind="dilated", symbol="K_D", relation="K_D = crop(K ⊗ S)",
        title=f"dilated kernel: {shape_text(k)} kernel, dilation {dilation}",
        matrix=sympy.ImmutableMatrix(cropped), input_shape=k, output_shape=effective,
        row_labels=tuple(str(i + 1) for i in range(cropped.rows)),
        column_labels=tuple(str(i + 1) for i in range(cropped.cols)),
        formula=tuple(f"K{chr(8242)} = (K−1)D + 1 = ({n}−1)·{dilation} + 1 = {e}"
                      for n, e in sorted(set(zip(k, effective, strict=True)))),
        convention="the kernel is indexed like torch's weight[i, j] (rows, then columns)",
        symbolic=symbolic, notes=(crop_note, "checked: conv with dilation D equals conv with "
                                  f"K_D on a {shape_text(spatial)} input"),
        steps=steps, weights=w,
        parameters={"dilation": dilation, "input": spatial, "seed": seed})
    return check(result) if run_check else result


def build(kind: str, **options: Any) -> OperatorMatrix:
    """The operator matrix of ``kind`` (a key of :data:`KINDS`) from the keyword options
    of its builder.

    Raises:
        UsageError: an unknown kind (close names suggested), or bad options.
    """
    if kind not in KINDS:
        import difflib

        close = difflib.get_close_matches(kind, list(KINDS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no operator {kind!r}{hint} (kinds: {', '.join(KINDS)})")
    if kind == "dilated":
        return dilated_kernel(**options)
    dims = int(kind[-2])
    builders = {"conv": conv, "conv-transpose": conv_transpose, "avg-pool": avg_pool,
                "max-pool": max_pool}
    return builders[kind[:-2]](dims, **options)  # type: ignore[operator]


# ---------------------------------------------------------------- the torch check

def check(result: OperatorMatrix) -> OperatorMatrix:
    """``result`` with its torch check: max |matrix·vec(input) − op(input)| on a float64
    random input (seeded by ``parameters["seed"]``; random normal weights for symbols) and
    the op's output shape. The dilated kernel is checked as a kernel: max |conv(x, K,
    dilation=D) − conv(x, K_D)|.

    The tolerance stored is float64 rounding: 1e-12 times the largest |term| of a sum
    times the number of terms (each product rounds to 2⁻⁵³ ≈ 1.1e-16 relative)."""
    import numpy as np
    import torch

    generator = torch.Generator().manual_seed(int(result.parameters.get("seed", 0)))
    if result.kind == "dilated":
        measured, expected, numbers, scale = dilated_pair(result, generator)
    else:
        reference, vector, numbers = run_op(result, generator)
        matrix = result.matrix.xreplace(numbers) if numbers else result.matrix
        dense = np.array(matrix.tolist(), dtype=np.float64)
        measured, expected = dense @ vector.numpy().reshape(-1), reference.numpy()
        terms = max(1, int((dense != 0).sum(axis=1).max(initial=0)))
        scale = float(np.abs(dense).max(initial=0.0)) * float(vector.abs().max()) * terms
    shape = tuple(expected.shape)
    if result.kind == "dilated":  # torch's dilated conv shrinks each axis by K' − 1
        shape = tuple(n - m + 1 for n, m in zip(result.parameters["input"], shape,
                                                  strict=True))
    same = measured.size == expected.size
    error = float(np.abs(measured.reshape(-1) - expected.reshape(-1)).max(initial=0.0)
                  ) if same else float("inf")
    parameters = dict(result.parameters, tolerance=1e-12 * (1.0 + scale))
    return replace(result, check_error=error, torch_shape=shape,
                   numeric_weights=numbers, parameters=parameters)


def weight_tensor(result: OperatorMatrix, shape: Sequence[int], generator: Any
                  ) -> tuple[Any, dict[Any, float]]:
    """The weight tensor (float64) of ``result``'s weights and the values given to its
    symbols (random normal, drawn in row-major weight order)."""
    import torch

    assert result.weights is not None
    tensor = torch.empty(tuple(shape), dtype=torch.float64)
    numbers: dict[Any, float] = {}
    for index, entry in result.weights.items():
        if isinstance(entry, sympy.Symbol):
            numbers.setdefault(entry, float(torch.randn((), generator=generator,
                                                        dtype=torch.float64)))
            tensor[index] = numbers[entry]
        else:
            tensor[index] = float(entry)
    return tensor, numbers


def run_op(result: OperatorMatrix, generator: Any) -> tuple[Any, Any, dict[Any, float]]:
    """(torch's output without the batch axis, the input it ran on, symbol values)."""
    import torch
    import torch.nn.functional as functional

    kind, p = result.kind, result.parameters
    two = len(result.input_shape) == 3
    x = torch.randn((1, *result.input_shape), generator=generator, dtype=torch.float64)
    common = {"stride": p["stride"], "padding": p["padding"]}
    numbers: dict[Any, float] = {}
    if kind.startswith("conv-transpose"):
        w, numbers = weight_tensor(result, (result.input_shape[0], result.output_shape[0],
                                            *p["kernel"]), generator)
        backward: Any = functional.conv_transpose2d if two else functional.conv_transpose1d
        out = backward(x, w, output_padding=p["output_padding"], dilation=p["dilation"], **common)
    elif kind.startswith("conv"):
        w, numbers = weight_tensor(result, (result.output_shape[0], result.input_shape[0],
                                            *p["kernel"]), generator)
        forward: Any = functional.conv2d if two else functional.conv1d
        out = forward(x, w, dilation=p["dilation"], **common)
    elif kind.startswith("avg-pool"):
        average = functional.avg_pool2d if two else functional.avg_pool1d
        out = average(x, p["kernel"], count_include_pad=True, **common)
    else:
        x = torch.tensor([float(v) for v in p["input"]], dtype=torch.float64).reshape(
            (1, *result.input_shape))
        maximum = functional.max_pool2d if two else functional.max_pool1d
        out = maximum(x, p["kernel"], dilation=p["dilation"], **common)
    return out[0], x[0], numbers


def dilated_pair(result: OperatorMatrix, generator: Any
                 ) -> tuple[Any, Any, dict[Any, float], float]:
    """(conv with the expanded kernel K_D, conv with K and dilation D, symbol values,
    the largest |term| times the number of terms) on a random input."""
    import torch
    import torch.nn.functional as functional

    p = result.parameters
    two = len(result.input_shape) == 2
    x = torch.randn((1, 1, *p["input"]), generator=generator, dtype=torch.float64)
    w, numbers = weight_tensor(result, (1, 1, *result.input_shape), generator)
    expanded = result.matrix.xreplace(numbers) if numbers else result.matrix
    kernel = torch.tensor([float(v) for v in expanded], dtype=torch.float64).reshape(
        (1, 1, *result.output_shape))
    conv = functional.conv2d if two else functional.conv1d
    dilated = conv(x, w, dilation=p["dilation"])[0, 0]
    plain = conv(x, kernel)[0, 0]
    scale = float(w.abs().max()) * float(x.abs().max()) * w.numel()
    return plain.numpy(), dilated.numpy(), numbers, scale


def with_weights(result: OperatorMatrix, tensor: Any) -> Any:
    """``result``'s matrix as a float64 NumPy array, its weight symbols replaced by the
    entries of ``tensor`` (indexed like ``result.weights``: (o, c, *kernel))."""
    import numpy as np

    assert result.weights is not None
    values = {entry: float(tensor[index]) for index, entry in result.weights.items()
              if isinstance(entry, sympy.Symbol)}
    return np.array(result.matrix.xreplace(values).tolist(), dtype=np.float64)
