"""Deep Gamblers: its loss against the formula, its cross-entropy pre-training, and its payoff's range."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from satlearn import losses
from satlearn.config import MethodConfig, load_config
from satlearn.errors import ConfigError
from satlearn.methods import create_method


def test_gamblers_loss_equals_its_formula():
    torch.manual_seed(2)
    logits, labels = torch.randn(7, 4) * 3, torch.randint(0, 3, (7,))
    for payoff in (1.5, 2.2, 2.9):
        p = torch.softmax(logits.double(), 1)
        expected = -torch.log(p[torch.arange(7), labels] + p[:, -1] / payoff).mean()
        assert losses.gamblers_loss(logits, labels, payoff=payoff).item() == pytest.approx(expected.item(), rel=1e-6)
    # stable where the naive form underflows: a confident wrong prediction
    extreme = torch.tensor([[200.0, -200.0, -200.0, -200.0]])
    value = losses.gamblers_loss(extreme, torch.tensor([1]), payoff=2.2)
    assert math.isfinite(value.item()) and value.item() == pytest.approx(400.0, rel=1e-3)


def test_gamblers_trains_with_ce_before_es_then_the_gamblers_loss():
    torch.manual_seed(3)
    c = 3
    x, labels = torch.randn(8, 5), torch.randint(0, c, (8,))
    model = nn.Linear(5, c + 1)
    method = create_method(MethodConfig(name="gamblers", start_epoch=2, payoff=2.5), model, labels=labels,
                           num_classes=c)
    batch = (x, labels, torch.arange(8))
    logits = model(x)
    before, _ = method.training_step(batch, epoch=1)
    after, metrics = method.training_step(batch, epoch=2)
    assert before.item() == pytest.approx(F.cross_entropy(logits[:, :c], labels).item(), rel=1e-6)
    assert after.item() == pytest.approx(losses.gamblers_loss(logits, labels, payoff=2.5).item(), rel=1e-6)
    assert 0 < metrics["abstain_prob"].item() < 1


@pytest.mark.parametrize("payoff", [1.0, 0.5, -2.0])
def test_payoff_must_exceed_one(payoff):
    with pytest.raises(ConfigError, match=r"method.payoff=.*1 < payoff"):
        load_config(None, ["method.name=gamblers", f"method.payoff={payoff}"])


def test_payoff_must_stay_below_the_class_count():
    with pytest.raises(ConfigError, match="C = 10 classes"):
        load_config(None, ["method.name=gamblers", "method.payoff=10", "model.num_classes=10"])
    load_config(None, ["method.name=gamblers", "method.payoff=9.5", "model.num_classes=10"])
    with pytest.raises(ConfigError, match="C = 3 classes") as info:
        create_method(MethodConfig(name="gamblers", payoff=3.5), nn.Linear(2, 4),
                      labels=torch.zeros(4, dtype=torch.long), num_classes=3)
    assert "\n" not in str(info.value)


def test_step_metrics_by_a_plain_loop():
    # the model hands its input through, so each row is the logits: C = 3 classes, then abstain
    rows = [[2.0, 0.0, 0.0, 5.0], [0.0, 4.0, 0.0, -1.0], [0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    labels, c = [0, 0, 2, 1], 3
    method = create_method(MethodConfig(name="gamblers", start_epoch=0, payoff=2.2), nn.Identity(),
                           labels=torch.tensor(labels), num_classes=c)
    _, metrics = method.training_step((torch.tensor(rows), torch.tensor(labels), torch.arange(4)), epoch=0)
    class_argmax = [z[:c].index(max(z[:c])) for z in rows]  # row 0's largest output is abstain, no prediction
    assert metrics["accuracy"].item() == pytest.approx(sum(p == y for p, y in zip(class_argmax, labels)) / 4)
    abstain = [math.exp(z[-1]) / sum(math.exp(v) for v in z) for z in rows]
    assert metrics["abstain_prob"].item() == pytest.approx(sum(abstain) / 4, rel=1e-6)


def test_a_payoff_out_of_range_names_the_setting_that_put_it_there():
    with pytest.raises(ConfigError, match=r"^--set method\.payoff=10: method\.payoff=10\.0; "):
        load_config(None, ["method.name=gamblers", "method.payoff=10", "model.num_classes=10"])
    # the default payoff 2.2, out of range once the classes are set to 2: the class count is what moved
    with pytest.raises(ConfigError, match=r"^--set model\.num_classes=2: method\.payoff=2\.2; "):
        load_config(None, ["method.name=gamblers", "model.num_classes=2"])
