"""Images as model inputs: a file read with Pillow, resized, centre-cropped and normalised.

Defaults are torchvision's ImageNet preprocessing: the shorter side resized to ``size``
(bilinear), the centre ``size × size`` square cropped, values scaled to [0, 1], then each
channel normalised as ``(v - mean) / std`` with ImageNet's mean and std.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from netanatomy.errors import UsageError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "load_image"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel mean (R, G, B) of ImageNet's training images, in [0, 1] units."""

IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel standard deviation (R, G, B) of ImageNet's training images."""


def load_image(path: Path | str, size: int = 224,
               mean: Sequence[float] | None = IMAGENET_MEAN,
               std: Sequence[float] | None = IMAGENET_STD) -> torch.Tensor:
    """The image at ``path`` as a ``(1, 3, size, size)`` float32 tensor.

    The image is converted to RGB, its shorter side resized to ``size`` (bilinear, aspect
    kept, the longer side rounded), the centre ``size × size`` square cropped, scaled to
    [0, 1] (pixel / 255) and normalised per channel as ``(v - mean) / std``. ``mean=None``
    skips normalisation (values stay in [0, 1]); ``std=None`` divides by 1.

    Raises:
        UsageError: no such file, not an image Pillow reads, or a size below 1.
    """
    if size < 1:
        raise UsageError(f"--size must be at least 1, got {size}")
    pixels = crop_centre(resize_shorter(read_rgb(Path(path)), size), size)
    values = torch.from_numpy(np.asarray(pixels, dtype=np.float32) / 255.0)
    image = values.permute(2, 0, 1).unsqueeze(0).contiguous()
    return normalise(image, mean, std)


def read_rgb(path: Path) -> object:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise UsageError(f"--image {str(path)[:80]!r}: no such file (a PNG, JPEG, ... image)")
    try:
        with Image.open(path) as opened:
            return opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise UsageError(f"--image {str(path)[:80]!r} is not an image Pillow can read: "
                         f"{error}") from None


def resize_shorter(image: object, size: int) -> object:
    """``image`` with its shorter side ``size`` (bilinear), the aspect ratio kept."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    return image if new == image.size else image.resize(new, Image.Resampling.BILINEAR)


def crop_centre(image: object, size: int) -> object:
    """The centre ``size × size`` square of ``image`` (odd margins: one more right/below)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def normalise(image: torch.Tensor, mean: Sequence[float] | None,
              std: Sequence[float] | None) -> torch.Tensor:
    if mean is None:
        return image
    channels = image.shape[1]
    shift = channel_values("mean", mean, channels)
    scale = channel_values("std", std if std is not None else (1.0,) * channels, channels)
    return (image - shift) / scale


def channel_values(name: str, values: Sequence[float], channels: int) -> torch.Tensor:
    if len(values) != channels or (name == "std" and any(v == 0 for v in values)):
        raise UsageError(f"{name} must give {channels} values (one per channel)"
                         f"{', none 0' if name == 'std' else ''}, got {tuple(values)}")
    return torch.tensor(values, dtype=torch.float32).view(1, channels, 1, 1)

