"""Wide ResNet-28-10 (Zagoruyko & Komodakis, BMVC 2016), pre-activation blocks, no dropout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.models import MODELS
from satlearn.models._checks import image_channels
from satlearn.models._init import kaiming_conv_init_
from satlearn.models.preact_resnet import preact_stages


class WideResNet(nn.Module):
    """Depth ``6n + 4`` with three stages of ``n`` blocks and widths ``16k, 32k, 64k`` after a 16-channel stem.
    Input ``(B, C, H, W)``; output ``(B, num_classes)``."""

    def __init__(self, num_classes: int, *, depth: int = 28, widen: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"Wide ResNet depth must be 6n + 4, got {depth}")
        n = (depth - 4) // 6
        self.stem = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.layers, channels = preact_stages(16, [16 * widen, 32 * widen, 64 * widen], [n, n, n])
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, num_classes)
        kaiming_conv_init_(self)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.layers(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@MODELS.register("wrn28_10")
def wrn28_10(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    """``width`` overrides the widen factor (10)."""
    return WideResNet(num_classes, depth=28, widen=width or 10, in_channels=image_channels("wrn28_10", input_shape))
