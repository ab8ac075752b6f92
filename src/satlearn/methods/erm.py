"""Empirical risk minimisation: the baseline, with cross-entropy or a noise-robust loss."""

from __future__ import annotations

import torch

from satlearn import losses
from satlearn.methods.base import METHODS, Method


@METHODS.register("erm")
class ERM(Method):
    """Trains on the given labels with ``ce``, symmetric CE (``sce``: ``sce_a``, ``sce_b``) or generalized CE
    (``gce``: ``gce_q``)."""

    losses = ("ce", "sce", "gce")

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.loss == "sce":
            return losses.symmetric_cross_entropy(logits, labels, a=cfg.sce_a, b=cfg.sce_b)
        if cfg.loss == "gce":
            return losses.generalized_cross_entropy(logits, labels, q=cfg.gce_q)
        return losses.cross_entropy(logits, labels)

    def training_step(self, batch, epoch):
        x, y, _ = batch
        logits = self.model(x)
        loss = self.loss(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        return loss, {"loss": loss.detach(), "accuracy": accuracy}
