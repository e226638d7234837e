"""Convolution as a matrix: y = A·vec(x) (2-D, and the banded Toeplitz matrix of 1-D),
and the transposed convolution as Aᵀ, each checked against torch's own op."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as functional

from netanatomy.errors import UsageError
from netanatomy.lab import matrices
from netanatomy.lab.base import Outcome, at_most, close, equal, experiment
from netanatomy.lab.figures import MEASURED, THEORY, new_figure
from netanatomy.lab.matrix_figures import draw_grid, draw_pattern

ORDERS = ("row-major", "column-major")


def vec(x: torch.Tensor, order: str) -> np.ndarray:
    """vec of a (…, H, W) tensor: row-major (``x.flatten()``) or column-major."""
    if order not in ORDERS:
        raise UsageError(f"order={order!r}: give row-major or column-major")
    return (x if order == "row-major" else x.transpose(-1, -2)).reshape(-1).numpy()


def rounding(matrix: np.ndarray, vector: np.ndarray) -> float:
    """float64 rounding bound of matrix·vector: 1e-15 per unit of the largest |term| of a
    row sum times the number of terms (each product and sum rounds to 2⁻⁵³ ≈ 1.1e-16;
    1e-15 leaves a factor 9 for the order torch sums in)."""
    terms = max(1, int((matrix != 0).sum(axis=1).max(initial=0)))
    return 1e-15 * terms * float(np.abs(matrix).max(initial=0)) * float(np.abs(vector).max())


def netanatomy_macs(module: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """MACs of ``module`` on an input of ``shape`` by netanatomy's own analysis."""
    import netanatomy

    macs = netanatomy.analyze(module, shape).totals.macs
    assert isinstance(macs, int), macs      # a plain conv on a concrete shape is counted
    return macs


@experiment("conv-as-matrix", topic="matrices",
            title="A convolution is a matrix: y = A·vec(x)",
            claim="A 2-D convolution is multiplication by a sparse matrix A with one row per "
                  "output position and one column per input position (row-major vec); its "
                  "nonzeros are the MACs: output positions × K².",
            setting="a 2×2 kernel over a 3×3 input: A is 4×9 with 16 nonzeros")
def conv_as_matrix(size: int = 3, kernel: int = 2, stride: int = 1, padding: int = 0,
                   order: str = "row-major", seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    op = matrices.conv(2, size, kernel, stride, padding, run_check=False)
    w = torch.randn((1, 1, kernel, kernel), generator=generator, dtype=torch.float64)
    x = torch.randn((1, 1, size, size), generator=generator, dtype=torch.float64)
    dense = matrices.with_weights(op, w)
    torch_y = functional.conv2d(x, w, stride=stride, padding=padding)
    vector = vec(x, order)
    error = float(np.abs(dense @ vector - torch_y.reshape(-1).numpy()).max())
    macs = netanatomy_macs(torch.nn.Conv2d(1, 1, kernel, stride, padding, bias=False),
                           (1, 1, size, size))
    mac_reason = "each nonzero of A is one multiply-accumulate"
    checks = [
        equal("shape of A", op.shape, (torch_y.numel(), x.numel()),
              reason="rows = torch's output positions, columns = input positions"),
        close(f"max |A·vec(x) − conv2d(x)| ({order} vec)", error, 0.0,
              atol=rounding(dense, vector), reason="float64 rounding of the row sums"),
        equal("nonzeros of A = netanatomy MACs", op.nonzeros, macs, reason=mac_reason)
        if padding == 0 else
        at_most("nonzeros of A ≤ netanatomy MACs", op.nonzeros, macs,
                reason=mac_reason + "; taps on the zero padding have no column"),
    ]
    texts = op.entries()
    figure, axes = new_figure(3, 1, width=3.3, height=3.3)
    draw_grid(axes[0], x[0, 0], f"input x ({size}×{size})",
              texts=[[f"x{i + 1}{j + 1}" for j in range(size)] for i in range(size)])
    draw_pattern(axes[1], texts, f"A ({op.shape[0]}×{op.shape[1]}), {op.nonzeros} nonzeros",
                 op.row_labels, op.column_labels)
    draw_grid(axes[2], torch_y[0, 0], "y = conv2d(x) = A·vec(x)",
              texts=[[f"y{i + 1}{j + 1}" for j in range(torch_y.shape[-1])]
                     for i in range(torch_y.shape[-2])])
    figure.suptitle(f"conv2d as a {op.shape[0]}×{op.shape[1]} matrix: max error {error:.1e}",
                    fontsize=10)
    shown = op.shape[0] * op.shape[1] <= 200
    return Outcome(checks, figure, data={
        "shape": list(op.shape), "nonzeros": op.nonzeros, "macs": macs,
        "max_error": error, "A": [list(row) for row in texts] if shown else None,
        "row_labels": list(op.row_labels), "column_labels": list(op.column_labels)},
        notes=[f"row y_11 of A: {' '.join(texts[0])}", matrices.CONVENTION])


@experiment("conv1d-toeplitz", topic="matrices",
            title="1-D convolution is a banded Toeplitz matrix",
            claim="A 1-D convolution with N inputs and K taps is an (N−K+1)×N banded Toeplitz "
                  "matrix (A_ij = w_(j−i+1) for 0 ≤ j−i < K, else 0) with K(N−K+1) nonzeros "
                  "= its MACs; torch's conv is a cross-correlation, so the kernel is not "
                  "flipped.",
            setting="N inputs and K taps (N = 8, K = 3: a 6×8 band)")
def conv1d_toeplitz(n: int = 8, taps: int = 3, flip: bool = False, seed: int = 0
                    ) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    op = matrices.conv(1, n, taps, run_check=False)
    w = torch.randn((1, 1, taps), generator=generator, dtype=torch.float64)
    x = torch.randn((1, 1, n), generator=generator, dtype=torch.float64)
    used = w.flip(-1) if flip else w     # flip: the textbook convolution, not torch's
    dense = matrices.with_weights(op, used)
    torch_y = functional.conv1d(x, w)[0, 0].numpy()
    matrix_y = dense @ x.reshape(-1).numpy()
    error = float(np.abs(matrix_y - torch_y).max())
    off_pattern = sum(
        1 for i in range(op.shape[0]) for j in range(op.shape[1])
        if op.matrix[i, j] != (sympy_w(j - i + 1) if 0 <= j - i < taps else 0))
    macs = netanatomy_macs(torch.nn.Conv1d(1, 1, taps, bias=False), (1, 1, n))
    checks = [
        equal("rows of A = torch's output length", op.shape[0], torch_y.size,
              reason="one row per output position; theory N − K + 1"),
        equal("entries off the Toeplitz band A_ij = w_(j−i+1)", off_pattern, 0),
        close(f"max |A·x − conv1d(x)|{' (flipped kernel)' if flip else ''}", error, 0.0,
              atol=rounding(dense, x.reshape(-1).numpy()),
              reason="float64 rounding of K-term sums"),
        equal("nonzeros of A = netanatomy MACs", op.nonzeros, macs,
              reason="one multiply-accumulate per nonzero"),
        equal("nonzeros of A = K(N − K + 1)", op.nonzeros, taps * (n - taps + 1),
              reason="closed form: K taps at each of N − K + 1 positions"),
    ]
    figure, axes = new_figure(2, 1, width=4.6, height=3.4)
    draw_pattern(axes[0], op.entries(), f"A ({op.shape[0]}×{op.shape[1]}): a band of {taps}",
                 op.row_labels, op.column_labels)
    positions = np.arange(1, torch_y.size + 1)
    axes[1].plot(positions, torch_y, "o", color=THEORY, markersize=9, fillstyle="none",
                 label="torch conv1d(x)")
    axes[1].plot(positions, matrix_y, "x", color=MEASURED, markersize=7,
                 label="A·x" + (" (flipped kernel)" if flip else ""))
    axes[1].set_xlabel("output position i")
    axes[1].set_ylabel("y_i")
    axes[1].legend(fontsize=8)
    axes[1].set_title(f"A·x = conv1d(x): max error {error:.1e}", fontsize=9)
    return Outcome(checks, figure, data={
        "shape": list(op.shape), "nonzeros": op.nonzeros, "macs": macs, "max_error": error,
        "A": [list(row) for row in op.entries()] if op.shape[0] * op.shape[1] <= 200 else None},
        notes=[f"row y_1 of A: {' '.join(op.entries()[0])}"])


def sympy_w(index: int) -> Any:
    import sympy

    return sympy.Symbol(f"w_{index}")


@experiment("transposed-conv-is-transpose", topic="matrices",
            title="Transposed convolution is Aᵀ",
            claim="conv_transpose2d is multiplication by Aᵀ, A the matrix of the conv2d with "
                  "the same kernel back to the input size; its output size is (H−1)S − 2P + "
                  "D(K−1) + 1 + OP (the course's (H−1)S − 2P + K + OP when D = 1), and "
                  "⟨A x, y⟩ = ⟨x, Aᵀ y⟩.",
            setting="a 2×2 input and a 2×2 kernel, stride 1: Aᵀ is 9×4, the transpose of the "
                    "4×9 conv matrix")
def transposed_conv_is_transpose(size: int = 2, kernel: int = 2, stride: int = 1,
                                 padding: int = 0, dilation: int = 1, output_padding: int = 0,
                                 order: str = "row-major", formula: str = "general",
                                 seed: int = 0) -> Outcome:
    if formula not in ("general", "course"):
        raise UsageError(f"formula={formula!r}: give general or course")
    generator = torch.Generator().manual_seed(seed)
    op = matrices.conv_transpose(2, size, kernel, stride, padding, dilation, output_padding,
                                 run_check=False)
    w = torch.randn((1, 1, kernel, kernel), generator=generator, dtype=torch.float64)
    y = torch.randn((1, 1, size, size), generator=generator, dtype=torch.float64)
    dense = matrices.with_weights(op, w)
    conv: dict[str, Any] = {"stride": stride, "padding": padding, "dilation": dilation}
    torch_z = functional.conv_transpose2d(y, w, output_padding=output_padding, **conv)
    vector = vec(y, order)
    error = float(np.abs(dense @ vector - torch_z.reshape(-1).numpy()).max())
    predicted = ((size - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1
                 + output_padding) if formula == "general" else (
        (size - 1) * stride - 2 * padding + kernel + output_padding)
    x = torch.randn(torch_z.shape, generator=generator, dtype=torch.float64)
    left = float((functional.conv2d(x, w, **conv) * y).sum())
    right = float((x * torch_z).sum())
    scale = float(x.abs().max() * y.abs().max() * w.abs().sum()) * y.numel()
    checks = [
        equal(f"output size by the {formula} formula = torch's", torch_z.shape[-1], predicted,
              reason="exact integer arithmetic"),
        close(f"max |Aᵀ·vec(y) − conv_transpose2d(y)| ({order} vec)", error, 0.0,
              atol=rounding(dense, vector), reason="float64 rounding of the row sums"),
        close("⟨conv2d(x), y⟩ − ⟨x, conv_transpose2d(y)⟩ (torch's ops)", left - right, 0.0,
              atol=1e-15 * scale, reason="float64 rounding: 1e-15 × Σ|terms| bound"),
    ]
    heights = list(range(1, 9))
    torch_sizes = [functional.conv_transpose2d(
        torch.zeros((1, 1, h, h), dtype=torch.float64), w, output_padding=output_padding,
        **conv).shape[-1] for h in heights]
    figure, axes = new_figure(2, 1, width=4.4, height=3.6)
    draw_pattern(axes[0], op.entries(), f"Aᵀ ({op.shape[0]}×{op.shape[1]})", op.row_labels,
                 op.column_labels)
    general = [(h - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1 + output_padding
               for h in heights]
    axes[1].plot(heights, torch_sizes, "o", color=MEASURED, label="torch conv_transpose2d")
    axes[1].plot(heights, general, "-", color=THEORY,
                 label="(H−1)S − 2P + D(K−1) + 1 + OP")
    if formula == "course":
        axes[1].plot(heights, [(h - 1) * stride - 2 * padding + kernel + output_padding
                               for h in heights], "--", color="0.4",
                     label="(H−1)S − 2P + K + OP")
    axes[1].set_xlabel("input size H")
    axes[1].set_ylabel("output size H′")
    axes[1].legend(fontsize=8)
    axes[1].set_title(f"S={stride}, P={padding}, K={kernel}, D={dilation}, OP={output_padding}",
                      fontsize=9)
    figure.suptitle(f"conv_transpose2d = Aᵀ·vec(y): max error {error:.1e}", fontsize=10)
    return Outcome(checks, figure, data={
        "shape": list(op.shape), "output_size": torch_z.shape[-1], "max_error": error,
        "adjoint_gap": left - right, "torch_sizes": torch_sizes, "formula_sizes": general},
        notes=list(op.formula))
