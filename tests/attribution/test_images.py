"""load_image on images written here: shape, resize + centre crop, normalisation by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from netanatomy.attribution.images import IMAGENET_MEAN, IMAGENET_STD, load_image
from netanatomy.errors import UsageError


def write_png(tmp_path: Path, pixels: np.ndarray, name: str = "x.png") -> Path:
    path = tmp_path / name
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(path)
    return path


def test_a_flat_colour_normalises_to_the_hand_value(tmp_path: Path) -> None:
    rgb = (200, 100, 50)
    path = write_png(tmp_path, np.full((30, 40, 3), rgb))           # 40 wide, 30 high
    image = load_image(path, size=16)
    assert image.shape == (1, 3, 16, 16) and image.dtype == torch.float32
    for c in range(3):
        hand = (rgb[c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]  # (v/255 − mean)/std
        assert torch.allclose(image[0, c], torch.full((16, 16), hand), atol=1e-5)


def test_mean_none_keeps_values_in_unit_range(tmp_path: Path) -> None:
    path = write_png(tmp_path, np.full((8, 8, 3), (255, 0, 51)))
    image = load_image(path, size=8, mean=None)
    assert image[0, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 51 / 255])


def test_the_centre_is_cropped_from_the_longer_side(tmp_path: Path) -> None:
    pixels = np.zeros((10, 30, 3))          # 30 wide, 10 high: shorter side already 10
    pixels[:, 10:20] = 255                  # the centre third is white
    image = load_image(write_png(tmp_path, pixels), size=10, mean=None)
    assert image.shape == (1, 3, 10, 10)
    assert torch.all(image == 1.0)          # the 10×10 crop is columns 10..19


def test_a_jpeg_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    Image.fromarray(np.full((20, 20, 3), 128, dtype=np.uint8)).save(path, quality=95)
    image = load_image(path, size=10, mean=None)
    assert image.shape == (1, 3, 10, 10)
    assert torch.allclose(image, torch.full_like(image, 128 / 255), atol=3 / 255)


def test_bad_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(UsageError, match="Pillow"):
        load_image(tmp_path / "text.png")
