"""Built-in PyTorch models, addressable as ``zoo:NAME`` targets.

The ResNets reproduce torchvision's architectures layer for layer (torchvision cannot be
imported on every machine), so their published figures can be checked:
ResNet-18 11,689,512 params and 1.81 GMACs, ResNet-50 25,557,032 params and 4.09 GMACs
at 224×224 (torchvision's model documentation; it labels the MACs "GFLOPS").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from netanatomy.errors import TargetError


class BasicBlock(nn.Module):
    """Two 3×3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample(in_channels, channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (strided, as torchvision's v1.5), 1×1 expand ×4, residual."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def downsample(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The 1×1 projection shortcut, when the shape changes."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class ResNet(nn.Module):
    """torchvision's ResNet: stem, four stages, global average pool, classifier."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], depths: list[int],
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels, stages = 64, []
        for index, (channels, count) in enumerate(zip((64, 128, 256, 512), depths)):
            blocks = []
            for position in range(count):
                stride = 2 if index > 0 and position == 0 else 1
                blocks.append(block(in_channels, channels, stride))
                in_channels = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class SmallCNN(nn.Module):
    """A small CIFAR-size CNN: two conv blocks and a classifier (for quick examples)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(),
                                        nn.Dropout(0.5), nn.Linear(128, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class ZooEntry:
    """A built-in model and the input it is usually analysed with."""

    build: Callable[[], nn.Module]
    default_input: str
    description: str


ZOO: dict[str, ZooEntry] = {
    "resnet18": ZooEntry(lambda: ResNet(BasicBlock, [2, 2, 2, 2]), "1x3x224x224",
                         "ResNet-18 (torchvision architecture)"),
    "resnet50": ZooEntry(lambda: ResNet(Bottleneck, [3, 4, 6, 3]), "1x3x224x224",
                         "ResNet-50 v1.5 (torchvision architecture)"),
    "smallcnn": ZooEntry(SmallCNN, "1x3x32x32", "two conv blocks + MLP, CIFAR-size"),
}


def build(name: str) -> nn.Module:
    """Build the zoo model ``name``.

    Raises:
        TargetError: unknown name (the message lists the known ones).
    """
    if name not in ZOO:
        raise TargetError(f"no built-in model {name!r}; known: {', '.join(sorted(ZOO))}")
    return ZOO[name].build()
