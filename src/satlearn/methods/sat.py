"""Self-Adaptive Training for classification (Huang, Zhang & Zhang, NeurIPS 2020 / TPAMI 2022, Algorithm 1)."""

from __future__ import annotations

import torch

from satlearn import losses
from satlearn.errors import ConfigError
from satlearn.methods.base import METHODS, TargetsMethod


@METHODS.register("sat")
class SAT(TargetsMethod):
    """Plain cross-entropy for epochs ``< start_epoch`` (targets untouched); afterwards, on every visit, the
    targets of the batch move towards the detached softmax of the same forward pass and the model is trained on
    them with confidence weights ``max_j t_ij`` (``loss: ce``) or with symmetric CE (``loss: sce``)."""

    losses = ("ce", "sce")
    phase_name = "SAT"

    @classmethod
    def check_config(cls, config, *, where):
        super().check_config(config, where=where)
        method = config.method
        # with α = 0 each target is the model's own detached prediction p, and the soft cross-entropy's gradient,
        # softmax(z) − t, is then 0: from start_epoch on the model would train on nothing (SCE's reverse term, where
        # it weighs anything, still has one)
        if method.momentum == 0 and (method.loss == "ce" or method.sce_b == 0):
            loss = "method.loss=ce" if method.loss == "ce" else "method.loss=sce and method.sce_b=0"
            raise ConfigError(
                f"{where('method.momentum', 'method.loss', 'method.sce_b', 'method.name')}: method.momentum=0 with "
                f"{loss} makes each target the model's own prediction, on which SAT's cross-entropy has no "
                "gradient, so nothing would train from method.start_epoch on; expected a momentum in (0, 1)")

    def training_step(self, batch, epoch):
        x, y, idx = batch
        logits = self.model(x)
        metrics: dict[str, torch.Tensor] = {}
        if epoch < self.config.start_epoch:
            loss = losses.cross_entropy(logits, y)
        else:
            probs = torch.softmax(logits.detach(), dim=1, dtype=torch.float32)
            targets = self.targets.update(idx, probs, momentum=self.config.momentum)
            weights = targets.amax(dim=1)  # shared by the loss and the statistic: every op is a kernel per step
            if self.config.loss == "sce":
                loss = losses.sat_sce_loss(logits, targets, a=self.config.sce_a, b=self.config.sce_b, weights=weights)
            else:
                loss = losses.sat_loss(logits, targets, weights=weights)
            metrics["confidence"] = weights.mean()
        metrics["loss"] = loss.detach()
        metrics["accuracy"] = (logits.argmax(dim=1) == y).float().mean()
        return loss, metrics
