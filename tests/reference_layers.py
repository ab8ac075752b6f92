"""Layers written out with torch.nn.functional, to check the models' own modules against."""

import torch
import torch.nn.functional as F
from torch import nn


def randomise_batchnorm_(module: nn.Module, generator: torch.Generator) -> None:
    """Running statistics and affine terms away from their defaults, so that a BatchNorm left out or moved shows."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d | nn.BatchNorm1d):
            size = bn.num_features
            bn.running_mean.copy_(torch.randn(size, generator=generator))
            bn.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            bn.weight.data.copy_(torch.randn(size, generator=generator))
            bn.bias.data.copy_(torch.randn(size, generator=generator))


def batchnorm(x, bn):
    """``bn`` in eval mode: its running statistics and affine terms."""
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)


def conv(x, layer, *, stride, padding):
    """``layer``'s weights without a bias, as the residual networks' convolutions have none."""
    return F.conv2d(x, layer.weight, None, stride=stride, padding=padding)
