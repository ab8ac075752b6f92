"""Selective SAT against a naive per-example loop written from the paper's description."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from satlearn import losses
from satlearn.config import MethodConfig
from satlearn.methods import METHODS, create_method


class ReferenceSelectiveSAT:
    """One example at a time, in float64. C + 1 outputs, abstain last. Before Es: cross-entropy on the C class
    logits. Afterwards: t_i ← α t_i + (1 − α) softmax(z_i[:C]) (t_i starts at onehot(y_i)); target over C + 1:
    t_{i,y} on y, 1 − t_{i,y} on abstain, 0 elsewhere; loss = mean of −Σ_j s_ij log softmax(z_i)_j (no weights)."""

    def __init__(self, labels, num_classes, alpha, es):
        self.c = num_classes
        self.t = [F.one_hot(torch.tensor(int(y)), num_classes).double() for y in labels]
        self.alpha, self.es = alpha, es

    def loss(self, logits, y, idx, epoch):
        total = 0.0
        for z, label, i in zip(logits, y.tolist(), idx.tolist()):
            z = z.double()
            if epoch < self.es:
                total = total - torch.log_softmax(z[: self.c], 0)[label]
                continue
            p = torch.softmax(z[: self.c].detach(), 0)
            self.t[i] = self.alpha * self.t[i] + (1 - self.alpha) * p
            s = torch.zeros(self.c + 1, dtype=torch.float64)
            s[label] = self.t[i][label]
            s[self.c] = 1 - self.t[i][label]
            total = total - (s * torch.log_softmax(z, 0)).sum()
        return total / len(y)


def test_selective_sat_equals_the_reference_loop_before_and_after_es():
    torch.manual_seed(0)
    n, c, d = 48, 4, 6
    x, labels = torch.randn(n, d), torch.randint(0, c, (n,))
    model = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, c + 1))
    method = create_method(MethodConfig(name="selective_sat", momentum=0.7, start_epoch=2), copy.deepcopy(model),
                           labels=labels, num_classes=c)
    reference_model = copy.deepcopy(model)
    reference = ReferenceSelectiveSAT(labels, c, alpha=0.7, es=2)
    opt_a = torch.optim.SGD(method.parameters(), lr=0.2)
    opt_b = torch.optim.SGD(reference_model.parameters(), lr=0.2)
    compared = 0
    for epoch in range(5):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        for start in range(0, n, 16):
            idx = order[start:start + 16]
            loss_a, metrics = method.training_step((x[idx], labels[idx], idx), epoch)
            loss_b = reference.loss(reference_model(x[idx]), labels[idx], idx, epoch)
            assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5, abs=1e-6)
            assert ("label_mass" in metrics) == (epoch >= 2)
            compared += 1
            for opt, loss in ((opt_a, loss_a), (opt_b, loss_b)):
                opt.zero_grad()
                loss.backward()
                opt.step()
    assert compared == 15
    torch.testing.assert_close(method.targets.targets.double(), torch.stack(reference.t), atol=1e-5, rtol=0)
    for p_a, p_b in zip(method.model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(p_a, p_b, atol=1e-5, rtol=1e-4)
    assert (method.targets.targets.gather(1, labels[:, None]) < 0.999).all()  # the targets did move


def test_targets_untouched_before_es_and_on_the_simplex_after():
    torch.manual_seed(1)
    c = 5
    labels = torch.randint(0, c, (20,))
    method = create_method(MethodConfig(name="selective_sat", start_epoch=1, momentum=0.5), nn.Linear(3, c + 1),
                           labels=labels, num_classes=c)
    idx = torch.arange(20)
    method.training_step((torch.randn(20, 3), labels, idx), epoch=0)
    assert torch.equal(method.targets.targets, F.one_hot(labels, c).float())
    for epoch in range(1, 4):
        method.training_step((torch.randn(20, 3) * 5, labels, idx), epoch=epoch)
    table = method.targets.targets
    assert (table >= 0).all() and torch.allclose(table.sum(1), torch.ones(20))
    full = losses.selective_sat_targets(table, labels)
    assert full.shape == (20, c + 1) and (full >= 0).all() and torch.allclose(full.sum(1), torch.ones(20))
    # mass only on the label and on abstain
    others = full.clone()
    others[torch.arange(20), labels] = 0
    others[:, -1] = 0
    assert (others == 0).all()
    assert torch.allclose(full[:, -1], 1 - table[torch.arange(20), labels])


def test_the_model_gets_an_abstain_output():
    assert METHODS.get("selective_sat").extra_outputs == 1 and METHODS.get("gamblers").extra_outputs == 1
    assert METHODS.get("erm").extra_outputs == 0


def test_selective_sat_loss_is_the_soft_cross_entropy_without_weights():
    torch.manual_seed(4)
    logits, labels = torch.randn(6, 4), torch.randint(0, 3, (6,))
    class_targets = torch.softmax(torch.randn(6, 3), 1)
    s = losses.selective_sat_targets(class_targets, labels)
    expected = -(s * torch.log_softmax(logits, 1)).sum(1).mean()
    assert losses.selective_sat_loss(logits, class_targets, labels).item() == pytest.approx(expected.item())


def _softmax(row):
    import math

    exps = [math.exp(v) for v in row]
    return [e / sum(exps) for e in exps]


def test_step_and_epoch_metrics_by_a_plain_loop():
    # the model hands its input through, so each row is the logits: C = 3 classes, then abstain
    rows = [[2.0, 0.0, 0.0, 5.0], [0.0, 4.0, 0.0, 5.0], [0.0, 0.0, 3.0, -1.0], [1.0, 0.0, 0.0, 0.0]]
    given, clean, c, alpha = [0, 0, 2, 1], [0, 1, 2, 2], 3, 0.1
    method = create_method(MethodConfig(name="selective_sat", momentum=alpha, start_epoch=0), nn.Identity(),
                           labels=torch.tensor(given), num_classes=c)
    _, metrics = method.training_step((torch.tensor(rows), torch.tensor(given), torch.arange(4)), epoch=0)
    # each target starts one-hot on the given label and takes one step towards the class softmax
    targets = [[alpha * (j == y) + (1 - alpha) * p for j, p in enumerate(_softmax(z[:c]))] for z, y in zip(rows, given)]
    refined = [t.index(max(t)) for t in targets]
    assert refined != given and refined != clean  # so label mass, accuracy and their variants differ here
    class_argmax = [z[:c].index(max(z[:c])) for z in rows]  # the abstain output is no prediction
    assert metrics["accuracy"].item() == pytest.approx(sum(p == y for p, y in zip(class_argmax, given)) / 4)
    assert metrics["abstain_prob"].item() == pytest.approx(sum(_softmax(z)[-1] for z in rows) / 4, rel=1e-6)
    label_mass = sum(t[y] for t, y in zip(targets, given)) / 4
    assert metrics["label_mass"].item() == pytest.approx(label_mass, rel=1e-6)
    after = method.epoch_metrics(clean_labels=torch.tensor(clean))
    assert after["mean_label_mass"] == pytest.approx(label_mass, rel=1e-6)
    assert after["refined_label_accuracy"] == pytest.approx(sum(r == y for r, y in zip(refined, clean)) / 4)


def test_refined_label_accuracy_keeps_a_given_label_that_ties_for_the_largest_mass_as_sat_does():
    # rows tied between the given label and a lower class: SoftTargets.refined_labels keeps the given label (as
    # find-issues does), so the targets of these clean labels still get them right, for selective SAT as for SAT
    given = torch.tensor([1, 2])
    tied = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])
    accuracies = {}
    for name in ("sat", "selective_sat"):
        method = create_method(MethodConfig(name=name, start_epoch=0), nn.Identity(), labels=given, num_classes=3)
        method.soft_targets.targets.copy_(tied)
        refined, _ = method.soft_targets.refined_labels()
        assert refined.tolist() == given.tolist()
        accuracies[name] = method.epoch_metrics(clean_labels=given)["refined_label_accuracy"]
    assert accuracies == {"sat": 1.0, "selective_sat": 1.0}


def test_mean_label_mass_of_a_bfloat16_table_reads_its_rows_rescaled_to_sum_to_one():
    # stored rows off the simplex, as bfloat16 rounding leaves them: [1, 0.5, 0.5] reads [0.5, 0.25, 0.25] and
    # [0.25, 0.25, 1.5] reads [0.125, 0.125, 0.75], so the labels 0 and 2 hold 0.5 and 0.75 (stored: 1.0 and 1.5)
    method = create_method(MethodConfig(name="selective_sat", targets_dtype="bfloat16"), nn.Identity(),
                           labels=torch.tensor([0, 2]), num_classes=3)
    method.targets.targets.copy_(torch.tensor([[1.0, 0.5, 0.5], [0.25, 0.25, 1.5]]))
    assert method.epoch_metrics()["mean_label_mass"] == 0.625
