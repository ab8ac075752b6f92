"""A multi-layer perceptron over flattened inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

from satlearn.models import MODELS


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with ReLU. Input ``(B, ...)`` is flattened; output ``(B, C)``."""

    def __init__(self, num_classes: int, *, in_features: int, width: int = 256, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = in_features
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU(inplace=True)]
            size = width
        layers.append(nn.Linear(size, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float() if not x.is_floating_point() else x)


@MODELS.register("mlp")
def mlp(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    return MLP(num_classes, in_features=math.prod(input_shape), width=width or 256)
