"""Backprop through pooling: average pooling hands each input 1/r² of every window's
gradient that covers it; max pooling routes each window's gradient to its argmax (the
"switches"); both against autograd."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from netanatomy.lab.base import Outcome, close, equal, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import new_figure

F64 = torch.float64


def spread_one_over_r_squared(g: torch.Tensor, size: int, kernel: int, stride: int,
                              padding: int) -> torch.Tensor:
    """∂L/∂X by the course's rule: each window adds g/r² (r = kernel) to every input it
    covers (a sum where windows overlap); taps in the zero padding are dropped."""
    padded = torch.zeros(*g.shape[:2], size + 2 * padding, size + 2 * padding, dtype=F64)
    for i, j in itertools.product(range(g.shape[2]), range(g.shape[3])):
        rows = slice(i * stride, i * stride + kernel)
        cols = slice(j * stride, j * stride + kernel)
        padded[..., rows, cols] += g[..., i, j, None, None] / kernel**2
    return padded[..., padding:padding + size, padding:padding + size]


def coverage(size: int, kernel: int, stride: int, padding: int, out: int
             ) -> torch.Tensor:
    """How many pooling windows contain each input (an integer count, by index
    arithmetic)."""
    counts = torch.zeros(size + 2 * padding, size + 2 * padding, dtype=F64)
    for i, j in itertools.product(range(out), range(out)):
        counts[i * stride:i * stride + kernel, j * stride:j * stride + kernel] += 1
    return counts[padding:padding + size, padding:padding + size]


@experiment("avgpool-backward", topic="backprop",
            title="Average-pool backward: 1/r² of each window's gradient",
            claim="Backprop through r×r average pooling gives every input 1/r² of the "
                  "gradient of each window that contains it (the sum over windows when they "
                  "overlap).",
            setting="2×2 average pooling, stride 2, on a 2×3×8×8 input")
def avgpool_backward(size: int = 8, kernel: int = 2, stride: int = 2, padding: int = 0,
                     count_include_pad: bool = True, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, size, size, generator=generator, dtype=F64, requires_grad=True)
    z = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    g = torch.randn(z.shape, generator=generator, dtype=F64)
    (dx,) = torch.autograd.grad(z, x, g, retain_graph=True)
    expected = spread_one_over_r_squared(g, size, kernel, stride, padding)
    overlap = math.ceil(kernel / stride) ** 2            # most windows that share one input
    bound = two_methods(overlap, float(spread_one_over_r_squared(
        g.abs(), size, kernel, stride, padding).max()))
    # With ∂L/∂z = 1 each input receives 1/r² per window that covers it (r² = 4 is a
    # power of two: no rounding at all in the course's setting).
    (ones,) = torch.autograd.grad(z, x, torch.ones_like(z))
    covers = coverage(size, kernel, stride, padding, z.shape[-1])
    share = ones[0, 0][covers > 0] / covers[covers > 0]
    error = float((dx - expected).abs().max())
    share_tolerance = two_methods(overlap, 1 / kernel**2)
    share_reason = reason(overlap, "shares 1/r²")
    checks = [
        close("max |∂L/∂X autograd − Σ_windows g/r²|", error, 0.0, atol=bound,
              reason=reason(overlap, "window shares")),
        close(f"smallest share per window of an input (r = {kernel}, ∂L/∂z = 1)",
              float(share.min()), 1 / kernel**2, atol=share_tolerance, reason=share_reason),
        close(f"largest share per window of an input (r = {kernel}, ∂L/∂z = 1)",
              float(share.max()), 1 / kernel**2, atol=share_tolerance, reason=share_reason),
    ]
    figure = draw_avg(g, dx, expected, kernel, stride)
    data: dict[str, Any] = {"share_min": float(share.min()),
                            "share_max": float(share.max()), "theory_share": 1 / kernel**2,
                            "max_error": error, "tolerance": bound}
    return Outcome(checks, figure, data=data,
                   notes=[f"{kernel}×{kernel} average pooling, stride {stride}: each input "
                          f"gets 1/{kernel**2} = {1 / kernel**2:g} of its window's gradient"])


def draw_avg(g: torch.Tensor, dx: torch.Tensor, expected: torch.Tensor, kernel: int,
             stride: int) -> Any:
    figure, axes = new_figure(4, 1, width=3.2, height=3.2)
    limit = float(dx[0, 0].abs().max())
    panels = [(g[0, 0], "∂L/∂z (pooled)", float(g[0, 0].abs().max())),
              (dx[0, 0], "∂L/∂X by autograd", limit),
              (expected[0, 0], "Σ windows g/r²", limit)]
    for axis, (values, title, span) in zip(axes[:3], panels, strict=True):
        image = axis.imshow(values.numpy(), cmap="RdBu_r", vmin=-span, vmax=span)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("column")
        figure.colorbar(image, ax=axis, shrink=0.7)
    axes[0].set_ylabel("row")
    difference = (dx[0, 0] - expected[0, 0]).abs().clamp(min=1e-18).log10()
    image = axes[3].imshow(difference.numpy(), cmap="magma", vmin=-18, vmax=1)
    axes[3].set_title("log₁₀ |difference|", fontsize=9)
    figure.colorbar(image, ax=axes[3], shrink=0.7, label="log₁₀ |autograd − 1/r² rule|")
    figure.suptitle(f"{kernel}×{kernel} average pool, stride {stride}: "
                    f"each input gets 1/{kernel**2} of its window's gradient")
    return figure


def numpy_switches(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, ...]:
    """Row and column of each window's maximum (first in row-major order on ties), and
    how many entries of each window tie with its maximum: NumPy's argmax, not torch's."""
    n, c, size, _ = x.shape
    out = (size - kernel) // stride + 1
    rows = np.zeros((n, c, out, out), dtype=np.int64)
    cols = np.zeros_like(rows)
    ties = np.zeros_like(rows)
    for i, j in itertools.product(range(out), range(out)):
        window = x[:, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
        flat = window.reshape(n, c, -1)
        best = flat.argmax(axis=-1)
        rows[:, :, i, j] = i * stride + best // kernel
        cols[:, :, i, j] = j * stride + best % kernel
        ties[:, :, i, j] = (flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1)
    return rows, cols, ties


def distinct_switches(rows: np.ndarray, cols: np.ndarray) -> int:
    """How many different inputs are some window's switch (one per window unless
    overlapping windows share their maximum)."""
    n, c = np.indices(rows.shape)[:2]
    return len(set(zip(n.ravel(), c.ravel(), rows.ravel(), cols.ravel(), strict=True)))


def route(x: np.ndarray, g: np.ndarray, kernel: int, stride: int, tie_rule: str
          ) -> np.ndarray:
    """∂L/∂X by the switches: each window's gradient goes to its argmax (``first``), or
    is split evenly among tied maxima (``split``, the subgradient average)."""
    rows, cols, ties = numpy_switches(x, kernel, stride)
    dx = np.zeros_like(x)
    for n, c, i, j in itertools.product(*(range(s) for s in g.shape)):
        window = x[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
        if tie_rule == "split":
            mask = window == window.max()
            dx[n, c, i * stride:i * stride + kernel, j * stride:j * stride + kernel] += (
                mask * g[n, c, i, j] / mask.sum())
        else:
            dx[n, c, rows[n, c, i, j], cols[n, c, i, j]] += g[n, c, i, j]
    return dx


@experiment("maxpool-backward", topic="backprop",
            title="Max-pool backward: the gradient goes through the switches",
            claim="Backprop through max pooling routes each window's gradient, whole, to "
                  "the input that was the window's maximum (the switch); every other input "
                  "gets 0. On ties torch picks one input (the first in row-major order).",
            setting="2×2 max pooling, stride 2, on a 2×3×8×8 input")
def maxpool_backward(size: int = 8, kernel: int = 2, stride: int = 2, levels: int = 0,
                     tie_rule: str = "first", seed: int = 0) -> Outcome:
    if tie_rule not in ("first", "split"):
        from netanatomy.errors import UsageError
        raise UsageError(f"lab maxpool-backward: tie_rule={tie_rule!r}; use first or split")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, size, size, generator=generator, dtype=F64)
    if levels > 0:                 # a few levels: many windows hold tied maxima
        x = torch.round(x.clamp(-1, 1) * (levels - 1) / 2) / max(levels - 1, 1)
    x.requires_grad_(True)
    z, switches = F.max_pool2d(x, kernel, stride, return_indices=True)
    g = torch.randn(z.shape, generator=generator, dtype=F64)
    (dx,) = torch.autograd.grad(z, x, g)
    xs = x.detach().numpy()
    rows, cols, ties = numpy_switches(xs, kernel, stride)
    expected = route(xs, g.numpy(), kernel, stride, tie_rule)
    overlap = math.ceil(kernel / stride) ** 2
    tied = int((ties > 1).sum())
    checks = [
        equal("switches (torch indices = NumPy argmax)",
              bool(np.array_equal(rows * size + cols, switches.numpy())), True),
        close(f"max |∂L/∂X autograd − routed by switches ({tie_rule})",
              float(np.abs(dx.numpy() - expected).max()), 0.0,
              atol=two_methods(overlap, float(np.abs(g.numpy()).max()) * overlap),
              reason=reason(overlap, "routed gradients") + "; exact without overlap"),
        equal("inputs with nonzero gradient (one per distinct switch)",
              int((dx != 0).sum()), distinct_switches(rows, cols)),
    ]
    figure = draw_max(xs, dx.numpy(), expected, rows, cols, tie_rule)
    data: dict[str, Any] = {"windows": int(g.numel()), "windows_with_ties": tied,
                            "tie_rule": tie_rule}
    notes = [f"{tied} of {g.numel()} windows have tied maxima; torch sends their whole "
             "gradient to the first in row-major order"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw_max(x: np.ndarray, dx: np.ndarray, expected: np.ndarray, rows: np.ndarray,
             cols: np.ndarray, tie_rule: str) -> Any:
    figure, axes = new_figure(4, 1, width=3.2, height=3.2)
    image = axes[0].imshow(x[0, 0], cmap="viridis")
    axes[0].scatter(cols[0, 0].ravel(), rows[0, 0].ravel(), marker="x", color="white",
                    s=30, label="switch (argmax)")
    axes[0].set_title("input X[0,0] and switches", fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    figure.colorbar(image, ax=axes[0], shrink=0.7)
    limit = float(np.abs(dx[0, 0]).max())
    for axis, values, title in ((axes[1], dx[0, 0], "∂L/∂X by autograd"),
                                (axes[2], expected[0, 0], f"routed by switches ({tie_rule})")):
        image = axis.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(title, fontsize=9)
        figure.colorbar(image, ax=axis, shrink=0.7)
    difference = np.log10(np.clip(np.abs(dx[0, 0] - expected[0, 0]), 1e-18, None))
    image = axes[3].imshow(difference, cmap="magma", vmin=-18, vmax=1)
    axes[3].set_title("log₁₀ |difference|", fontsize=9)
    figure.colorbar(image, ax=axes[3], shrink=0.7, label="log₁₀ |autograd − routed|")
    for axis in axes:
        axis.set_xlabel("column")
    axes[0].set_ylabel("row")
    figure.suptitle("Max-pool backward: the whole window gradient goes to the argmax")
    return figure
