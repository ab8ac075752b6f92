"""VGG-16 with BatchNorm and dropout, the variant used for selective classification (Deep Gamblers, SAT)."""

from __future__ import annotations

import math

import torch
from torch import nn

from satlearn.models import MODELS
from satlearn.models._checks import image_channels

# Channel counts at width 64, "M" = 2x2 max-pool; the float after a layer is the dropout that follows it, which
# drops whole feature maps (channel dropout), as in the Deep Gamblers and SAT code the recipe follows.
_LAYOUT = [64, 0.3, 64, "M", 128, 0.4, 128, "M", 256, 0.4, 256, 0.4, 256, "M",
           512, 0.4, 512, 0.4, 512, "M", 512, 0.4, 512, 0.4, 512, "M", 0.5]


class VGG16BN(nn.Module):
    """conv3x3 → ReLU → BN blocks with channel dropout, five max-pools, then Linear–ReLU–BN–Dropout–Linear.

    Input ``(B, C, H, W)`` with H, W >= 32 (the five pools leave ``H // 32 x W // 32``, flattened into the
    classifier: 512 features at 32x32, 2048 at 64x64); output ``(B, num_classes)``. ``width`` scales every channel
    count, and the 512-unit hidden layer, by ``width / 64`` (at least 1).
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, width: int = 64, spatial: int = 1) -> None:
        super().__init__()
        scale = width / 64
        layers: list[nn.Module] = []
        channels = in_channels
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            elif isinstance(item, float):
                layers.append(nn.Dropout2d(item))
            else:
                out_channels = max(1, round(item * scale))
                layers += [nn.Conv2d(channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
                           nn.BatchNorm2d(out_channels)]
                channels = out_channels
        self.features = nn.Sequential(*layers)
        hidden = max(1, round(512 * scale))
        # plain dropout on the hidden vector: what the published Dropout2d did to a (B, 512) input, which torch
        # now warns about
        self.classifier = nn.Sequential(nn.Linear(channels * spatial, hidden), nn.ReLU(inplace=True),
                                        nn.BatchNorm1d(hidden), nn.Dropout(0.5), nn.Linear(hidden, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan))
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


@MODELS.register("vgg16_bn")
def vgg16_bn(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    channels = image_channels("vgg16_bn", input_shape, min_size=32)
    _, height, width_px = input_shape
    spatial = (height // 32) * (width_px // 32)
    return VGG16BN(num_classes, in_channels=channels, width=width or 64, spatial=spatial)
