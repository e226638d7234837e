"""Convolution layers checked against torch's own convs, hand formulas and brute-force loops."""

from __future__ import annotations

import math
from itertools import product

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from netanatomy.layers import (
    DeformConv2d,
    MaskedConv2d,
    SameConv1d,
    SameConv2d,
    SameConv3d,
    SeparableConv1d,
    SeparableConv2d,
    SeparableConv3d,
    pixelcnn_mask,
)

F64 = torch.float64
SAME_CONV = {1: SameConv1d, 2: SameConv2d, 3: SameConv3d}
TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
SEPARABLE = {1: SeparableConv1d, 2: SeparableConv2d, 3: SeparableConv3d}
CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
EVEN_KERNEL_WARNING = "ignore:Using padding='same' with even kernel"


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    with torch.no_grad():
        target.weight.copy_(source.weight)
        if source.bias is not None:
            target.bias.copy_(source.bias)


# --- SameConv: TensorFlow 'SAME' ---------------------------------------------------------

@pytest.mark.filterwarnings(EVEN_KERNEL_WARNING)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kernel, dilation", [(3, 1), (4, 1), (2, 3), (3, 2), (5, 1)])
def test_same_conv_stride_one_equals_torch_padding_same(rank, kernel, dilation):
    torch.manual_seed(0)
    ours = SAME_CONV[rank](3, 4, kernel, dilation=dilation).double()
    reference = TORCH_CONV[rank](3, 4, kernel, padding="same", dilation=dilation).double()
    copy_weights(ours, reference)
    x = torch.randn(2, 3, *[7, 8, 6][:rank], dtype=F64)
    assert_close(ours(x), reference(x))


@pytest.mark.filterwarnings(EVEN_KERNEL_WARNING)
def test_same_conv2d_mixed_kernel_and_dilation_equals_torch_padding_same():
    torch.manual_seed(1)
    ours = SameConv2d(2, 3, (2, 5), dilation=(3, 1), groups=1).double()
    reference = nn.Conv2d(2, 3, (2, 5), padding="same", dilation=(3, 1)).double()
    copy_weights(ours, reference)
    x = torch.randn(1, 2, 9, 10, dtype=F64)
    assert_close(ours(x), reference(x))


@pytest.mark.parametrize("size", [5, 6, 7, 8, 9, 10, 11, 12, 13])
@pytest.mark.parametrize("stride", [2, 3, 4])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_same_conv_output_size_is_ceil_of_size_over_stride(size, stride, kernel):
    conv = SameConv2d(1, 1, kernel, stride=stride)
    out = conv(torch.zeros(1, 1, size, size + 1))
    assert out.shape == (1, 1, -(-size // stride), -(-(size + 1) // stride))


@pytest.mark.parametrize("size, stride", [(7, 2), (10, 3), (16, 4)])
def test_same_conv1d_and_3d_output_size_is_ceil_of_size_over_stride(size, stride):
    assert SameConv1d(1, 2, 3, stride=stride)(torch.zeros(1, 1, size)).shape[-1] == \
        math.ceil(size / stride)
    out = SameConv3d(1, 2, 3, stride=stride)(torch.zeros(1, 1, size, size, size))
    assert out.shape[2:] == (math.ceil(size / stride),) * 3


# Each geometry: ⌈H/s⌉ outputs need (⌈H/s⌉ − 1)·s + d·(k − 1) + 1 input rows; when the
# shortfall is even, TF pads half on each side, which nn.Conv2d can do itself.
SYMMETRIC_CASES = [
    # (H, k, s, d, per-side pad): worked out by hand
    (7, 3, 2, 1, 1),   # 4 outputs need 3·2 + 3 = 9 rows, 2 more than 7
    (8, 4, 2, 1, 1),   # 4 outputs need 3·2 + 4 = 10 rows, 2 more than 8
    (9, 5, 3, 1, 1),   # 3 outputs need 2·3 + 5 = 11 rows, 2 more than 9
    (9, 3, 2, 2, 2),   # 5 outputs need 4·2 + 2·2 + 1 = 13 rows, 4 more than 9
]


@pytest.mark.parametrize("size, kernel, stride, dilation, pad", SYMMETRIC_CASES)
def test_same_conv_with_symmetric_tf_padding_equals_nn_conv2d(size, kernel, stride, dilation,
                                                               pad):
    torch.manual_seed(2)
    ours = SameConv2d(3, 2, kernel, stride=stride, dilation=dilation).double()
    reference = nn.Conv2d(3, 2, kernel, stride=stride, padding=pad, dilation=dilation).double()
    copy_weights(ours, reference)
    x = torch.randn(2, 3, size, size, dtype=F64)
    assert_close(ours(x), reference(x))


@pytest.mark.filterwarnings(EVEN_KERNEL_WARNING)
@pytest.mark.parametrize("size, kernel, stride, first", [
    # TF puts the odd padding pixel after, so output o starts at input o·s − before; torch's
    # stride-1 'same' output q starts at q − (k − 1)//2, so TF-strided = torch-same[first::s]
    (8, 3, 2, 1),   # shortfall 1 → before 0; stride-1 before 1 → q = 2·o + 1
    (10, 3, 2, 1),  # shortfall 1 → before 0
    (7, 3, 2, 0),   # shortfall 2 → before 1 → q = 2·o
    (9, 2, 2, 0),   # 5 outputs need 4·2 + 2 = 10, shortfall 1 → before 0; stride-1 before 0
    (8, 5, 3, 1),   # 3 outputs need 2·3 + 5 = 11, shortfall 3 → before 1; stride-1 before 2,
                    # so window o starts at 3·o − 1 = q − 2 → q = 3·o + 1
])
def test_same_conv_strided_equals_stride_one_same_subsampled(size, kernel, stride, first):
    torch.manual_seed(3)
    strided = SameConv2d(2, 3, kernel, stride=stride).double()
    dense = nn.Conv2d(2, 3, kernel, padding="same").double()
    copy_weights(strided, dense)
    x = torch.randn(1, 2, size, size, dtype=F64)
    assert_close(strided(x), dense(x)[..., first::stride, first::stride])


def test_same_conv_groups_and_no_bias_match_torch():
    torch.manual_seed(5)
    ours = SameConv2d(4, 6, 3, groups=2, bias=False).double()
    reference = nn.Conv2d(4, 6, 3, padding="same", groups=2, bias=False).double()
    assert ours.bias is None
    assert ours.weight.shape == reference.weight.shape == (6, 2, 3, 3)
    copy_weights(ours, reference)
    x = torch.randn(1, 4, 5, 5, dtype=F64)
    assert_close(ours(x), reference(x))


def test_same_conv_parameters_are_those_of_nn_conv():
    conv = SameConv3d(3, 5, (1, 2, 3))
    shapes = {name: tuple(p.shape) for name, p in conv.named_parameters()}
    assert shapes == {"weight": (5, 3, 1, 2, 3), "bias": (5,)}
    assert "padding=SAME" in repr(conv)


def test_same_conv_rejects_kernel_of_wrong_rank():
    with pytest.raises(ValueError, match="kernel_size"):
        SameConv2d(1, 1, (3, 3, 3))


# --- SeparableConv -----------------------------------------------------------------------

@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_separable_parameter_count_is_hand_formula(rank, bias):
    c_in, c_out, k = 8, 16, 3
    conv = SEPARABLE[rank](c_in, c_out, k, bias=bias)
    expected = c_in * k**rank + c_in * c_out + (c_out if bias else 0)  # dw + pw (+ bias)
    assert sum(p.numel() for p in conv.parameters()) == expected


def test_separable_conv2d_parameter_count_example():
    # 32 → 64 with a 3×3 kernel: 32·3² (depthwise) + 32·64 (pointwise) + 64 (bias)
    conv = SeparableConv2d(32, 64, 3)
    assert sum(p.numel() for p in conv.parameters()) == 32 * 3**2 + 32 * 64 + 64


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_separable_conv2d_equals_hand_built_depthwise_then_pointwise(stride, padding,
                                                                     dilation):
    torch.manual_seed(6)
    conv = SeparableConv2d(3, 5, 3, stride=stride, padding=padding, dilation=dilation).double()
    x = torch.randn(2, 3, 9, 8, dtype=F64)
    depthwise = F.conv2d(x, conv.dw.weight, None, stride, padding, dilation, groups=3)
    expected = F.conv2d(depthwise, conv.pw.weight, conv.pw.bias)
    assert_close(conv(x), expected)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_separable_equals_dense_conv_with_factored_weight(rank):
    # Independent method: W[o, c] = pw[o, c] · dw[c], applied as one dense conv.
    torch.manual_seed(7)
    conv = SEPARABLE[rank](3, 4, 3, padding=1).double()
    dw = conv.dw.weight[:, 0]                      # (C_in, *k)
    pw = conv.pw.weight.reshape(4, 3)              # (C_out, C_in)
    dense = pw.reshape(4, 3, *([1] * rank)) * dw.unsqueeze(0)
    x = torch.randn(1, 3, *[6, 5, 4][:rank], dtype=F64)
    assert_close(conv(x), CONV_FN[rank](x, dense, conv.pw.bias, padding=1))


def test_separable_depthwise_has_no_bias_and_one_group_per_channel():
    conv = SeparableConv2d(6, 2, 3)
    assert conv.dw.bias is None
    assert conv.dw.groups == 6
    assert conv.pw.kernel_size == (1, 1)


# --- MaskedConv2d ------------------------------------------------------------------------

def raster_support(height: int, width: int, i: int, j: int, k_h: int, k_w: int,
                   include_centre: bool) -> torch.Tensor:
    """Input pixels a centred k_h×k_w window at (i, j) reaches that are raster-earlier than
    (i, j) (or equal, when ``include_centre``): the PixelCNN dependency set."""
    support = torch.zeros(height, width, dtype=torch.bool)
    for a, b in product(range(height), range(width)):
        in_window = abs(a - i) <= k_h // 2 and abs(b - j) <= k_w // 2
        earlier = (a, b) < (i, j) or (include_centre and (a, b) == (i, j))
        support[a, b] = in_window and earlier
    return support


def input_gradient_support(conv: nn.Module, height: int, width: int, i: int, j: int
                           ) -> torch.Tensor:
    """Which input pixels output pixel (i, j) (summed over channels) depends on."""
    x = torch.randn(1, conv.weight.shape[1], height, width, dtype=F64, requires_grad=True)
    conv(x)[0, :, i, j].sum().backward()
    return x.grad.abs().sum(dim=(0, 1)) > 0


def positive_masked_conv(*args, **kwargs) -> MaskedConv2d:
    """Positive weights, so no sum of taps cancels by accident."""
    conv = MaskedConv2d(*args, **kwargs).double()
    with torch.no_grad():
        conv.weight.copy_(conv.weight.abs() + 0.1)
    return conv


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel", [3, 5, (3, 5)])
def test_masked_conv_output_sees_exactly_the_raster_earlier_window(mask_type, kernel):
    torch.manual_seed(8)
    conv = positive_masked_conv(2, 3, kernel, mask_type)
    k_h, k_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    height, width = 6, 7
    for i, j in product(range(height), range(width)):
        expected = raster_support(height, width, i, j, k_h, k_w, mask_type == "B")
        assert torch.equal(input_gradient_support(conv, height, width, i, j), expected), (i, j)


@pytest.mark.parametrize("kernel", [3, 5])
def test_masked_conv_type_a_excludes_centre_and_type_b_includes_it(kernel):
    torch.manual_seed(9)
    i, j = 3, 3
    support_a = input_gradient_support(positive_masked_conv(1, 1, kernel, "A"), 7, 7, i, j)
    support_b = input_gradient_support(positive_masked_conv(1, 1, kernel, "B"), 7, 7, i, j)
    assert not support_a[i, j] and support_b[i, j]
    later = torch.tensor([[(a, b) > (i, j) for b in range(7)] for a in range(7)])
    assert not support_a[later].any() and not support_b[later].any()
    assert support_a[~later].any()  # something earlier is seen


@pytest.mark.parametrize("kernel", [2, 4, (2, 4), (3, 4)])
def test_masked_conv_even_kernel_same_padding_keeps_size(kernel):
    conv = MaskedConv2d(2, 3, kernel, "B")
    assert conv(torch.zeros(1, 2, 7, 6)).shape == (1, 3, 7, 6)


@pytest.mark.parametrize("kernel", [2, 4])
def test_masked_conv_even_kernel_is_causal(kernel):
    torch.manual_seed(10)
    i, j = 3, 3
    support = input_gradient_support(positive_masked_conv(1, 1, kernel, "A"), 7, 7, i, j)
    later_or_centre = torch.tensor([[(a, b) >= (i, j) for b in range(7)] for a in range(7)])
    assert not support[later_or_centre].any()


def test_masked_conv_equals_conv_with_hand_masked_weight():
    torch.manual_seed(11)
    conv = MaskedConv2d(2, 3, 5, "A").double()
    mask = torch.zeros(5, 5, dtype=F64)
    mask[:2, :] = 1       # rows above the centre
    mask[2, :2] = 1       # left of the centre in the centre row (type A: not the centre)
    x = torch.randn(1, 2, 6, 6, dtype=F64)
    assert_close(conv(x), F.conv2d(x, conv.weight * mask, conv.bias, padding=2))


def test_masked_conv_explicit_asymmetric_padding():
    torch.manual_seed(12)
    conv = MaskedConv2d(1, 2, 3, "B", padding=[(2, 0), (1, 1)]).double()
    x = torch.randn(1, 1, 5, 6, dtype=F64)
    padded = torch.cat([torch.zeros(1, 1, 2, 6, dtype=F64), x], dim=2)
    expected = F.conv2d(padded, conv.weight * conv.mask, conv.bias, padding=(0, 1))
    assert_close(conv(x), expected)
    assert conv(x).shape == (1, 2, 5, 6)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_pixelcnn_mask_matches_definition(mask_type):
    height, width = 5, 3
    mask = pixelcnn_mask(2, 4, (height, width), mask_type)
    assert mask.shape == (2, 4, height, width)
    for a, b in product(range(height), range(width)):
        expected = (a, b) < (2, 1) or (mask_type == "B" and (a, b) == (2, 1))
        assert torch.equal(mask[:, :, a, b], torch.full((2, 4), float(expected))), (a, b)


def test_masked_conv_mask_is_a_buffer_not_a_parameter():
    conv = MaskedConv2d(2, 3, 3, "A")
    assert "mask" in dict(conv.named_buffers())
    assert "mask" not in dict(conv.named_parameters())
    assert conv.mask.shape == conv.weight.shape
    assert sum(p.numel() for p in conv.parameters()) == 3 * 2 * 3 * 3 + 3  # weight + bias


def test_masked_conv_rejects_unknown_mask_type():
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")


def test_masked_conv_rejects_padding_of_wrong_rank():
    with pytest.raises(ValueError, match="padding"):
        MaskedConv2d(1, 1, 3, "A", padding=[1, 1, 1])


# --- DeformConv2d ------------------------------------------------------------------------

def bilinear(image: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Bilinear sample of a (H, W) image at real (y, x), zero outside, by its four
    corners."""
    height, width = image.shape
    y0, x0 = math.floor(y), math.floor(x)
    value = image.new_zeros(())
    for cy, cx in product((y0, y0 + 1), (x0, x0 + 1)):
        if 0 <= cy < height and 0 <= cx < width:
            value = value + (1 - abs(y - cy)) * (1 - abs(x - cx)) * image[cy, cx]
    return value


def brute_deform_conv(x, offsets, weight, bias, stride, padding, dilation):
    """Deformable conv v1 by explicit loops: tap (i, j) at output (oy, ox) samples
    (oy·s − p + i·d + Δy, ox·s − p + j·d + Δx), Δ from channels 2·(i·k_w + j) (+1)."""
    batch, c_in = x.shape[:2]
    c_out, _, k_h, k_w = weight.shape
    out_h, out_w = offsets.shape[2:]
    out = torch.zeros(batch, c_out, out_h, out_w, dtype=x.dtype)
    for n, oy, ox, i, j in product(range(batch), range(out_h), range(out_w), range(k_h),
                                   range(k_w)):
        tap = i * k_w + j
        y = oy * stride[0] - padding[0] + i * dilation[0] + offsets[n, 2 * tap, oy, ox]
        xx = ox * stride[1] - padding[1] + j * dilation[1] + offsets[n, 2 * tap + 1, oy, ox]
        samples = torch.stack([bilinear(x[n, c], float(y), float(xx)) for c in range(c_in)])
        out[n, :, oy, ox] += weight[:, :, i, j] @ samples
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


GEOMETRIES = [
    # (kernel, stride, padding, dilation, input H×W)
    (3, 1, 1, 1, (6, 7)),
    (3, 2, 1, 1, (7, 8)),
    (3, 1, 2, 2, (6, 6)),
    ((2, 3), (2, 1), (0, 1), (1, 2), (7, 6)),
    (1, 1, 0, 1, (4, 5)),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, size", GEOMETRIES)
def test_deform_conv_with_zero_offsets_equals_conv2d(kernel, stride, padding, dilation, size):
    torch.manual_seed(13)
    conv = DeformConv2d(3, 4, kernel, stride, padding, dilation).double()
    x = torch.randn(2, 3, *size, dtype=F64)
    assert torch.count_nonzero(conv.offset(x)) == 0  # default init: a plain conv
    expected = F.conv2d(x, conv.weight, conv.bias, stride, padding, dilation)
    assert_close(conv(x), expected)


@pytest.mark.parametrize("kernel, stride, padding, dilation, size", GEOMETRIES[:4])
def test_deform_conv_unit_row_offset_equals_conv_of_shifted_input(kernel, stride, padding,
                                                                  dilation, size):
    torch.manual_seed(14)
    conv = DeformConv2d(2, 3, kernel, stride, padding, dilation).double()
    with torch.no_grad():
        conv.offset.bias[0::2] = 1.0   # Δy = 1 for every tap
        conv.offset.bias[1::2] = 0.0   # Δx = 0
    x = torch.randn(1, 2, *size, dtype=F64)
    # Shift the zero-padded input, so a tap in the top padding row reads real row 0.
    p_h, p_w = conv.padding
    padded = F.pad(x, (p_w, p_w, p_h, p_h))
    shifted = torch.zeros_like(padded)
    shifted[:, :, :-1] = padded[:, :, 1:]  # row r reads row r + 1; zeros come in at the bottom
    expected = F.conv2d(shifted, conv.weight, conv.bias, stride, 0, dilation)
    assert_close(conv(x), expected)


@pytest.mark.parametrize("kernel, stride, padding, dilation, size", GEOMETRIES[:4])
def test_deform_conv_fractional_offsets_equal_brute_force_bilinear(kernel, stride, padding,
                                                                   dilation, size):
    torch.manual_seed(15)
    conv = DeformConv2d(2, 3, kernel, stride, padding, dilation).double()
    with torch.no_grad():  # offsets vary per tap and per position, some land outside
        conv.offset.weight.normal_(0.0, 0.5)
        conv.offset.bias.uniform_(-1.5, 1.5)
    x = torch.randn(2, 2, *size, dtype=F64)
    offsets = conv.offset(x).detach()
    assert offsets.abs().max() > 1.0 and (offsets - offsets.round()).abs().max() > 0.1
    expected = brute_deform_conv(x, offsets, conv.weight, conv.bias, conv.stride,
                                 conv.padding, conv.dilation)
    assert_close(conv(x), expected)


def test_deform_conv_offset_layout_is_torchvision_dy_dx_per_tap_in_raster_order():
    # One tap moved: tap (0, 1) of a 2×3 kernel (channel 2·(0·3 + 1) = 2 is its Δy, 3 its Δx)
    # samples half a pixel right; every other tap stays put.
    torch.manual_seed(16)
    conv = DeformConv2d(1, 1, (2, 3), bias=False).double()
    with torch.no_grad():
        conv.offset.bias[3] = 0.5
    x = torch.randn(1, 1, 5, 6, dtype=F64)
    moved = conv.weight.detach().clone()
    moved[0, 0, 0, 1] = 0.0
    half_right = 0.5 * (x[..., :, 1:5] + x[..., :, 2:6])   # (0, 1) tap at x + 1.5
    expected = F.conv2d(x, moved) + conv.weight[0, 0, 0, 1] * half_right[..., :4, :]
    assert_close(conv(x), expected)


@pytest.mark.parametrize("size", [(1, 4), (4, 1)])
def test_deform_conv_offsets_act_on_an_axis_of_size_one(size):
    conv = DeformConv2d(1, 1, 1, bias=False).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.offset.bias.fill_(0.5)   # Δy = Δx = 0.5 for the single tap
    x = torch.arange(1.0, 5.0, dtype=F64).view(1, 1, *size)
    offsets = conv.offset(x).detach()
    expected = brute_deform_conv(x, offsets, conv.weight, None, (1, 1), (0, 0), (1, 1))
    assert_close(conv(x), expected)


def test_deform_conv_gradients_reach_offsets():
    torch.manual_seed(17)
    conv = DeformConv2d(2, 2, 3, padding=1).double()
    with torch.no_grad():
        conv.offset.bias.uniform_(-0.4, 0.4)  # off the integer grid: bilinear has a slope
    conv(torch.randn(1, 2, 5, 5, dtype=F64)).sum().backward()
    assert conv.offset.weight.grad.abs().sum() > 0


def test_deform_conv_parameter_count():
    # offset conv: 2·k² channels from C_in with a k×k kernel, plus the main conv
    c_in, c_out, k = 3, 8, 3
    conv = DeformConv2d(c_in, c_out, k)
    offset = (2 * k * k) * c_in * k * k + 2 * k * k
    main = c_out * c_in * k * k + c_out
    assert sum(p.numel() for p in conv.parameters()) == offset + main
