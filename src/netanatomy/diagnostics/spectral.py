"""Largest singular value of a layer's linear map, and the product bound on the backward
gain of a plain stack.

For ``nn.Linear`` it is the exact matrix 2-norm of the weight. For a convolution it is the
norm of the convolution *operator* on the layer's actual input size (the doubly block
Toeplitz matrix A with stride, padding and dilation, not the reshaped kernel), estimated
by power iteration on AᵀA, where Aᵀ is applied by autograd (a vector-Jacobian product,
i.e. the transposed convolution with the same kernel). The iteration converges from below.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATION_SLOPE_BOUNDS: dict[type[nn.Module], float] = {
    nn.ReLU: 1.0, nn.ReLU6: 1.0, nn.Tanh: 1.0, nn.Hardtanh: 1.0, nn.Sigmoid: 0.25,
    nn.Hardsigmoid: 1 / 6, nn.Identity: 1.0, nn.Dropout: 1.0, nn.Flatten: 1.0,
}
"""Largest |f'| of modules a plain stack may contain (dropout: at eval; train mode scales
by 1/(1−p), handled by the caller)."""

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
              nn.ConvTranspose3d)


def linear_part(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x) − module(0)``: the linear part of an affine layer (the bias cancels)."""
    return module(x) - module(torch.zeros_like(x))


def operator_norm(module: nn.Module, input_shape: tuple[int, ...], iterations: int = 50,
                  seed: int = 0) -> float:
    """Largest singular value of the affine ``module``'s linear part at ``input_shape``
    (batch axis set to 1), by power iteration with autograd transposes."""
    parameter = next(module.parameters())
    shape = (1, *input_shape[1:])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    vector = torch.randn(shape, generator=generator, dtype=parameter.dtype)
    vector = (vector / vector.norm()).to(parameter.device)
    sigma = 0.0
    with torch.enable_grad():
        for _ in range(iterations):
            vector.requires_grad_(True)
            image = linear_part(module, vector)
            (back,) = torch.autograd.grad(image, vector, image.detach())
            estimate = float(back.norm()) ** 0.5          # ‖AᵀA v‖ → σ² for unit v
            vector = (back / back.norm().clamp_min(1e-30)).detach()
            if abs(estimate - sigma) <= 1e-7 * max(estimate, 1e-30):
                sigma = estimate
                break
            sigma = estimate
    return sigma


def sigma_max(module: nn.Module, input_shape: tuple[int, ...] | None,
              iterations: int = 50) -> tuple[float | None, str | None]:
    """(σ_max, method) for Linear (``"matrix"``) and convs (``"power_iteration"``); (None,
    None) for other modules or a conv that never ran."""
    if isinstance(module, nn.Linear):
        weight = module.weight.detach().double()
        return float(torch.linalg.matrix_norm(weight, ord=2)), "matrix"
    if isinstance(module, CONV_TYPES) and input_shape is not None:
        return operator_norm(module, input_shape, iterations), "power_iteration"
    return None, None
