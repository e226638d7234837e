"""NA006 (masked-conv blind spot) and NA007 (gridding holes of dilated stacks), checked
against the gradient support of the central output measured on the real stack (positive
weights, no bias, positive input: every tap that reaches the output has a nonzero
gradient)."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import netanatomy
from netanatomy.analysis.findings import Lint
from netanatomy.analysis.patterns import blind_spot, mask_taps, minkowski
from netanatomy.layers.conv import MaskedConv2d, pixelcnn_mask

Offset = tuple[int, int]


def positive_copy(model: nn.Module) -> nn.Module:
    """Weights |w| + 0.1, biases zero (masks, being buffers, stay)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.copy_(parameter.abs() + 0.1)
    return model


def gradient_support(model: nn.Module, channels: int, size: int) -> set[Offset]:
    """Input offsets (from the centre) on which the centre output depends."""
    x = torch.ones(1, channels, size, size, requires_grad=True)
    centre = size // 2
    positive_copy(model)(x)[0, :, centre, centre].sum().backward()
    assert x.grad is not None
    rows, cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1)), as_tuple=True)
    return {(int(i) - centre, int(j) - centre) for i, j in zip(rows, cols)}


def raster_earlier_holes(support: set[Offset]) -> set[Offset]:
    """Raster-earlier offsets (dy < 0, or dy = 0 and dx < 0) inside the bounding box of
    ``support`` that it misses, enumerated independently of the lint."""
    rows = range(min(dy for dy, _ in support), max(dy for dy, _ in support) + 1)
    cols = range(min(dx for _, dx in support), max(dx for _, dx in support) + 1)
    return {(dy, dx) for dy in rows for dx in cols
            if (dy < 0 or (dy == 0 and dx < 0)) and (dy, dx) not in support}


def codes(model: nn.Module, shape: str, code: str) -> list[Lint]:
    return [lint for lint in netanatomy.lint(model, shape) if lint.code == code]


def pixelcnn(kernels: tuple[int, ...]) -> nn.Sequential:
    """Masked convs, type A first, then type B, ReLU between."""
    layers: list[nn.Module] = []
    for index, kernel in enumerate(kernels):
        layers += [MaskedConv2d(1 if index == 0 else 4, 4, kernel, "A" if index == 0 else "B"),
                   nn.ReLU()]
    return nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("kernels", [(3, 3), (3, 3, 3), (5, 3, 3), (7, 3, 3, 3), (4, 4)])
def test_blind_spot_count_matches_the_gradient_support(kernels: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = pixelcnn(kernels)
    size = 2 * sum(kernels) + 1
    expected = raster_earlier_holes(gradient_support(model, 1, size))
    (lint,) = codes(model, f"1x1x{size}x{size}", "NA006")
    assert lint.path == str(2 * (len(kernels) - 1))                     # the last conv
    assert f"stack of {len(kernels)} masked convs" in lint.message
    assert f"never sees {len(expected)} raster-earlier pixels" in lint.message
    found = re.search(r"offset \(dy, dx\) = \((-?\d+), (-?\d+)\)", lint.message)
    assert found is not None
    assert (int(found[1]), int(found[2])) in expected


def test_composed_taps_equal_the_gradient_support() -> None:
    torch.manual_seed(0)
    model = pixelcnn((3, 3, 3))
    taps = [mask_taps(pixelcnn_mask(1, 1, (3, 3), kind)) for kind in "ABB"]
    reachable = minkowski(minkowski(taps[0], taps[1]), taps[2])
    support = gradient_support(model, 1, 15)
    assert reachable == support
    assert set(blind_spot(reachable)) == raster_earlier_holes(support)


def test_even_kernel_centre_is_the_tap_same_padding_aligns() -> None:
    # 4×4 type A: centre tap (1, 1), so rows −1 (all 4 columns −1…2) and (0, −1) are kept
    assert mask_taps(pixelcnn_mask(1, 1, (4, 4), "A")) == {
        (-1, -1), (-1, 0), (-1, 1), (-1, 2), (0, -1)}
    torch.manual_seed(0)
    model = pixelcnn((4, 4))
    assert (0, 0) in mask_taps(pixelcnn_mask(1, 1, (4, 4), "B"))
    support = gradient_support(model, 1, 17)
    taps = [mask_taps(pixelcnn_mask(1, 1, (4, 4), kind)) for kind in "AB"]
    assert minkowski(*taps) == support


def test_single_masked_conv_has_no_blind_spot() -> None:
    torch.manual_seed(0)
    model = pixelcnn((3,))
    assert raster_earlier_holes(gradient_support(model, 1, 9)) == set()
    assert codes(model, "1x1x9x9", "NA006") == []


def test_plain_convs_are_not_masked() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1))
    assert codes(model, "1x1x9x9", "NA006") == []


# --- NA007 -------------------------------------------------------------------------------

def dilated_stack(dilations: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for dilation in dilations:
        layers += [nn.Conv2d(2, 2, 3, dilation=dilation, padding=dilation), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def support_holes(dilations: tuple[int, ...]) -> int:
    """Positions of the bounding box the central output does not depend on."""
    torch.manual_seed(0)
    support = gradient_support(dilated_stack(dilations), 2, 41)
    rows = {dy for dy, _ in support}
    cols = {dx for _, dx in support}
    box = (max(rows) - min(rows) + 1) * (max(cols) - min(cols) + 1)
    return box - len(support)


def test_dilation_2_2_2_has_gridding_holes() -> None:
    # per axis the taps are multiples of 2 in −6…6: 13 positions, 7 sampled
    assert support_holes((2, 2, 2)) == 13 * 13 - 7 * 7
    (lint,) = codes(dilated_stack((2, 2, 2)), "1x2x32x32", "NA007")
    assert lint.path == "4"
    assert "dilations (2, 2, 2)" in lint.message
    assert "spans 13 positions per axis but samples only 7" in lint.message


def test_dilation_1_2_5_has_none() -> None:
    assert support_holes((1, 2, 5)) == 0                 # {0,±1} + {0,±2} + {0,±5}: −8…8
    assert codes(dilated_stack((1, 2, 5)), "1x2x32x32", "NA007") == []


def test_undilated_stack_is_not_checked() -> None:
    assert support_holes((1, 1, 1)) == 0
    assert codes(dilated_stack((1, 1, 1)), "1x2x32x32", "NA007") == []


def test_a_single_dilated_conv_is_a_hole_pattern_too() -> None:
    # one 3×3 conv of dilation 2 samples 3 of the 5 positions of its field per axis
    assert support_holes((2,)) == 5 * 5 - 3 * 3
    (lint,) = codes(dilated_stack((2,)), "1x2x32x32", "NA007")
    assert "samples only 3" in lint.message


def test_holes_reported_on_the_axis_that_has_them() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 3, dilation=(1, 2), padding=(1, 2)))
    (lint,) = codes(model, "1x2x16x16", "NA007")
    assert "spans 5 positions per axis but samples only 3" in lint.message   # the x axis


def conv1d_stack(layers: tuple[tuple[int, int], ...]) -> nn.Sequential:
    """1-D convs of (kernel, dilation), one channel, no padding."""
    return nn.Sequential(*[nn.Conv1d(1, 1, k, dilation=d) for k, d in layers])


def support_1d(model: nn.Module, size: int) -> set[int]:
    """Input positions the first output depends on (positive weights, by the gradient)."""
    x = torch.ones(1, 1, size, requires_grad=True)
    positive_copy(model)(x)[0, 0, 0].backward()
    assert x.grad is not None
    return {int(i) for i in torch.nonzero(x.grad[0, 0]).flatten()}


@pytest.mark.parametrize(("layers", "holes"), [
    (((2, 2),), 1),                  # taps {0, 2}: position 1 missed
    (((3, 1), (2, 4)), 1),           # {0, 1, 2} + {0, 4} = 0…6 without 3
    (((3, 1), (2, 3)), 0),           # {0, 1, 2} + {0, 3} = 0…5
    (((3, 1), (3, 3)), 0),           # {0, 1, 2} + {0, 3, 6} = 0…8
])
def test_na007_reports_a_single_hole_and_not_none(layers: tuple[tuple[int, int], ...],
                                                  holes: int) -> None:
    torch.manual_seed(0)
    model = conv1d_stack(layers)
    support = support_1d(model, 32)
    assert max(support) - min(support) + 1 - len(support) == holes      # brute force
    found = codes(conv1d_stack(layers), "1x1x32", "NA007")
    assert len(found) == (1 if holes else 0)
    if holes:
        span = max(support) - min(support) + 1
        assert f"spans {span} positions per axis but samples only {span - 1}" \
            in found[0].message

