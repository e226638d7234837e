"""Crop against plain slicing."""

from __future__ import annotations

import pytest
import torch

from netanatomy.layers import Crop


@pytest.mark.parametrize("shape, starts, sizes, expected", [
    ((2, 3, 10), [2], [5], lambda x: x[:, :, 2:7]),
    ((1, 2, 8, 9), [1, 3], [4, 6], lambda x: x[:, :, 1:5, 3:9]),
    ((1, 1, 5, 6, 7), [0, 1, 2], [5, 2, 3], lambda x: x[:, :, 0:5, 1:3, 2:5]),
    ((1, 2, 8, 9), [2], [3], lambda x: x[:, :, 2:5, :]),      # later axes untouched
])
def test_crop_equals_slicing(shape, starts, sizes, expected):
    x = torch.arange(torch.Size(shape).numel(), dtype=torch.float32).reshape(shape)
    assert torch.equal(Crop(starts, sizes)(x), expected(x))


def test_crop_unet_skip_64_to_56():
    # UNet (Ronneberger et al. 2015): the 64×64 skip is centre-cropped by (64 − 56)/2 = 4
    x = torch.randn(1, 512, 64, 64)
    out = Crop([4, 4], [56, 56])(x)
    assert out.shape == (1, 512, 56, 56)
    assert torch.equal(out, x[:, :, 4:60, 4:60])


def test_crop_is_a_view():
    x = torch.randn(1, 1, 6, 6)
    out = Crop([1, 1], [3, 3])(x)
    assert out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    out[0, 0, 0, 0] = 42.0
    assert x[0, 0, 1, 1].item() == 42.0


@pytest.mark.parametrize("starts, sizes", [([0], [7]), ([3], [4]), ([0, 2], [6, 5])])
def test_crop_larger_than_input_raises(starts, sizes):
    with pytest.raises(ValueError, match="cannot crop"):
        Crop(starts, sizes)(torch.zeros(1, 1, 6, 6))


def test_crop_needs_one_start_per_size():
    with pytest.raises(ValueError, match="one start per size"):
        Crop([1, 2], [3])


def test_crop_repr_names_its_window():
    assert repr(Crop([1, 2], [3, 4])) == "Crop(starts=(1, 2), sizes=(3, 4))"
