"""Computed receptive fields of unfold / fold, pixel (un)shuffle, scans, FFTs and selections
against the gradient measurement (diagnostics/measured_rf.py), the independent method.

Where the measured support touches the input border (a scan reads back to position 0), the
sizes cannot be compared; the computed field is then placed at the measured output
position (input coordinates o·stride − padding … + size − 1) and clipped to the input,
which must give the measured first and last pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netanatomy
from netanatomy.diagnostics.measured_rf import measure_receptive_field


class After(nn.Module):
    """A 3×3 conv (a field to start from), then ``function``."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], channels: int = 2
                 ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, channels, 3)
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(self.conv(x))


def computed_and_measured(model: nn.Module, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    report = netanatomy.analyze(model, shape)
    assert not report.uncounted and not report.receptive_field.unknown_ops
    return report.receptive_field.output, measure_receptive_field(model, shape)


def assert_agrees(model: nn.Module, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """Sizes agree where unclipped; the clipped, placed field agrees on every axis."""
    field, measured = computed_and_measured(model, shape)
    assert field is not None and not field.is_global
    for axis, n in enumerate(shape[2:]):
        low = math.floor(measured.output_position[axis] * field.stride[axis]
                         - field.padding[axis])
        high = low + field.size[axis] - 1
        assert (max(low, 0), min(high, n - 1)) == (measured.first[axis], measured.last[axis])
        if not measured.clipped[axis]:
            assert field.size[axis] == measured.size[axis]
    return field, measured


def test_unfold_then_a_reshape_to_the_grid_is_the_conv_window() -> None:
    # conv 3 then unfold k3 s2 p1 on 28: grid 14 × 14; field 3 + 2·1 = 5, jump 2
    model = After(lambda y: F.unfold(y, 3, padding=1, stride=2).view(1, 2 * 9, 14, 14))
    field, _ = assert_agrees(model, (1, 2, 30, 30))
    assert field.size == (5, 5) and field.stride == (2, 2) and field.padding == (1, 1)


def test_unfold_output_itself_is_flattened() -> None:
    report = netanatomy.analyze(nn.Unfold(3), (1, 2, 8, 8))
    assert report.receptive_field.output is None and not report.receptive_field.unknown_ops


class ColumnsMixedThenFolded(nn.Module):
    """im2col, a linear layer over each column (it mixes channels and kernel offsets),
    col2im: a convolution and a transposed one, written with unfold / fold."""

    def __init__(self, k: int, s: int, p: int) -> None:
        super().__init__()
        self.k, self.s, self.p = k, s, p
        self.mix = nn.Linear(2 * k * k, 2 * k * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = F.unfold(x, self.k, padding=self.p, stride=self.s)
        columns = self.mix(columns.transpose(1, 2)).transpose(1, 2)
        return F.fold(columns, x.shape[-2:], self.k, padding=self.p, stride=self.s)


@pytest.mark.parametrize("k, s, p, expected", [
    (3, 1, 1, 3 + 2 * 1),          # window 3, then the transposed window: 2 more
    (3, 2, 1, 3 + 1 * 2),          # ⌊2/2⌋ = 1 more window at jump 2
    (2, 2, 0, 2),                  # blocks: each pixel is in one block
    (5, 3, 2, 5 + 1 * 3),
])
def test_unfold_mix_fold_is_window_then_transposed_window(k, s, p, expected) -> None:
    field, measured = computed_and_measured(ColumnsMixedThenFolded(k, s, p),
                                            (1, 2, 31, 31))
    assert not any(measured.clipped)
    assert field.size == measured.size == (expected, expected) and field.stride == (1, 1)


@pytest.mark.parametrize("function, channels, expected_stride", [
    (lambda y: F.pixel_shuffle(y, 2), 8, 0.5),
    (lambda y: F.pixel_shuffle(y, 3), 9, 1 / 3),
    (lambda y: F.pixel_unshuffle(y, 2), 2, 2),
])
def test_pixel_shuffle_and_unshuffle(function, channels, expected_stride) -> None:
    field, _ = assert_agrees(After(function, channels), (1, 2, 26, 26))
    assert float(field.stride[0]) == pytest.approx(expected_stride)
    # shuffle reads one input per output (3 stays 3); unshuffle r·o … r·o + 1 (3 + 1)
    assert field.size == ((4, 4) if expected_stride == 2 else (3, 3))


def test_unbatched_pixel_shuffle_has_a_field() -> None:
    # (C·r², H, W): the field starts on the last axis only; the window for H has no field
    field = netanatomy.analyze(nn.PixelShuffle(2), (8, 3, 5)).receptive_field.output
    assert field.size == (1,) and float(field.stride[0]) == 0.5


@pytest.mark.parametrize("dim", [2, 3, -1, 1])
def test_cumsum_is_causal_along_its_axis(dim: int) -> None:
    field, measured = assert_agrees(After(lambda y: torch.cumsum(y, dim)), (1, 2, 29, 29))
    scanned = {2: 0, 3: 1, -1: 1}.get(dim)
    for axis in (0, 1):
        if axis == scanned:   # first output: conv field + (27 − 1) positions before it
            assert field.size[axis] == 3 + 26 and field.padding[axis] == 26
            assert measured.first[axis] == 0                  # reads back to the border
        else:
            assert field.size[axis] == 3 and not measured.clipped[axis]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_cumsum_in_channels_last_layout_follows_its_axis(dim: int) -> None:
    def scan_channels_last(y: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(y.permute(0, 2, 3, 1), dim).permute(0, 3, 1, 2)

    field, _ = assert_agrees(After(scan_channels_last), (1, 2, 21, 21))
    assert field.size == {1: (3 + 18, 3), 2: (3, 3 + 18), 3: (3, 3)}[dim]


def test_integral_image_composes() -> None:
    # an integral image: cumsum along H then W
    assert_agrees(After(lambda y: torch.cumsum(torch.cumsum(y, 2), 3)), (1, 2, 17, 17))


def test_fft_over_both_axes_is_global() -> None:
    field, measured = computed_and_measured(After(lambda y: torch.fft.fft2(y).real),
                                            (1, 2, 21, 21))
    assert field.is_global and measured.is_global


def test_fft_along_one_axis_is_reported_global() -> None:
    # convention: mixing any spatial axis makes the field global (as softmax, reductions);
    # the measurement agrees along the transformed axis, which it covers entirely
    field, measured = computed_and_measured(After(lambda y: torch.fft.rfft(y).abs()),
                                            (1, 2, 21, 21))
    assert field.is_global
    assert (measured.first[1], measured.last[1]) == (0, 20)


@pytest.mark.parametrize("function", [
    lambda y: torch.sort(y, dim=1)[0], lambda y: torch.topk(y, 1, dim=1)[0],
    lambda y: torch.median(y, dim=1, keepdim=True)[0],
    lambda y: torch.aminmax(y, dim=1, keepdim=True)[1],
])
def test_selection_along_channels_keeps_the_field(function) -> None:
    field, _ = assert_agrees(After(function), (1, 2, 15, 15))
    assert field.size == (3, 3)


def test_selection_along_a_spatial_axis_is_global() -> None:
    # the gradient of a sorted value reaches only the element that landed there, so the
    # measurement cannot see what the comparisons read; the computed field says global
    report = netanatomy.analyze(After(lambda y: torch.sort(y, dim=-1)[0]), (1, 2, 15, 15))
    assert report.receptive_field.output.is_global
