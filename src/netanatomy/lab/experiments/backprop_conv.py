"""Backprop through a convolution: the weight gradient is the cross-correlation of the
input with ∂L/∂z, the input gradient the transposed convolution of ∂L/∂z with the same
kernel; both against autograd."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from netanatomy.lab.base import Outcome, close, experiment
from netanatomy.lab.experiments._float64 import reason, two_methods
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

F64 = torch.float64


def weight_gradient(x: torch.Tensor, g: torch.Tensor, kernel: int, stride: int,
                    padding: int) -> torch.Tensor:
    """∂L/∂W[o, i, a, b] = Σ_(n, y, x) X_pad[n, i, s·y + a, s·x + b]·G[n, o, y, x]: the
    input cross-correlated with ∂L/∂z, written as a conv2d with batch and channel axes
    swapped (G is the kernel, dilated by the stride)."""
    swapped = F.conv2d(x.transpose(0, 1), g.transpose(0, 1), padding=padding,
                       dilation=stride)
    return swapped.transpose(0, 1)[:, :, :kernel, :kernel]


def input_gradient(g: torch.Tensor, w: torch.Tensor, size: int, stride: int,
                   padding: int) -> torch.Tensor:
    """∂L/∂X = conv_transpose2d(∂L/∂z, W) with the forward's stride and padding (the
    output padding restores the rows a strided forward dropped)."""
    kernel = w.shape[-1]
    extra = size - ((g.shape[-1] - 1) * stride - 2 * padding + kernel)
    return F.conv_transpose2d(g, w, stride=stride, padding=padding, output_padding=extra)


@experiment("conv-gradients", topic="backprop",
            title="Conv backward: ∂L/∂W = X ⋆ ∂L/∂z, ∂L/∂X = convᵀ(∂L/∂z, W)",
            claim="For z = conv2d(X, W) (a cross-correlation), ∂L/∂W is the "
                  "cross-correlation of the input with ∂L/∂z and ∂L/∂X is the transposed "
                  "convolution of ∂L/∂z with the same (unflipped) kernel.",
            setting="X 2×3×7×7, W 4×3×3×3, stride 1, padding 1, ∂L/∂z drawn at random")
def conv_gradients(size: int = 7, channels_in: int = 3, channels_out: int = 4,
                   kernel: int = 3, stride: int = 1, padding: int = 1, batch: int = 2,
                   flip_kernel: bool = False, seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels_in, size, size, generator=generator, dtype=F64)
    w = torch.randn(channels_out, channels_in, kernel, kernel, generator=generator,
                    dtype=F64)
    x.requires_grad_(True)
    w.requires_grad_(True)
    z = F.conv2d(x, w, stride=stride, padding=padding)
    g = torch.randn(z.shape, generator=generator, dtype=F64)
    dx, dw = (t.detach() for t in torch.autograd.grad(z, (x, w), g))
    x, w = x.detach(), w.detach()
    used = w.flip(2, 3) if flip_kernel else w
    dw_formula = weight_gradient(x, g, kernel, stride, padding)
    dw_formula = dw_formula.flip(2, 3) if flip_kernel else dw_formula
    dx_formula = input_gradient(g, used, size, stride, padding)
    # Tolerances from the magnitudes of the summed terms: the same sums over |X|, |G|, |W|.
    dw_terms = batch * z.shape[2] * z.shape[3]
    dw_bound = two_methods(dw_terms, float(weight_gradient(x.abs(), g.abs(), kernel,
                                                           stride, padding).max()))
    dx_terms = channels_out * kernel * kernel
    dx_bound = two_methods(dx_terms, float(input_gradient(g.abs(), w.abs(), size, stride,
                                                          padding).max()))
    dw_error = float((dw - dw_formula).abs().max())
    dx_error = float((dx - dx_formula).abs().max())
    checks = [
        close("max |∂L/∂W autograd − X ⋆ ∂L/∂z|", dw_error, 0.0, atol=dw_bound,
              reason=reason(dw_terms, "products x·g")),
        close("max |∂L/∂X autograd − convᵀ(∂L/∂z, W)|", dx_error, 0.0, atol=dx_bound,
              reason=reason(dx_terms, "products g·w")),
    ]
    figure = draw(dx, dx_formula, dw, dw_formula, flip_kernel, dx_bound)
    data: dict[str, Any] = {"dW_max_error": dw_error, "dX_max_error": dx_error,
                            "dW_tolerance": dw_bound, "dX_tolerance": dx_bound,
                            "z_shape": list(z.shape), "flip_kernel": flip_kernel}
    notes = [f"stride {stride}, padding {padding}: ∂L/∂z is {tuple(z.shape)}; "
             f"∂L/∂W is the correlation of X with ∂L/∂z dilated by the stride"]
    return Outcome(checks, figure, data=data, notes=notes)


def draw(dx: torch.Tensor, dx_formula: torch.Tensor, dw: torch.Tensor,
         dw_formula: torch.Tensor, flip_kernel: bool, tolerance: float) -> Any:
    figure, axes = new_figure(4, 1, width=3.3, height=3.2)
    panels = [(dx[0, 0], "∂L/∂X[0,0] by autograd"),
              (dx_formula[0, 0], "convᵀ(∂L/∂z, W" + ("flipped" if flip_kernel else "") + ")")]
    limit = float(max(p.abs().max() for p, _ in panels))
    for axis, (values, title) in zip(axes[:2], panels, strict=True):
        image = axis.imshow(values.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("column")
        axis.set_ylabel("row")
    figure.colorbar(image, ax=axes[:2], shrink=0.8, label="gradient")
    difference = (dx[0, 0] - dx_formula[0, 0]).abs().clamp(min=1e-18).log10()
    image = axes[2].imshow(difference.numpy(), cmap="magma", vmin=-18, vmax=1)
    axes[2].set_title(f"log₁₀|difference| (tolerance {tolerance:.0e})", fontsize=9)
    axes[2].set_xlabel("column")
    figure.colorbar(image, ax=axes[2], shrink=0.8, label="log₁₀ |autograd − formula|")
    axis = axes[3]
    axis.scatter(dw.flatten().numpy(), dw_formula.flatten().numpy(), s=8, color=MEASURED,
                 label="∂L/∂W entries")
    span = float(dw.abs().max())
    axis.plot([-span, span], [-span, span], color=THEORY, linestyle="--", label="equal")
    axis.set_xlabel("∂L/∂W by autograd")
    axis.set_ylabel("X ⋆ ∂L/∂z" + (" (flipped)" if flip_kernel else ""))
    axis.legend(fontsize=8, loc="upper left", edgecolor=OTHER)
    axis.set_title("weight gradient", fontsize=9)
    verdict = "a flipped kernel is wrong" if flip_kernel else "autograd = formula"
    figure.suptitle(f"Conv backward is correlation / transposed conv: {verdict}")
    return figure
