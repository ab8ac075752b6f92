"""SAT against a naive per-example loop written from Algorithm 1 of the paper."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from satlearn.config import MethodConfig
from satlearn.methods import create_method


class ReferenceSAT:
    """Algorithm 1, one example at a time, in float64: plain CE before Es; afterwards t_i ← α t_i + (1−α) p_i
    from the same forward pass, w_i = max_j t_ij, loss = Σ w_i ℓ_i / Σ w_i, with ℓ_i the soft CE to t_i or, given
    ``sce=(a, b)``, symmetric CE: ℓ_i = −a Σ_j t_ij log p_ij − b Σ_j p_ij log max(t_ij, 1e-4). The floor is
    satlearn's (the SAT code takes log t_ij unclamped); no target here falls below it, so both read alike."""

    def __init__(self, labels, num_classes, alpha, es, sce=None):
        self.t = [F.one_hot(torch.tensor(int(y)), num_classes).double() for y in labels]
        self.alpha, self.es, self.sce = alpha, es, sce

    def example_loss(self, z, t):
        log_p = torch.log_softmax(z.double(), 0)
        forward = -sum(t[j] * log_p[j] for j in range(len(t)))
        if self.sce is None:
            return forward
        a, b = self.sce
        reverse = -sum(log_p[j].exp() * torch.log(torch.clamp(t[j], min=1e-4)) for j in range(len(t)))
        return a * forward + b * reverse

    def loss(self, logits, y, idx, epoch):
        if epoch < self.es:
            return sum(-torch.log_softmax(z, 0)[int(c)] for z, c in zip(logits, y)) / len(y)
        num, den = 0.0, 0.0
        for z, i in zip(logits, idx.tolist()):
            p = torch.softmax(z.detach().double(), 0)
            self.t[i] = self.alpha * self.t[i] + (1 - self.alpha) * p
            w = self.t[i].max()
            num = num + w * self.example_loss(z, self.t[i])
            den = den + w
        return num / den


def run_both(loss_name="ce", sce_a=1.0, sce_b=0.3):
    torch.manual_seed(0)
    n, c, d = 48, 4, 6
    x, labels = torch.randn(n, d), torch.randint(0, c, (n,))
    model = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, c))
    config = MethodConfig(name="sat", loss=loss_name, momentum=0.7, start_epoch=2, sce_a=sce_a, sce_b=sce_b)
    method = create_method(config, copy.deepcopy(model), labels=labels, num_classes=c)
    reference_model = copy.deepcopy(model)
    reference = ReferenceSAT(labels, c, alpha=0.7, es=2, sce=(sce_a, sce_b) if loss_name == "sce" else None)
    opt_a = torch.optim.SGD(method.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(reference_model.parameters(), lr=0.1)
    losses = []
    for epoch in range(5):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        for start in range(0, n, 16):
            idx = order[start:start + 16]
            loss_a, _ = method.training_step((x[idx], labels[idx], idx), epoch)
            loss_b = reference.loss(reference_model(x[idx]), labels[idx], idx, epoch)
            losses.append((loss_a.item(), loss_b.item()))
            for opt, loss in ((opt_a, loss_a), (opt_b, loss_b)):
                opt.zero_grad()
                loss.backward()
                opt.step()
    return method, reference_model, reference, losses


# for SAT+SCE a ≠ b ≠ 1: a swap of the two weights, or plain SAT cross-entropy in their place, changes every loss
# after Es
@pytest.mark.parametrize("loss_name, sce_a, sce_b", [("ce", 1.0, 0.3), ("sce", 0.6, 1.7)])
def test_sat_equals_the_reference_loop_before_and_after_es(loss_name, sce_a, sce_b):
    method, reference_model, reference, losses = run_both(loss_name, sce_a=sce_a, sce_b=sce_b)
    assert len(losses) == 15
    for ours, ref in losses:
        assert abs(ours - ref) < 1e-5 * max(1.0, abs(ref))
    torch.testing.assert_close(method.targets.targets.double(), torch.stack(reference.t), atol=1e-5, rtol=0)
    for p_a, p_b in zip(method.model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(p_a, p_b, atol=1e-5, rtol=1e-4)
    # The targets did move (otherwise this test would prove nothing).
    assert (method.targets.targets.max(dim=1).values < 0.999).all()
    # and none fell below SCE's log floor, so the reference is also the SAT code's unclamped log t
    assert method.targets.targets.min() > 1e-4


def test_targets_untouched_before_es():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (10,))
    method = create_method(MethodConfig(name="sat", start_epoch=1), nn.Linear(4, 3), labels=labels, num_classes=3)
    idx = torch.arange(10)
    method.training_step((torch.randn(10, 4), labels, idx), epoch=0)
    assert torch.equal(method.targets.targets, F.one_hot(labels, 3).float())
    method.training_step((torch.randn(10, 4), labels, idx), epoch=1)
    assert not torch.equal(method.targets.targets, F.one_hot(labels, 3).float())


def sat_with_table(labels, rows, dtype="float32"):
    method = create_method(MethodConfig(name="sat", targets_dtype=dtype), nn.Linear(2, 3),
                           labels=torch.tensor(labels), num_classes=3)
    method.targets.targets.copy_(torch.tensor(rows))
    return method


def test_epoch_metrics_count_moved_targets_and_score_refined_labels_against_the_clean_ones():
    given, clean = [0, 1, 2, 0], [0, 2, 2, 1]
    # argmaxes 0, 2, 0, 1: three targets left their given label; right against clean labels for rows 0, 1, 3
    # (against the given ones only row 0 would be); dyadic values, so the means are exact
    method = sat_with_table(given, [[0.75, 0.125, 0.125], [0.125, 0.25, 0.625],
                                    [0.5, 0.125, 0.375], [0.25, 0.5, 0.25]])
    assert method.epoch_metrics(torch.tensor(clean)) == {
        "targets_moved": 0.75, "mean_confidence": 0.59375, "refined_label_accuracy": 0.75}
    assert method.epoch_metrics() == {"targets_moved": 0.75, "mean_confidence": 0.59375}


def test_refined_labels_of_a_bfloat16_table_read_its_rows_rescaled_to_sum_to_one():
    # bfloat16 rows drift off the simplex; the confidence is that of the rescaled row (0.5, not the stored 1.0)
    method = sat_with_table([0, 2], [[1.0, 0.5, 0.5], [0.25, 0.25, 1.5]], dtype="bfloat16")
    label, confidence = method.targets.refined_labels()
    assert label.tolist() == [0, 2] and confidence.tolist() == [0.5, 0.75]
    assert method.epoch_metrics()["mean_confidence"] == 0.625


def test_a_step_after_es_reports_the_batch_mean_confidence_accuracy_and_a_detached_loss():
    # the model hands its inputs through as logits, so the metrics can be worked out by hand from Algorithm 1:
    # t_i = α onehot(y_i) + (1 − α) softmax(z_i), confidence = mean_i max_j t_ij; argmaxes 0, 0, 1 against labels
    # 0, 1, 1 give accuracy 2/3
    logits = [[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]]
    labels = [0, 1, 1]
    method = create_method(MethodConfig(name="sat", momentum=0.5, start_epoch=0), nn.Identity(),
                           labels=torch.tensor(labels), num_classes=2)
    x = torch.tensor(logits, requires_grad=True)
    loss, metrics = method.training_step((x, torch.tensor(labels), torch.arange(3)), epoch=0)
    maxima = []
    for z, y in zip(logits, labels):
        p = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
        maxima.append(max(0.5 * (j == y) + 0.5 * p[j] for j in range(2)))
    assert math.isclose(float(metrics["confidence"]), sum(maxima) / 3, rel_tol=1e-6)
    assert math.isclose(float(metrics["accuracy"]), 2 / 3, rel_tol=1e-6)
    assert not metrics["loss"].requires_grad and float(metrics["loss"]) == loss.item()
    assert loss.requires_grad  # the loss itself still trains the model
