"""ResNet-18/34 for small images (CIFAR variant: 3x3 stride-1 stem, no max-pool)."""

from __future__ import annotations

import torch
from torch import nn

from satlearn.models import MODELS
from satlearn.models._checks import image_channels
from satlearn.models._init import kaiming_conv_init_


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stages of widths ``w, 2w, 4w, 8w`` (the first at stride 1, the others stride 2), global average pooling,
    linear head. Input ``(B, C, H, W)``; output ``(B, num_classes)``."""

    def __init__(self, blocks: tuple[int, int, int, int], num_classes: int, *, in_channels: int = 3,
                 width: int = 64) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers, channels = [], width
        for stage, (count, out_channels) in enumerate(zip(blocks, widths)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(channels, out_channels, stride))
                channels = out_channels
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        kaiming_conv_init_(self)  # BatchNorm keeps its default weight 1, bias 0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 8w)`` pooled features before the linear head."""
        return torch.flatten(self.pool(self.layers(self.stem(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@MODELS.register("resnet18")
def resnet18(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    return ResNet((2, 2, 2, 2), num_classes, in_channels=image_channels("resnet18", input_shape), width=width or 64)


@MODELS.register("resnet34")
def resnet34(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    return ResNet((3, 4, 6, 3), num_classes, in_channels=image_channels("resnet34", input_shape), width=width or 64)
