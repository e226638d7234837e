"""Spectral norm below one: through L linear layers with σ_max(W) = s the input-output
Jacobian has norm at most s^L (‖AB‖ ≤ ‖A‖‖B‖), so gradients decay geometrically; scaled
orthogonal weights attain the bound exactly."""

from __future__ import annotations

import sys

import torch

from netanatomy.lab.base import Outcome, at_most, close, experiment
from netanatomy.lab.figures import MEASURED, OTHER, THEORY, new_figure

EPS = sys.float_info.epsilon


@experiment("spectral-norm-decay", topic="depth",
            title="Spectral norm s < 1 decays gradients like s^L",
            claim="A stack of L linear layers whose weights all have σ_max = s has "
                  "‖∂y/∂x‖ ≤ s^L; the bound is attained by s × orthogonal weights, so for "
                  "s < 1 gradients decay geometrically.",
            setting="σ_max = 0.9 over 100 layers (bound 0.9^100 ≈ 2.66e-5), width 16")
def spectral_norm_decay(sigma: float = 0.9, depth: int = 100, width: int = 16,
                        seed: int = 0) -> Outcome:
    generator = torch.Generator().manual_seed(seed)
    random = [scaled(torch.randn(width, width, generator=generator, dtype=torch.float64),
                     sigma) for _ in range(depth)]
    orthogonal = [sigma * torch.linalg.qr(torch.randn(
        width, width, generator=generator, dtype=torch.float64))[0] for _ in range(depth)]
    bound = sigma ** depth                          # the closed form, by hand
    random_norms, orthogonal_norms = prefix_norms(random), prefix_norms(orthogonal)
    rounding = depth * width * EPS                  # γ for L products of n-term sums
    checks = [
        close("max |σ_max(W_l) − s|", float(max(abs(torch.linalg.matrix_norm(w, ord=2)
                                                     - sigma) for w in random)),
              0.0, atol=width * EPS * sigma, reason="float64 rounding of one SVD"),
        at_most(f"random weights: ‖∂y/∂x‖ after {depth} layers ≤ s^L",
                jacobian_norm(random), bound, atol=rounding * bound,
                reason="‖AB‖ ≤ ‖A‖‖B‖; float64 rounding L·n·ε"),
        close(f"s × orthogonal: ‖∂y/∂x‖ after {depth} layers = s^L",
              jacobian_norm(orthogonal), bound, rtol=rounding,
              reason="a product of orthogonal matrices is orthogonal; rounding L·n·ε"),
        at_most(f"s × orthogonal: ‖∂y/∂x‖ after {depth} layers (decays)",
                jacobian_norm(orthogonal), 1.0,
                reason="s < 1 ⇒ s^L < 1: the premise of geometric decay"),
    ]
    figure = draw(random_norms, orthogonal_norms, sigma)
    return Outcome(checks, figure, data={
        "bound": bound, "random_by_depth": random_norms[::5],
        "orthogonal_by_depth": orthogonal_norms[::5]},
        notes=[f"{sigma:g}^{depth} = {bound:.6g}"])


def scaled(matrix: torch.Tensor, sigma: float) -> torch.Tensor:
    """``matrix`` rescaled to largest singular value ``sigma``."""
    return matrix * (sigma / torch.linalg.matrix_norm(matrix, ord=2))


def jacobian_norm(weights: list[torch.Tensor]) -> float:
    """‖∂y/∂x‖₂ of y = W_L⋯W_1 x, the Jacobian taken by autograd."""
    def stack(x: torch.Tensor) -> torch.Tensor:
        for weight in weights:
            x = weight @ x
        return x

    x = torch.zeros(weights[0].shape[1], dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(stack, x, vectorize=True)
    return float(torch.linalg.matrix_norm(jacobian, ord=2))


def prefix_norms(weights: list[torch.Tensor]) -> list[float]:
    """‖W_d⋯W_1‖₂ for d = 1..L (the stack applied to the identity)."""
    product, norms = torch.eye(weights[0].shape[1], dtype=torch.float64), []
    for weight in weights:
        product = weight @ product
        norms.append(float(torch.linalg.matrix_norm(product, ord=2)))
    return norms


def draw(random: list[float], orthogonal: list[float], sigma: float) -> object:
    figure, (axis,) = new_figure()
    layers = range(1, len(random) + 1)
    axis.semilogy(layers, [sigma**d for d in layers], "-", color=THEORY, linewidth=2.5,
                  alpha=0.5, label=f"bound s^L = {sigma:g}^L")
    axis.semilogy(layers, orthogonal, "o", markersize=2.5, color=MEASURED,
                  label="s × orthogonal (attains it)")
    axis.semilogy(layers, random, "o", markersize=2.5, color=OTHER,
                  label="random, σ_max = s")
    axis.set_xlabel("depth L (layers)")
    axis.set_ylabel("‖∂y/∂x‖₂")
    axis.set_title(f"σ_max = {sigma:g}: ‖∂y/∂x‖ ≤ {sigma:g}^L, attained by orthogonal W")
    axis.legend(fontsize=8)
    return figure
