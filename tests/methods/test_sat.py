"""SAT against a naive per-example loop written from Algorithm 1 of the paper."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.config import MethodConfig
from satlearn.methods import create_method


class ReferenceSAT:
    """Algorithm 1, one example at a time, in float64: plain CE before Es; afterwards t_i ← α t_i + (1−α) p_i
    from the same forward pass, w_i = max_j t_ij, loss = Σ w_i ℓ_i / Σ w_i."""

    def __init__(self, labels, num_classes, alpha, es):
        self.t = [F.one_hot(torch.tensor(int(y)), num_classes).double() for y in labels]
        self.alpha, self.es = alpha, es

    def loss(self, logits, y, idx, epoch):
        if epoch < self.es:
            return sum(-torch.log_softmax(z, 0)[int(c)] for z, c in zip(logits, y)) / len(y)
        num, den = 0.0, 0.0
        for z, i in zip(logits, idx.tolist()):
            p = torch.softmax(z.detach().double(), 0)
            self.t[i] = self.alpha * self.t[i] + (1 - self.alpha) * p
            w = self.t[i].max()
            num = num + w * -(self.t[i] * torch.log_softmax(z.double(), 0)).sum()
            den = den + w
        return num / den


def run_both(loss_name="ce"):
    torch.manual_seed(0)
    n, c, d = 48, 4, 6
    x, labels = torch.randn(n, d), torch.randint(0, c, (n,))
    model = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, c))
    config = MethodConfig(name="sat", loss=loss_name, momentum=0.7, start_epoch=2)
    method = create_method(config, copy.deepcopy(model), labels=labels, num_classes=c)
    reference_model = copy.deepcopy(model)
    reference = ReferenceSAT(labels, c, alpha=0.7, es=2)
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


def test_sat_equals_the_reference_loop_before_and_after_es():
    method, reference_model, reference, losses = run_both()
    assert len(losses) == 15
    for ours, ref in losses:
        assert abs(ours - ref) < 1e-5 * max(1.0, abs(ref))
    torch.testing.assert_close(method.targets.targets.double(), torch.stack(reference.t), atol=1e-5, rtol=0)
    for p_a, p_b in zip(method.model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(p_a, p_b, atol=1e-5, rtol=1e-4)
    # The targets did move (otherwise this test would prove nothing).
    assert (method.targets.targets.max(dim=1).values < 0.999).all()


def test_targets_untouched_before_es():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (10,))
    method = create_method(MethodConfig(name="sat", start_epoch=1), nn.Linear(4, 3), labels=labels, num_classes=3)
    idx = torch.arange(10)
    method.training_step((torch.randn(10, 4), labels, idx), epoch=0)
    assert torch.equal(method.targets.targets, F.one_hot(labels, 3).float())
    method.training_step((torch.randn(10, 4), labels, idx), epoch=1)
    assert not torch.equal(method.targets.targets, F.one_hot(labels, 3).float())


def test_sat_sce_trains_with_finite_losses():
    _, _, _, losses = run_both("sce")
    assert all(torch.isfinite(torch.tensor(a)) for a, _ in losses)
