"""Effective receptive field: exact supports of positive convs, n-fold box filters computed
independently with numpy, Luo et al.'s "ERF << theoretical field", and the model left as
found."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from netanatomy.diagnostics.erf import (
    default_erf_layer,
    effective_receptive_field,
    window_width,
)
from netanatomy.errors import CaptureError, UsageError

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def positive_input(*shape: int) -> torch.Tensor:
    return 0.5 + torch.rand(shape, generator=torch.Generator().manual_seed(1))


def symmetric_positive(weight: torch.Tensor) -> torch.Tensor:
    """Random positive values, mirror-symmetric along every spatial axis (so the mass
    centre of the field is exactly the window's centre)."""
    values = 0.1 + torch.rand(weight.shape, generator=torch.Generator().manual_seed(2))
    for axis in range(2, weight.dim()):
        values = values + values.flip(axis)
    return values


def positive_conv(kernel: tuple[int, ...], symmetric: bool) -> nn.Module:
    conv = CONV[len(kernel)](2, 3, kernel, padding=tuple(k // 2 for k in kernel))
    with torch.no_grad():
        conv.weight.copy_(symmetric_positive(conv.weight) if symmetric
                          else 0.1 + torch.rand(conv.weight.shape))
        assert conv.bias is not None
        conv.bias.zero_()
    return conv


@pytest.mark.parametrize("kernel", [(5, 5), (3, 5), (7,), (3, 3, 5)])
def test_single_positive_conv_has_exactly_the_kernel_as_support(kernel: tuple[int, ...]) -> None:
    conv = positive_conv(kernel, symmetric=False)
    spatial = (15,) * len(kernel)
    erf = effective_receptive_field(conv, (positive_input(2, 2, *spatial),), fraction=1.0)
    centre = tuple(s // 2 for s in spatial)
    window = tuple(slice(c - k // 2, c + k // 2 + 1) for c, k in zip(centre, kernel))
    expected = np.zeros(spatial, dtype=bool)
    expected[window] = True
    assert erf.heatmap.dtype == np.float64 and erf.heatmap.shape == spatial
    assert np.array_equal(erf.heatmap > 0, expected)
    assert math.isclose(float(erf.heatmap.sum()), 1.0)
    assert erf.output_position == centre and erf.path == "" and erf.fraction == 1.0


@pytest.mark.parametrize("kernel", [(5, 5), (3, 5), (7,), (3, 3, 5)])
def test_single_symmetric_conv_size_is_the_kernel(kernel: tuple[int, ...]) -> None:
    conv = positive_conv(kernel, symmetric=True)
    spatial = (15,) * len(kernel)
    erf = effective_receptive_field(conv, (positive_input(2, 2, *spatial),), fraction=1.0,
                                    theoretical=kernel)
    assert erf.size == kernel
    assert erf.theoretical == kernel


def box_stack(layers: int) -> nn.Module:
    convs = [nn.Conv2d(2, 2, 3, padding=1) for _ in range(layers)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.fill_(1.0)
            assert conv.bias is not None
            conv.bias.zero_()
    return nn.Sequential(*convs)


def nfold_box(layers: int) -> np.ndarray:
    """The n-fold self-convolution of a 3×3 box, by numpy (the box is separable)."""
    line = np.ones(1)
    for _ in range(layers):
        line = np.convolve(line, np.ones(3))
    return np.outer(line, line)


@pytest.mark.parametrize("layers", [1, 2, 4, 6])
def test_stack_of_box_convs_is_the_nfold_box(layers: int) -> None:
    erf = effective_receptive_field(box_stack(layers), (positive_input(3, 2, 25, 25),),
                                    fraction=1.0)
    expected = np.zeros((25, 25))
    expected[12 - layers:12 + layers + 1, 12 - layers:12 + layers + 1] = nfold_box(layers)
    np.testing.assert_allclose(erf.heatmap, expected / expected.sum(), rtol=1e-5, atol=1e-9)
    assert erf.size == (2 * layers + 1, 2 * layers + 1)


def relu_stack(layers: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    blocks: list[nn.Module] = []
    for index in range(layers):
        blocks += [nn.Conv2d(3 if index == 0 else 16, 16, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*blocks)


@pytest.mark.parametrize("seed", [0, 1])
def test_deep_random_stack_erf_is_much_smaller_than_theoretical(seed: int) -> None:
    model = relu_stack(10, seed)
    x = torch.randn(8, 3, 48, 48, generator=torch.Generator().manual_seed(seed))
    theoretical = (1 + 10 * 2, 1 + 10 * 2)                   # 10 × (3×3, stride 1)
    erf = effective_receptive_field(model, (x,), fraction=0.95, theoretical=theoretical)
    assert all(size < 21 for size in erf.size)
    half = effective_receptive_field(model, (x,), fraction=0.5)
    assert all(size <= 9 for size in half.size)              # Luo et al.: Gaussian, ~sqrt(n)


def test_default_layer_is_last_spatial_module() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(),
                          nn.LazyLinear(2))
    x = torch.randn(2, 3, 12, 12)
    assert default_erf_layer(model, (x,)) == "2"
    erf = effective_receptive_field(model, (x,))
    assert erf.path == "2" and erf.output_position == (4, 4)
    assert default_erf_layer(box_stack(2), (x[:, :2],)) == ""    # the model output itself


def stateful_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Dropout(0.2), nn.Conv2d(4, 4, 3, padding=1))


@pytest.mark.parametrize("training", [True, False])
def test_model_is_left_as_found(training: bool) -> None:
    model = stateful_model().train(training)
    parameters = list(model.parameters())
    for index, parameter in enumerate(parameters):
        parameter.grad = torch.randn_like(parameter) if index % 2 == 0 else None
    grads = [p.grad for p in parameters]
    grad_values = [None if g is None else g.clone() for g in grads]
    state = {name: value.clone() for name, value in model.state_dict().items()}
    effective_receptive_field(model, (torch.randn(4, 3, 16, 16),))
    assert all(torch.equal(state[name], value) for name, value in model.state_dict().items())
    for parameter, grad, value in zip(parameters, grads, grad_values):
        assert parameter.grad is grad
        assert value is None or torch.equal(parameter.grad, value)
    assert all(module.training is training for module in model.modules())
    assert not any(module._forward_hooks for module in model.modules())


class Failing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("boom")


def test_failing_model_raises_capture_error_and_removes_hooks() -> None:
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3), Failing())
    state = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(CaptureError, match="ValueError: boom"):
        effective_receptive_field(model, (torch.randn(2, 3, 8, 8),))
    assert not any(module._forward_hooks for module in model.modules())
    assert all(torch.equal(state[name], value) for name, value in model.state_dict().items())


class Zeroed(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def test_output_independent_of_input_raises_capture_error() -> None:
    with pytest.raises(CaptureError, match="does not depend on the input"):
        effective_receptive_field(Zeroed(), (torch.randn(2, 3, 8, 8),))


def test_unknown_path_raises_usage_error_with_close_matches() -> None:
    model = nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 3, 1), act=nn.ReLU()))
    with pytest.raises(UsageError, match="no module 'conv2'.*did you mean 'conv1'"):
        effective_receptive_field(model, (torch.randn(1, 3, 8, 8),), path="conv2")
    with pytest.raises(UsageError, match="no module 'x'.*include '', 'conv1', 'act'"):
        effective_receptive_field(model, (torch.randn(1, 3, 8, 8),), path="x")


def test_non_spatial_layer_raises_usage_error_naming_path_and_shape() -> None:
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
    with pytest.raises(UsageError, match=r"module '2' has no spatial output.*\(2, 5\)"):
        effective_receptive_field(model, (torch.randn(2, 3, 8, 8),), path="2")


def test_no_spatial_module_raises_usage_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8, 2))
    with pytest.raises(UsageError, match="no module has a floating-point output"):
        effective_receptive_field(model, (torch.randn(2, 3, 8),))


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5, float("nan")])
def test_bad_fraction_raises_usage_error(fraction: float) -> None:
    with pytest.raises(UsageError, match="fraction must lie in"):
        effective_receptive_field(nn.Conv2d(3, 3, 1), (torch.randn(1, 3, 8, 8),),
                                  fraction=fraction)


@pytest.mark.parametrize("x", [torch.randn(2, 8), torch.ones(1, 3, 8, 8, dtype=torch.long)])
def test_bad_input_raises_usage_error(x: torch.Tensor) -> None:
    with pytest.raises(UsageError, match="input 0"):
        effective_receptive_field(nn.Identity(), (x,))


def test_theoretical_with_wrong_axes_raises_usage_error() -> None:
    with pytest.raises(UsageError, match="2 spatial axes"):
        effective_receptive_field(nn.Conv2d(3, 3, 1), (torch.randn(1, 3, 8, 8),),
                                  theoretical=(3,))


@pytest.mark.parametrize(("mass", "fraction", "width"), [
    ([0, 0, 1, 0, 0], 1.0, 1),
    ([1, 1, 1, 1, 1], 1.0, 5),
    ([1, 1, 1, 1, 1], 0.6, 3),           # 3/5 of the mass exactly
    ([1, 1, 1, 1, 1], 0.61, 5),
    ([4, 1, 0, 0, 0], 1.0, 2),           # centre 0.2 → 0; window [0, 1] clipped at 0
    ([0, 1, 1, 0], 1.0, 3),              # centre 1.5 rounds up to 2; window [1, 3]
])
def test_window_width(mass: list[float], fraction: float, width: int) -> None:
    assert window_width(np.asarray(mass, dtype=np.float64), fraction) == width
