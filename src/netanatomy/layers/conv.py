"""Convolutions PyTorch lacks: TF-style 'same' with a stride, depthwise-separable, PixelCNN
masked, and deformable (v1, pure PyTorch bilinear sampling).

Each is written with plain aten ops (pad, convolution, grid_sample), so netanatomy's
capture counts it with the ordinary rules and a built spec analyses exactly as the spec.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IntOrTuple = int | Sequence[int]


def expand(value: IntOrTuple, rank: int, what: str) -> tuple[int, ...]:
    """``3`` → ``(3, 3)``; a sequence must have ``rank`` entries."""
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise ValueError(f"{what} needs 1 or {rank} values, got {values}")
    return values


def same_pads(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
              dilation: Sequence[int]) -> list[int]:
    """TensorFlow 'SAME' padding as ``F.pad`` wants it (last axis first, before then after):
    total = max((⌈H/s⌉ − 1)·s + d·(k − 1) + 1 − H, 0), the odd pixel after."""
    pads: list[int] = []
    for size, k, s, d in reversed(list(zip(sizes, kernel, stride, dilation))):
        total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


def pair(value: IntOrTuple, what: str) -> tuple[int, int]:
    """``expand`` for the two axes of an image."""
    first, second = expand(value, 2, what)
    return first, second


class SameConvNd(nn.Module):
    """Convolution with TensorFlow's 'SAME' padding for any stride: output ⌈H/s⌉ per axis.

    PyTorch's ``padding='same'`` needs stride 1; this pads explicitly (extra pixel after,
    as TensorFlow does) from the input size at each call, then convolves unpadded.
    Parameters are those of ``nn.ConvNd`` (``weight`` (C_out, C_in/groups, *k), ``bias``).
    """

    rank = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1, dilation: IntOrTuple = 1, groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        conv = getattr(nn, f"Conv{self.rank}d")(in_channels, out_channels, kernel_size,
                                                stride=stride, dilation=dilation,
                                                groups=groups, bias=bias)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = expand(kernel_size, self.rank, "kernel_size")
        self.stride = expand(stride, self.rank, "stride")
        self.dilation = expand(dilation, self.rank, "dilation")
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = same_pads(x.shape[2:], self.kernel_size, self.stride, self.dilation)
        convolve = (F.conv1d, F.conv2d, F.conv3d)[self.rank - 1]
        return convolve(F.pad(x, pads), self.weight, self.bias, self.stride, 0,
                        self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding=SAME, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")


class SameConv1d(SameConvNd):
    rank = 1


class SameConv2d(SameConvNd):
    rank = 2


class SameConv3d(SameConvNd):
    rank = 3


class SeparableConvNd(nn.Module):
    """Depthwise-separable convolution: depthwise k×k (``dw``, groups = C_in, no bias) then
    pointwise 1×1 (``pw``, C_in → C_out, with ``bias``).

    Parameters: C_in·k^r + C_in·C_out (+ C_out); MACs per output position:
    C_in·k^r + C_in·C_out, i.e. 1/C_out + 1/k^r of a standard conv's.
    """

    rank = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1, padding: IntOrTuple | str = 0,
                 dilation: IntOrTuple = 1, bias: bool = True) -> None:
        super().__init__()
        conv = getattr(nn, f"Conv{self.rank}d")
        self.dw = conv(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                       dilation=dilation, groups=in_channels, bias=False)
        self.pw = conv(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class SeparableConv1d(SeparableConvNd):
    rank = 1


class SeparableConv2d(SeparableConvNd):
    rank = 2


class SeparableConv3d(SeparableConvNd):
    rank = 3


def pixelcnn_mask(out_channels: int, in_channels: int, kernel: tuple[int, int],
                  mask_type: str) -> torch.Tensor:
    """PixelCNN's raster mask (van den Oord et al. 2016): 1 for taps above the centre row
    and left of the centre in its row; type ``"B"`` also keeps the centre, ``"A"`` not.
    The centre is tap (k−1)//2 per axis, the one 'same' padding aligns with the output
    pixel (the middle for odd k; for even k the pixel after is excluded)."""
    height, width = kernel
    row, col = (height - 1) // 2, (width - 1) // 2
    mask = torch.zeros(out_channels, in_channels, height, width)
    mask[:, :, :row, :] = 1
    mask[:, :, row, : col + (mask_type == "B")] = 1
    return mask


Padding = int | Sequence[int] | Sequence[Sequence[int]] | str


def padding_pairs(padding: Padding, kernel: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """``(before, after)`` per axis from an int, per-axis ints, pairs, or ``'same'``
    (stride 1: total k − 1, the odd pixel after)."""
    if padding == "same":
        return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)
    if isinstance(padding, int):
        return ((padding, padding),) * len(kernel)
    pairs = [(int(p), int(p)) if isinstance(p, int) else (int(p[0]), int(p[1]))
             for p in padding]  # type: ignore[union-attr]
    if len(pairs) != len(kernel):
        raise ValueError(f"padding needs 1 or {len(kernel)} entries, got {padding!r}")
    return tuple(pairs)


class MaskedConv2d(nn.Module):
    """PixelCNN masked convolution (stride 1): output (i, j) sees only raster-earlier input
    pixels; type ``"A"`` (first layer) excludes pixel (i, j) itself, type ``"B"`` includes
    it. The mask is a buffer of the weight's shape; the masked taps still count as MACs
    (the kernel is applied dense), as in every real implementation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 mask_type: str, padding: Padding = "same", bias: bool = True) -> None:
        super().__init__()
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        kernel = pair(kernel_size, "kernel_size")
        self.kernel_size, self.mask_type = kernel, mask_type
        self.pairs = padding_pairs(padding, kernel)
        conv = nn.Conv2d(in_channels, out_channels, kernel, bias=bias)
        self.weight, self.bias = conv.weight, conv.bias
        self.mask: torch.Tensor
        self.register_buffer("mask", pixelcnn_mask(out_channels, in_channels, kernel,
                                                   mask_type))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.mask
        if all(before == after for before, after in self.pairs):
            return F.conv2d(x, weight, self.bias, padding=tuple(p for p, _ in self.pairs))
        pads = [p for pair in reversed(self.pairs) for p in pair]
        return F.conv2d(F.pad(x, pads), weight, self.bias)

    def extra_repr(self) -> str:
        out_channels, in_channels = self.weight.shape[:2]
        return (f"{in_channels}, {out_channels}, kernel_size={self.kernel_size}, "
                f"mask_type={self.mask_type}, padding={self.pairs}")


class DeformConv2d(nn.Module):
    """Deformable convolution v1 (Dai et al. 2017), in pure PyTorch.

    ``offset`` (a Conv2d with this conv's geometry, 2·k_h·k_w channels, zero-initialised so
    the layer starts as a plain conv) predicts a (Δy, Δx) per kernel tap and output
    position, in torchvision's layout (pairs in raster order of the taps). The input is
    sampled bilinearly (zeros outside) at ``o·s − p + k·d + Δ`` into a
    (N, C_in, H'·k_h, W'·k_w) tensor of columns, which a conv of stride k reduces to the
    output. Parameters match ``torchvision.ops.DeformConv2d`` plus its offset conv.
    MACs: offset conv + C_out·H'·W'·C_in·k_h·k_w.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1, padding: IntOrTuple = 0, dilation: IntOrTuple = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        taps = self.kernel_size[0] * self.kernel_size[1]
        self.offset = nn.Conv2d(in_channels, 2 * taps, self.kernel_size, self.stride,
                                self.padding, self.dilation)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)  # type: ignore[arg-type]  # created with bias
        conv = nn.Conv2d(in_channels, out_channels, self.kernel_size, bias=bias)
        self.weight, self.bias = conv.weight, conv.bias

    def sampling_grid(self, offsets: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """grid_sample's (N, H'·k_h, W'·k_w, 2) grid of normalised (x, y) sample points:
        pixel p ↦ (2p + 1)/size − 1 (``align_corners=False``, valid for an axis of size 1)."""
        batch, _, out_h, out_w = offsets.shape
        (k_h, k_w), (s_h, s_w) = self.kernel_size, self.stride
        (p_h, p_w), (d_h, d_w) = self.padding, self.dilation
        options: dict[str, Any] = {"device": offsets.device, "dtype": offsets.dtype}
        deltas = offsets.view(batch, k_h, k_w, 2, out_h, out_w).permute(0, 4, 1, 5, 2, 3)
        rows = (torch.arange(out_h, **options) * s_h - p_h).view(out_h, 1, 1, 1) \
            + (torch.arange(k_h, **options) * d_h).view(1, k_h, 1, 1)
        cols = (torch.arange(out_w, **options) * s_w - p_w).view(1, 1, out_w, 1) \
            + (torch.arange(k_w, **options) * d_w).view(1, 1, 1, k_w)
        y = (2 * (rows + deltas[..., 0]) + 1) / height - 1   # align_corners=False
        x = (2 * (cols + deltas[..., 1]) + 1) / width - 1
        return torch.stack((x, y), dim=-1).reshape(batch, out_h * k_h, out_w * k_w, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offsets = self.offset(x)
        grid = self.sampling_grid(offsets, x.shape[2], x.shape[3])
        columns = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)
        return F.conv2d(columns, self.weight, self.bias, stride=self.kernel_size)

    def extra_repr(self) -> str:
        out_channels, in_channels = self.weight.shape[:2]
        return (f"{in_channels}, {out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")


__all__ = ["DeformConv2d", "MaskedConv2d", "SameConv1d", "SameConv2d", "SameConv3d",
           "SeparableConv1d", "SeparableConv2d", "SeparableConv3d", "pixelcnn_mask"]
