import pytest
import torch

from satlearn.targets import SoftTargets


def test_starts_one_hot_from_labels():
    targets = SoftTargets(torch.tensor([2, 0, 1]), num_classes=3)
    assert torch.equal(targets.targets, torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]))
    assert torch.equal(targets.labels, torch.tensor([2, 0, 1]))


def test_update_is_the_ema_and_touches_only_the_batch():
    torch.manual_seed(0)
    targets = SoftTargets(torch.randint(0, 5, (10,)), num_classes=5)
    before = targets.targets.clone()
    idx = torch.tensor([3, 7])
    probs = torch.softmax(torch.randn(2, 5), dim=1)
    rows = targets.update(idx, probs, momentum=0.9)
    torch.testing.assert_close(rows, 0.9 * before[idx] + 0.1 * probs)
    torch.testing.assert_close(targets.targets[idx], rows)
    untouched = torch.ones(10, dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(targets.targets[untouched], before[untouched])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rows_stay_on_the_simplex_over_many_updates(dtype):
    torch.manual_seed(1)
    n, c = 64, 7
    targets = SoftTargets(torch.randint(0, c, (n,)), num_classes=c, dtype=dtype)
    for _ in range(200):
        idx = torch.randperm(n)[:16]
        targets.update(idx, torch.softmax(3 * torch.randn(16, c), dim=1), momentum=0.8)
    table = targets.targets.float()
    tol = 1e-5 if dtype == "float32" else 2e-2
    assert (table >= 0).all()
    torch.testing.assert_close(table.sum(dim=1), torch.ones(n), atol=tol, rtol=0)


def test_weights_are_row_maxima_and_state_dict_round_trips():
    targets = SoftTargets(torch.tensor([0, 1, 1]), num_classes=2)
    targets.update(torch.tensor([1]), torch.tensor([[0.75, 0.25]]), momentum=0.5)
    torch.testing.assert_close(targets.weights(torch.tensor([0, 1])), torch.tensor([1.0, 0.625]))
    state = targets.state_dict()
    assert set(state) == {"labels", "targets"}
    copy = SoftTargets(torch.tensor([1, 1, 1]), num_classes=2)
    copy.load_state_dict(state)
    assert torch.equal(copy.targets, targets.targets)
    label, confidence = copy.refined_labels()
    assert label.tolist() == [0, 1, 1] and confidence.tolist() == [1.0, 0.625, 1.0]


def test_cpu_storage_serves_batches_from_another_device_type():
    targets = SoftTargets(torch.tensor([0, 1]), num_classes=2, device="cpu")
    rows = targets.update(torch.tensor([0]), torch.tensor([[0.0, 1.0]]), momentum=0.0)
    assert rows.device.type == "cpu" and targets.targets.device.type == "cpu"
    assert targets.targets[0].tolist() == [0.0, 1.0]
