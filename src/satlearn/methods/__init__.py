"""Training methods, one file each, registered by name in ``METHODS``."""

from __future__ import annotations

from satlearn.methods.base import METHODS, Method, TargetsMethod
from satlearn.methods import erm, gamblers, sat, selective  # noqa: E402,F401  (registration)


def create_method(config, model, *, labels, num_classes: int) -> Method:
    """Builds the method ``config.name`` (a :class:`satlearn.config.MethodConfig`) around ``model``."""
    return METHODS.get(config.name)(config, model, labels=labels, num_classes=num_classes)


__all__ = ["METHODS", "Method", "TargetsMethod", "create_method"]
