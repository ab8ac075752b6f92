"""Deep Gamblers (Liu et al., NeurIPS 2019): the selective-classification baseline of the SAT paper.

The model has C + 1 outputs, the last one meaning "abstain"; the loss ``−log(p_y + p_abstain / o)`` lets the model
bet on abstaining when it is unsure, at payoff ``o``. As in the SAT paper's code, the first ``start_epoch`` epochs
are plain cross-entropy on the C class logits (e.g. 100 epochs for CIFAR-10 with o = 2.2).
"""

from __future__ import annotations

import torch

from satlearn import losses
from satlearn.methods.base import METHODS, Method


def _check_payoff(payoff: float, num_classes: int | None, source: str | None) -> None:
    """``1 < payoff < C`` (only ``payoff > 1`` while C is unknown); raises a one-line ConfigError otherwise."""
    from satlearn.errors import ConfigError

    upper = num_classes if num_classes is not None else float("inf")
    if not 1.0 < payoff < upper:
        bound = f"C = {num_classes} classes" if num_classes is not None else "the number of classes"
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}method.payoff={payoff!r}; Deep Gamblers needs 1 < payoff < {bound}")


@METHODS.register("gamblers")
class DeepGamblers(Method):
    """Cross-entropy on the first C logits for epochs ``< start_epoch``; afterwards the gamblers loss with payoff
    ``method.payoff`` over the softmax of all C + 1 logits."""

    losses = ("ce",)
    extra_outputs = 1
    phase_name = "the gamblers loss"
    options = ("payoff",)

    def __init__(self, config, model, *, labels, num_classes):
        super().__init__(config, model, labels=labels, num_classes=num_classes)
        _check_payoff(config.payoff, num_classes, None)

    @classmethod
    def check_config(cls, config, *, where):
        super().check_config(config, where=where)
        _check_payoff(config.method.payoff, config.model.num_classes,
                      where("method.payoff", "model.num_classes", "method.name"))

    def training_step(self, batch, epoch):
        x, y, _ = batch
        logits = self.model(x)
        class_logits = logits[:, : self.num_classes]
        if epoch < self.config.start_epoch:
            loss = losses.cross_entropy(class_logits, y)
        else:
            loss = losses.gamblers_loss(logits, y, payoff=self.config.payoff)
        return loss, {
            "loss": loss.detach(),
            "accuracy": (class_logits.argmax(dim=1) == y).float().mean(),
            "abstain_prob": torch.softmax(logits.detach().float(), dim=1)[:, -1].mean(),
        }
