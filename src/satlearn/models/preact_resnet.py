"""Pre-activation ResNet-18 for small images (He et al., ECCV 2016; CIFAR stem)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.models import MODELS
from satlearn.models._checks import image_channels
from satlearn.models._init import kaiming_conv_init_


class PreActBlock(nn.Module):
    """BN → ReLU → conv, twice, with the shortcut taken after the first activation when it projects."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.projection = None
        if stride != 1 or in_channels != out_channels:
            self.projection = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.projection(out) if self.projection is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


def preact_stages(in_channels: int, widths: list[int], counts: list[int]) -> tuple[nn.Sequential, int]:
    """Stages of :class:`PreActBlock` (stride 2 at the start of every stage but the first) and their output width."""
    layers, channels = [], in_channels
    for stage, (out_channels, count) in enumerate(zip(widths, counts)):
        for i in range(count):
            layers.append(PreActBlock(channels, out_channels, 2 if stage > 0 and i == 0 else 1))
            channels = out_channels
    return nn.Sequential(*layers), channels


class PreActResNet(nn.Module):
    """Input ``(B, C, H, W)``; output ``(B, num_classes)``. Stage widths ``w, 2w, 4w, 8w``."""

    def __init__(self, blocks: tuple[int, ...], num_classes: int, *, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.layers, channels = preact_stages(width, [width * 2**s for s in range(len(blocks))], list(blocks))
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, num_classes)
        kaiming_conv_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.layers(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@MODELS.register("preact_resnet18")
def preact_resnet18(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    channels = image_channels("preact_resnet18", input_shape)
    return PreActResNet((2, 2, 2, 2), num_classes, in_channels=channels, width=width or 64)
