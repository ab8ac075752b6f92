"""Training methods, one file each, registered by name in ``METHODS``."""

from __future__ import annotations

import torch
from torch import nn

from satlearn.config import MethodConfig
from satlearn.methods.base import METHODS, Method, TargetsMethod
from satlearn.methods import erm, gamblers, sat, selective  # noqa: E402,F401  (registration)


def methods_with_soft_targets() -> list[str]:
    """The registered methods that keep a soft-target table (what find-issues reads), sorted by name."""
    return [name for name in METHODS.names() if issubclass(METHODS.get(name), TargetsMethod)]


def create_method(config: MethodConfig, model: nn.Module, *, labels: torch.Tensor, num_classes: int) -> Method:
    """Builds the method ``config.name`` (a :class:`satlearn.config.MethodConfig`) around ``model``."""
    return METHODS.get(config.name)(config, model, labels=labels, num_classes=num_classes)


__all__ = ["METHODS", "Method", "TargetsMethod", "create_method", "methods_with_soft_targets"]
