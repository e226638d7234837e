"""TF-slim architectures of the receptive-field table of Araujo, Norris and Sim (Distill,
2019), written in PyTorch up to the end points that table reports.

Transcribed from tensorflow/models research/slim/nets (alexnet.py, vgg.py, resnet_v1.py,
resnet_utils.py, mobilenet_v1.py, inception_v3.py) with the arg scopes that
google-research/receptive_field's rf_benchmark.py builds them under: none for alexnet_v2
and vgg_16 (so slim's defaults hold: conv2d padding 'SAME', max_pool2d padding 'VALID'),
``resnet_arg_scope()`` for resnet_v1 (max_pool2d padding 'SAME'), the networks' own scopes
for mobilenet_v1 and inception_v3.

TF 'SAME' is written out as an explicit zero pad (:class:`SamePad`) computed from the
input size exactly as TF does: ``total = max((ceil(n/s) − 1)·s + k − n, 0)``, ``total // 2``
before and the rest (the extra pixel) after. Max-pools are padded with zeros rather than
−inf, which gives the same values on their non-negative (post-ReLU) inputs and the same
geometry. Only geometry matters here: the weights are arbitrary, batch norm is left out,
and ``width`` scales every channel count (the fields do not depend on it; the gradient
measurement uses thin copies to stay fast).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Pair = int | tuple[int, int]


def pair(value: Pair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TF 'SAME' along one axis of length ``size``."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SamePad(nn.Module):
    """TF 'SAME' padding for the window (kernel, stride) that follows it."""

    def __init__(self, kernel: Pair, stride: Pair) -> None:
        super().__init__()
        self.kernel, self.stride = pair(kernel), pair(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_same_pads(x.shape[-2], self.kernel[0], self.stride[0])
        left, right = tf_same_pads(x.shape[-1], self.kernel[1], self.stride[1])
        return F.pad(x, (left, right, top, bottom))


class Concat(nn.Module):
    """Parallel branches concatenated on channels (Inception mixed blocks)."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def conv(cin: int, cout: int, kernel: Pair, stride: int = 1, padding: str = "SAME",
         groups: int = 1, relu: bool = True) -> nn.Sequential:
    """slim.conv2d: [SAME pad] → conv ('VALID' after the pad) → ReLU."""
    layers: list[nn.Module] = [SamePad(kernel, stride)] if padding == "SAME" else []
    layers.append(nn.Conv2d(cin, cout, pair(kernel), stride, groups=groups))
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def max_pool(kernel: int, stride: int, padding: str = "VALID") -> nn.Sequential:
    layers: list[nn.Module] = [SamePad(kernel, stride)] if padding == "SAME" else []
    return nn.Sequential(*layers, nn.MaxPool2d(kernel, stride))


def avg_pool_same_3x3() -> nn.AvgPool2d:
    """slim.avg_pool2d 3×3, stride 1, 'SAME': TF averages over the valid pixels only."""
    return nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)


def channels(width: float):  # type: ignore[no-untyped-def]
    return lambda depth: max(1, int(depth * width))


# ----------------------------------------------------------------------------- alexnet_v2
def alexnet_v2(width: float = 1.0) -> nn.Sequential:
    """alexnet.alexnet_v2 up to pool5 (no arg scope: convs 'SAME', pools 'VALID')."""
    d = channels(width)
    return nn.Sequential(OrderedDict(
        conv1=conv(3, d(64), 11, 4, padding="VALID"), pool1=max_pool(3, 2),
        conv2=conv(d(64), d(192), 5), pool2=max_pool(3, 2),
        conv3=conv(d(192), d(384), 3), conv4=conv(d(384), d(384), 3),
        conv5=conv(d(384), d(256), 3), pool5=max_pool(3, 2)))


# --------------------------------------------------------------------------------- vgg_16
def vgg_16(width: float = 1.0) -> nn.Sequential:
    """vgg.vgg_16 up to pool5: 3×3 'SAME' convs (slim.repeat), 2×2/2 'VALID' max-pools."""
    d = channels(width)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    cin = 3
    for stage, (repeats, depth) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512),
                                              (3, 512)], start=1):
        convs = OrderedDict()
        for i in range(1, repeats + 1):
            convs[f"conv{stage}_{i}"] = conv(cin, d(depth), 3)
            cin = d(depth)
        layers[f"conv{stage}"] = nn.Sequential(convs)
        layers[f"pool{stage}"] = max_pool(2, 2)
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- mobilenet_v1
# (stride, depth) of DepthSepConv 1–13 (_CONV_DEFS after Conv2d_0, a 3×3/2 conv of depth 32)
MOBILENET_V1_DEFS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] \
    + [(1, 512)] * 5 + [(2, 1024), (1, 1024)]


def mobilenet_v1(width: float = 1.0) -> nn.Sequential:
    """mobilenet_v1.mobilenet_v1_base: everything 'SAME', depthwise 3×3 + pointwise 1×1."""
    d = channels(width)
    layers: OrderedDict[str, nn.Module] = OrderedDict(Conv2d_0=conv(3, d(32), 3, 2))
    cin = d(32)
    for i, (stride, depth) in enumerate(MOBILENET_V1_DEFS, start=1):
        layers[f"Conv2d_{i}_depthwise"] = conv(cin, cin, 3, stride, groups=cin)
        layers[f"Conv2d_{i}_pointwise"] = conv(cin, d(depth), 1)
        cin = d(depth)
    return nn.Sequential(layers)


# ------------------------------------------------------------------------------ resnet_v1
def conv2d_same(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    """resnet_utils.conv2d_same: 'SAME' at stride 1, else explicit symmetric-ish pad
    (pad_beg = (k−1)//2, pad_end = the rest) followed by a 'VALID' conv."""
    if stride == 1:
        return conv(cin, cout, kernel)
    begin = (kernel - 1) // 2
    return nn.Sequential(nn.ZeroPad2d((begin, kernel - 1 - begin) * 2),
                         *conv(cin, cout, kernel, stride, padding="VALID"))


class Bottleneck(nn.Module):
    """resnet_v1.bottleneck: the stride sits on the 3×3 conv and on the shortcut."""

    def __init__(self, cin: int, depth: int, bottleneck: int, stride: int) -> None:
        super().__init__()
        if cin == depth:       # resnet_utils.subsample: max_pool2d [1, 1] ('SAME' here)
            self.shortcut: nn.Module = max_pool(1, stride, "SAME") if stride > 1 \
                else nn.Identity()
        else:
            self.shortcut = conv(cin, depth, 1, stride, relu=False)
        self.conv1 = conv(cin, bottleneck, 1)
        self.conv2 = conv2d_same(bottleneck, bottleneck, 3, stride)
        self.conv3 = conv(bottleneck, depth, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.conv3(self.conv2(self.conv1(x))))


RESNET_V1_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
                   200: (3, 24, 36, 3)}


def resnet_v1(layers: int = 50, width: float = 1.0) -> nn.Sequential:
    """resnet_v1.resnet_v1_{50,101,152,200} (global_pool=False, num_classes=None) under
    resnet_arg_scope(): conv1 7×7/2 conv2d_same, pool1 3×3/2 'SAME', blocks 1–4 with
    base depths 64–512 and strides 2, 2, 2, 1 in the *last* unit of each block."""
    d = channels(width)
    modules: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=conv2d_same(3, d(64), 7, 2), pool1=max_pool(3, 2, "SAME"))
    cin = d(64)
    for index, (base, units, stride) in enumerate(
            zip((64, 128, 256, 512), RESNET_V1_UNITS[layers], (2, 2, 2, 1)), start=1):
        block = OrderedDict()
        for unit in range(1, units + 1):
            block[f"unit_{unit}"] = Bottleneck(cin, d(4 * base), d(base),
                                               stride if unit == units else 1)
            cin = d(4 * base)
        modules[f"block{index}"] = nn.Sequential(block)
    return nn.Sequential(modules)


# --------------------------------------------------------------------------- inception_v3
def inception_v3(width: float = 1.0) -> nn.Sequential:
    """inception_v3.inception_v3_base up to Mixed_7c: the stem is 'VALID' (but for
    Conv2d_2b_3x3), the mixed blocks 'SAME' at stride 1 with 'VALID' stride-2 reductions."""
    d = channels(width)

    def seq(cin: int, *specs: tuple[int, Pair]) -> nn.Sequential:
        """A branch of 'SAME' stride-1 convs given as (depth, kernel)."""
        layers = []
        for depth, kernel in specs:
            layers.append(conv(cin, d(depth), kernel))
            cin = d(depth)
        return nn.Sequential(*layers)

    def pool_branch(cin: int, depth: int) -> nn.Sequential:
        return nn.Sequential(avg_pool_same_3x3(), conv(cin, d(depth), 1))

    def mixed_5(cin: int, pool_depth: int) -> Concat:
        return Concat(seq(cin, (64, 1)), seq(cin, (48, 1), (64, 5)),
                      seq(cin, (64, 1), (96, 3), (96, 3)), pool_branch(cin, pool_depth))

    def mixed_6(cin: int, mid: int) -> Concat:
        return Concat(seq(cin, (192, 1)),
                      seq(cin, (mid, 1), (mid, (1, 7)), (192, (7, 1))),
                      seq(cin, (mid, 1), (mid, (7, 1)), (mid, (1, 7)), (mid, (7, 1)),
                          (192, (1, 7))),
                      pool_branch(cin, 192))

    def mixed_7(cin: int) -> Concat:
        split = lambda c: Concat(conv(c, d(384), (1, 3)), conv(c, d(384), (3, 1)))  # noqa: E731
        return Concat(seq(cin, (320, 1)),
                      nn.Sequential(*seq(cin, (384, 1)), split(d(384))),
                      nn.Sequential(*seq(cin, (448, 1), (384, 3)), split(d(384))),
                      pool_branch(cin, 192))

    c5 = d(64) + d(64) + d(96)                 # Mixed_5b/5c/5d output minus the pool branch
    c6 = 3 * d(192) + d(192)
    c7a = d(320) + d(192) + c6
    c7 = d(320) + 4 * d(384) + d(192)
    return nn.Sequential(OrderedDict(
        Conv2d_1a_3x3=conv(3, d(32), 3, 2, "VALID"),
        Conv2d_2a_3x3=conv(d(32), d(32), 3, padding="VALID"),
        Conv2d_2b_3x3=conv(d(32), d(64), 3),
        MaxPool_3a_3x3=max_pool(3, 2),
        Conv2d_3b_1x1=conv(d(64), d(80), 1, padding="VALID"),
        Conv2d_4a_3x3=conv(d(80), d(192), 3, padding="VALID"),
        MaxPool_5a_3x3=max_pool(3, 2),
        Mixed_5b=mixed_5(d(192), 32),
        Mixed_5c=mixed_5(c5 + d(32), 64),
        Mixed_5d=mixed_5(c5 + d(64), 64),
        Mixed_6a=Concat(conv(c5 + d(64), d(384), 3, 2, "VALID"),
                        nn.Sequential(*seq(c5 + d(64), (64, 1), (96, 3)),
                                      conv(d(96), d(96), 3, 2, "VALID")),
                        max_pool(3, 2)),
        Mixed_6b=mixed_6(d(384) + d(96) + c5 + d(64), 128),
        Mixed_6c=mixed_6(c6, 160),
        Mixed_6d=mixed_6(c6, 160),
        Mixed_6e=mixed_6(c6, 192),
        Mixed_7a=Concat(nn.Sequential(*seq(c6, (192, 1)), conv(d(192), d(320), 3, 2, "VALID")),
                        nn.Sequential(*seq(c6, (192, 1), (192, (1, 7)), (192, (7, 1))),
                                      conv(d(192), d(192), 3, 2, "VALID")),
                        max_pool(3, 2)),
        Mixed_7b=mixed_7(c7a),
        Mixed_7c=mixed_7(c7)))


def build(name: str, width: float = 1.0) -> nn.Sequential:
    """The network named as in the published table (``alexnet_v2``, ``resnet_v1_50``, …)."""
    if name.startswith("resnet_v1_"):
        return resnet_v1(int(name.rsplit("_", 1)[1]), width)
    return {"alexnet_v2": alexnet_v2, "vgg_16": vgg_16, "mobilenet_v1": mobilenet_v1,
            "inception_v3": inception_v3}[name](width)


def module_path(name: str, end_point: str) -> str:
    """The PyTorch module path of a TF end point: 'vgg_16/conv1/conv1_1' → 'conv1.conv1_1'."""
    prefix = name + "/"
    return (end_point[len(prefix):] if end_point.startswith(prefix) else end_point) \
        .replace("/", ".")


__all__: Sequence[str] = ["build", "module_path", "tf_same_pads", "SamePad"]
