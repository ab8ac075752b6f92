"""A 1-D convolutional network for sequences such as MNIST-1D."""

from __future__ import annotations

import torch
from torch import nn

from satlearn.models import MODELS


class CNN1d(nn.Module):
    """Three strided convolutions (kernel 5, 3, 3; stride 2) with ReLU, then a linear classifier.

    Input ``(B, L)`` or ``(B, 1, L)``; output ``(B, num_classes)``. With L = 40 the feature map ends at length 5.
    """

    def __init__(self, num_classes: int, *, length: int, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, width, 5, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        with torch.no_grad():
            num_features = self.features(torch.zeros(1, 1, length)).shape[1]
        self.classifier = nn.Linear(num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.classifier(self.features(x))


@MODELS.register("cnn1d")
def cnn1d(num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    if len(input_shape) == 2 and input_shape[0] == 1:
        input_shape = input_shape[1:]
    if len(input_shape) != 1:
        from satlearn.errors import ConfigError

        raise ConfigError(f"model cnn1d expects sequences (B, L), but the data has inputs of shape {input_shape}")
    if input_shape[0] < 3:  # the first convolution (kernel 5, padding 1) needs L + 2 >= 5
        from satlearn.errors import ConfigError

        raise ConfigError(f"model cnn1d needs sequences of at least 3 values, got {input_shape[0]} (a CSV of "
                          f"{input_shape[0]} feature columns, say); use model.name=mlp for such data")
    return CNN1d(num_classes, length=input_shape[0], width=width or 64)
