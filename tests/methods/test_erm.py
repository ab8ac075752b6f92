"""ERM trains with the loss its config names, with that loss's own options."""

import pytest
import torch
from torch import nn

from satlearn import losses
from satlearn.config import MethodConfig
from satlearn.methods import create_method


def step_and_reference(config, reference):
    torch.manual_seed(0)
    x, labels = torch.randn(16, 5), torch.randint(0, 4, (16,))
    method = create_method(config, nn.Linear(5, 4), labels=labels, num_classes=4)
    loss, metrics = method.training_step((x, labels, torch.arange(16)), epoch=0)
    logits = method.model(x)
    return loss, metrics, reference(logits, labels), losses.cross_entropy(logits, labels), logits, labels


@pytest.mark.parametrize("config, reference", [
    # a ≠ b ≠ 1 and q away from its default: swapped or default options give other values
    (MethodConfig(name="erm", loss="sce", sce_a=0.6, sce_b=1.7),
     lambda logits, labels: losses.symmetric_cross_entropy(logits, labels, a=0.6, b=1.7)),
    (MethodConfig(name="erm", loss="gce", gce_q=0.4),
     lambda logits, labels: losses.generalized_cross_entropy(logits, labels, q=0.4)),
], ids=["sce", "gce"])
def test_erm_trains_with_the_configured_robust_loss(config, reference):
    loss, metrics, expected, ce, _, _ = step_and_reference(config, reference)
    assert torch.equal(loss, expected) and torch.equal(metrics["loss"], expected)
    assert loss.requires_grad and not metrics["loss"].requires_grad  # the logged copy holds no graph
    assert not torch.allclose(expected, ce)  # the robust loss is not cross-entropy in disguise here


def test_erm_ce_is_plain_cross_entropy_and_reports_the_batch_accuracy():
    loss, metrics, expected, _, logits, labels = step_and_reference(MethodConfig(name="erm", loss="ce"),
                                                                    losses.cross_entropy)
    assert torch.equal(loss, expected)
    assert metrics["accuracy"].item() == int((logits.argmax(dim=1) == labels).sum()) / 16
