"""Self-Adaptive Training for selective classification (Huang, Zhang & Zhang, TPAMI 2022, Sec. "classification
with a reject option"; official code ``LayneH/SAT-selective-cls``).

The model has C + 1 outputs, the last one meaning "abstain". Each example keeps an exponential moving average
``t_i`` of the model's softmax over the C classes (the shared :class:`satlearn.targets.SoftTargets` table). The
training target puts ``t_{i,y_i}`` on the label and the rest of the mass, ``1 − t_{i,y_i}``, on the abstain
output: examples the model keeps finding hard are taught to abstain. At test time the abstain probability ranks
the examples (reject first where it is highest) and the prediction is the argmax over the first C outputs.
"""

from __future__ import annotations

import torch

from satlearn import losses
from satlearn.methods.base import METHODS, TargetsMethod
from satlearn.targets import refined_from_table


@METHODS.register("selective_sat")
class SelectiveSAT(TargetsMethod):
    """Plain cross-entropy on the first C logits for epochs ``< start_epoch`` (targets untouched, abstain logit
    unused); afterwards, on every visit, ``t_i ← α t_i + (1 − α) softmax(z_i[:C])`` (detached, same forward pass)
    and the loss is the mean soft cross-entropy of ``log_softmax`` over all C + 1 logits against
    ``{y_i: t_{i,y_i}, abstain: 1 − t_{i,y_i}}`` — without SAT's confidence re-weighting."""

    losses = ("ce",)
    extra_outputs = 1
    phase_name = "selective SAT"

    def training_step(self, batch, epoch):
        x, y, idx = batch
        logits = self.model(x)
        class_logits = logits[:, : self.num_classes]
        metrics: dict[str, torch.Tensor] = {}
        if epoch < self.config.start_epoch:
            loss = losses.cross_entropy(class_logits, y)
        else:
            probs = torch.softmax(class_logits.detach().float(), dim=1)
            targets = self.targets.update(idx, probs, momentum=self.config.momentum)
            loss = losses.selective_sat_loss(logits, targets, y)
            metrics["label_mass"] = targets.gather(1, y[:, None]).mean()
        metrics["loss"] = loss.detach()
        metrics["accuracy"] = (class_logits.argmax(dim=1) == y).float().mean()
        metrics["abstain_prob"] = torch.softmax(logits.detach().float(), dim=1)[:, -1].mean()
        return loss, metrics

    def epoch_metrics(self, clean_labels=None):
        table = self.targets.table()
        given = self.targets.labels
        out = {"mean_label_mass": float(table.gather(1, given[:, None]).mean())}
        if clean_labels is not None:  # what compare shows: how many training labels the targets get right
            refined, _ = refined_from_table(table, given)  # as SoftTargets.refined_labels, from the table read above
            out["refined_label_accuracy"] = float((refined == clean_labels.to(refined.device)).float().mean())
        return out
