"""Weight initialisation shared by the residual networks."""

from __future__ import annotations

from torch import nn


def kaiming_conv_init_(model: nn.Module) -> None:
    """He-normal (fan-out, ReLU) weights for every ``Conv2d`` in ``model``, in module order."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
