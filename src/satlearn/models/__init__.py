"""Model registry: ``create_model(name, num_classes, input_shape=..., width=...)``.

Input conventions: image models take ``(B, C, H, W)`` floats, ``cnn1d`` takes ``(B, L)`` (or ``(B, 1, L)``),
``mlp`` takes any ``(B, ...)`` and flattens it.
"""

from __future__ import annotations

from torch import nn

from satlearn.registry import Registry

# name -> builder(num_classes: int, *, input_shape: tuple[int, ...], width: int | None) -> nn.Module
MODELS: Registry = Registry("model")


def create_model(name: str, num_classes: int, *, input_shape: tuple[int, ...], width: int | None = None) -> nn.Module:
    """Builds the registered model ``name`` for ``num_classes`` outputs and inputs of ``input_shape`` (no batch dim)."""
    return MODELS.get(name)(num_classes, input_shape=tuple(input_shape), width=width)


from satlearn.models import cnn1d, mlp, resnet, preact_resnet, wrn, vgg  # noqa: E402,F401  (registration)

__all__ = ["MODELS", "create_model"]
