"""σ_max of a layer's linear map: numpy's SVD for Linear, and for convolutions the SVD of
the explicit operator matrix built by brute force (the conv applied to every basis vector
of a tiny input), against the Lanczos-accelerated power iteration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from netanatomy.diagnostics import spectral
from netanatomy.diagnostics.spectral import (
    lanczos_top_eigenvalue,
    matrix_sigma_max,
    operator_norm,
    sigma_max,
)


def explicit_operator(module: nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    """The matrix A of ``v ↦ module(v) − module(0)`` at ``shape``, column by column: A e_i
    for every basis vector e_i of the input, in float64."""
    module = module.double()
    size = math.prod(shape)
    with torch.no_grad():
        offset = module(torch.zeros(shape, dtype=torch.float64))
        columns = []
        for index in range(size):
            basis = torch.zeros(size, dtype=torch.float64)
            basis[index] = 1.0
            columns.append((module(basis.reshape(shape)) - offset).reshape(-1).numpy())
    return np.stack(columns, axis=1)


def exact_sigma(module: nn.Module, shape: tuple[int, ...]) -> float:
    return float(np.linalg.svd(explicit_operator(module, shape), compute_uv=False)[0])


@pytest.mark.parametrize(("rows", "cols"), [(7, 5), (5, 7), (6, 6)])
def test_linear_sigma_is_numpy_largest_singular_value(rows: int, cols: int) -> None:
    torch.manual_seed(rows * 10 + cols)
    layer = nn.Linear(cols, rows)
    value, method = sigma_max(layer, None)
    expected = np.linalg.svd(layer.weight.detach().double().numpy(), compute_uv=False)[0]
    assert method == "matrix"
    assert value == pytest.approx(float(expected), rel=1e-12)


def test_linear_sigma_ignores_the_bias_and_input_shape() -> None:
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, -4.0]]))  # σ = 4, 3
        layer.bias.fill_(100.0)
    assert sigma_max(layer, (8, 5, 3)) == (pytest.approx(4.0, rel=1e-12), "matrix")


def test_matrix_sigma_of_a_rank_one_matrix() -> None:
    u, v = torch.tensor([1.0, 2.0, 2.0]), torch.tensor([3.0, 4.0])
    assert matrix_sigma_max(torch.outer(u, v)) == pytest.approx(3.0 * 5.0)  # ‖u‖·‖v‖


CONVS = {
    "stride1": (lambda: nn.Conv2d(2, 3, 3), (1, 2, 5, 5)),
    "stride2": (lambda: nn.Conv2d(2, 3, 3, stride=2), (1, 2, 5, 5)),
    "padding": (lambda: nn.Conv2d(2, 3, 3, padding=1), (1, 2, 5, 5)),
    "stride2-padding": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (1, 2, 5, 5)),
    "dilation": (lambda: nn.Conv2d(2, 3, 3, dilation=2, padding=2), (1, 2, 5, 5)),
    "groups": (lambda: nn.Conv2d(2, 4, 3, groups=2, padding=1), (1, 2, 5, 5)),
    "transpose": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (1, 2, 5, 5)),
    "transpose-padding": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1),
                          (1, 2, 5, 5)),
    "conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1), (1, 2, 9)),
    "circular": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
                 (1, 2, 5, 5)),
    "wider": (lambda: nn.Conv2d(4, 8, 3, stride=2, padding=1), (1, 4, 12, 12)),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_conv_sigma_matches_svd_of_the_explicit_operator(name: str) -> None:
    factory, shape = CONVS[name]
    torch.manual_seed(0)
    conv = factory()
    expected = exact_sigma(conv, shape)
    value, method = sigma_max(conv.float(), shape)
    assert method == "power_iteration"
    assert value is not None
    assert value <= expected * (1 + 1e-6)            # from below (up to float32 rounding)
    assert value == pytest.approx(expected, rel=1e-4)


def test_conv_sigma_uses_batch_one_whatever_the_batch() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    assert sigma_max(conv, (16, 2, 5, 5)) == sigma_max(conv, (1, 2, 5, 5))


def test_unbatched_conv_input() -> None:
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3)
    value, _ = sigma_max(conv, (2, 5, 5))                 # (C, H, W): no batch axis
    assert value == pytest.approx(exact_sigma(conv, (1, 2, 5, 5)), rel=1e-4)


def test_the_estimate_rises_towards_the_exact_value() -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
    shape = (1, 4, 12, 12)
    expected = exact_sigma(conv, shape)
    conv = conv.float()
    estimates = [operator_norm(conv, shape, iterations=steps) for steps in (1, 3, 10, 60)]
    assert all(value <= expected * (1 + 1e-6) for value in estimates)
    assert all(a <= b * (1 + 1e-6) for a, b in zip(estimates, estimates[1:]))
    assert estimates[-1] == pytest.approx(expected, rel=1e-4)


def test_restarted_iteration_still_converges(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(4)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    shape = (1, 2, 6, 6)
    expected = exact_sigma(conv, shape)
    monkeypatch.setattr(spectral, "BASIS_BYTES", 8 * 2 * 6 * 6 * 4)    # 8 float32 vectors
    value = operator_norm(conv.float(), shape, iterations=200)
    assert value <= expected * (1 + 1e-6)
    assert value == pytest.approx(expected, rel=1e-4)


def test_lanczos_on_a_diagonal_operator() -> None:
    diagonal = torch.tensor([1.0, 2.0, 3.0, 9.0, 8.99], dtype=torch.float64)
    top = lanczos_top_eigenvalue(lambda v: diagonal * v, torch.ones(5, dtype=torch.float64),
                                 steps=5, max_basis=5)
    assert top == pytest.approx(9.0, rel=1e-12)     # 5 steps span the whole space: exact


def test_half_precision_conv_is_measured_in_float32() -> None:
    torch.manual_seed(5)
    conv = nn.Conv2d(2, 3, 3)
    expected = exact_sigma(conv, (1, 2, 5, 5))
    value, _ = sigma_max(conv.to(torch.bfloat16), (1, 2, 5, 5))
    assert value == pytest.approx(expected, rel=2e-2)        # bf16 weights: 8-bit mantissa


def test_other_modules_and_convs_that_never_ran() -> None:
    assert sigma_max(nn.ReLU(), (1, 4)) == (None, None)
    assert sigma_max(nn.Conv2d(1, 1, 3), None) == (None, None)
