import math
import re

import pytest
import torch
import torch.nn.functional as F

from satlearn import losses


def naive_sat_loss(logits, targets):
    """Σ_i w_i (−Σ_j t_ij log p_ij) / Σ_i w_i with w_i = max_j t_ij, one example at a time."""
    num, den = 0.0, 0.0
    for z, t in zip(logits.double(), targets.double()):
        log_p = z - torch.logsumexp(z, dim=0)
        w = float(t.max())
        num += w * float(-(t * log_p).sum())
        den += w
    return num / den


def test_sat_loss_is_the_confidence_weighted_soft_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(12, 5)
    targets = torch.softmax(torch.randn(12, 5) * 2, dim=1)
    assert math.isclose(float(losses.sat_loss(logits, targets)), naive_sat_loss(logits, targets), rel_tol=1e-5)


def test_confidence_weights_average_one():
    torch.manual_seed(1)
    targets = torch.softmax(torch.randn(33, 4), dim=1)
    w = losses.confidence_weights(targets)
    torch.testing.assert_close(w.mean(), torch.tensor(1.0))
    assert torch.equal(w.argsort(), targets.max(dim=1).values.argsort())


def test_one_hot_targets_reduce_sat_to_cross_entropy():
    torch.manual_seed(2)
    logits, labels = torch.randn(8, 3), torch.randint(0, 3, (8,))
    torch.testing.assert_close(losses.sat_loss(logits, F.one_hot(labels, 3).float()), F.cross_entropy(logits, labels))


def test_sat_sce_is_finite_with_zero_targets_and_has_gradients():
    logits = torch.randn(4, 3, requires_grad=True)
    targets = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0.5, 0.5, 0], [0, 0, 1]])
    loss = losses.sat_sce_loss(logits, targets, a=1.0, b=0.3)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_sat_sce_matches_its_formula():
    torch.manual_seed(3)
    logits = torch.randn(6, 4)
    targets = torch.softmax(torch.randn(6, 4), dim=1)
    p = torch.softmax(logits, 1)
    per = -(targets * p.log()).sum(1) - 0.3 * (p * targets.clamp(min=1e-4).log()).sum(1)
    w = targets.max(1).values
    torch.testing.assert_close(losses.sat_sce_loss(logits, targets, a=1.0, b=0.3), (w * per).sum() / w.sum())


def test_baselines_match_their_definitions():
    torch.manual_seed(4)
    logits, labels = torch.randn(10, 4), torch.randint(0, 4, (10,))
    p = torch.softmax(logits, 1)
    p_y = p[torch.arange(10), labels]
    torch.testing.assert_close(losses.generalized_cross_entropy(logits, labels, q=0.7), ((1 - p_y**0.7) / 0.7).mean())
    rce = -(p * F.one_hot(labels, 4).float().clamp(min=1e-4).log()).sum(1)
    expected = (0.1 * F.cross_entropy(logits, labels, reduction="none") + 1.0 * rce).mean()
    torch.testing.assert_close(losses.symmetric_cross_entropy(logits, labels, a=0.1, b=1.0), expected)


@pytest.mark.parametrize("loss", [losses.sat_loss, losses.sat_sce_loss])
def test_soft_target_losses_refuse_shapes_that_would_broadcast(loss):
    logits = torch.randn(4, 3)
    targets = torch.softmax(torch.randn(4, 3), dim=1)
    for bad_targets in (targets[:1], targets[:, :1]):  # (1, C) and (B, 1) broadcast silently
        with pytest.raises(ValueError, match=r"expected both \(B, C\)"):
            loss(logits, bad_targets)
    with pytest.raises(ValueError, match=r"expected both \(B, C\)"):
        loss(logits[:1], targets)
    with pytest.raises(ValueError, match=r"weights of shape \(1,\); expected \(4,\), one per example"):
        loss(logits, targets, weights=torch.tensor([0.5]))  # was 4 times the weighted mean


@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.symmetric_cross_entropy,
                                  losses.generalized_cross_entropy])
def test_hard_label_losses_refuse_labels_of_another_shape(loss):
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    # fewer labels than examples (gather scored only the first ones) and a (B, 1) column (broadcast to B x B)
    for bad_labels in (labels[:2], labels[:, None]):
        with pytest.raises(ValueError, match=rf"^labels of shape {re.escape(str(tuple(bad_labels.shape)))}; "
                                             r"expected \(4,\), one per example"):
            loss(logits, bad_labels)
    with pytest.raises(ValueError, match=r"^logits of shape \(3,\); expected \(B, C\)"):
        loss(logits[0], labels[0])


def test_the_gamblers_loss_refuses_a_payoff_outside_1_to_c():
    logits, labels = torch.randn(2, 4), torch.tensor([0, 2])  # C = 3 classes and the abstain output
    for payoff in (0.0, 0.5, 1.0, 3.0, float("nan")):
        with pytest.raises(ValueError, match=r"expected 1 < payoff < C = 3"):
            losses.gamblers_loss(logits, labels, payoff=payoff)
    assert torch.isfinite(losses.gamblers_loss(logits, labels, payoff=2.2))


def test_options_that_would_give_nan_or_be_ignored_are_refused():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    targets = torch.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"q=0; expected 0 < q <= 1"):
        losses.generalized_cross_entropy(logits, labels, q=0)
    for log_floor in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"log_floor=.*; expected 0 < log_floor <= 1"):
            losses.symmetric_cross_entropy(logits, labels, log_floor=log_floor)
        with pytest.raises(ValueError, match=r"log_floor=.*; expected 0 < log_floor <= 1"):
            losses.sat_sce_loss(logits, targets, log_floor=log_floor)
    for loss in (losses.sat_loss, losses.sat_sce_loss):
        with pytest.raises(ValueError, match="weights given with reweight=False"):
            loss(logits, targets, reweight=False, weights=torch.ones(4))


@pytest.mark.parametrize("call, message", [
    (lambda: losses.selective_sat_loss(torch.randn(4, 3), torch.full((4, 3), 1 / 3), torch.zeros(4, dtype=torch.long)),
     r"logits of shape \(4, 3\); expected \(B, 4\): C class logits and the abstain logit last"),
    (lambda: losses.selective_sat_loss(torch.randn(4, 4), torch.full((5, 3), 1 / 3), torch.zeros(4, dtype=torch.long)),
     r"class_targets of shape \(5, 3\); expected \(4, 3\)"),
    (lambda: losses.selective_sat_loss(torch.randn(4, 4), torch.full((4, 3), 1 / 3), torch.zeros(4, 1).long()),
     r"labels of shape \(4, 1\); expected \(4,\)"),
    (lambda: losses.gamblers_loss(torch.randn(4, 11), torch.zeros(5, dtype=torch.long)),
     r"labels of shape \(5,\); expected \(4,\)"),
    (lambda: losses.gamblers_loss(torch.randn(11), torch.zeros(11, dtype=torch.long)),
     r"logits of shape \(11,\); expected \(B, C \+ 1\)"),
])
def test_the_selective_losses_name_a_shape_that_is_not_theirs(call, message):
    # as the SAT losses do: broadcasting or gather would otherwise give a raw torch error or a loss of other examples
    with pytest.raises(ValueError, match=message):
        call()


LOGITS, ABSTAIN_LOGITS, LABELS = torch.randn(4, 3), torch.randn(4, 4), torch.tensor([0, 1, 2, 0])
TARGETS = torch.full((4, 3), 1 / 3)


@pytest.mark.parametrize("loss, arguments", [
    (losses.cross_entropy, {"logits": LOGITS, "labels": LABELS}),
    (losses.soft_cross_entropy_per_example, {"logits": LOGITS, "targets": TARGETS}),
    (losses.confidence_weights, {"targets": TARGETS}),
    (losses.sat_loss, {"logits": LOGITS, "targets": TARGETS, "weights": torch.ones(4)}),
    (losses.sat_sce_loss, {"logits": LOGITS, "targets": TARGETS, "weights": torch.ones(4)}),
    (losses.symmetric_cross_entropy, {"logits": LOGITS, "labels": LABELS}),
    (losses.generalized_cross_entropy, {"logits": LOGITS, "labels": LABELS}),
    (losses.selective_sat_targets, {"class_targets": TARGETS, "labels": LABELS}),
    (losses.selective_sat_loss, {"logits": ABSTAIN_LOGITS, "class_targets": TARGETS, "labels": LABELS}),
    (losses.gamblers_loss, {"logits": ABSTAIN_LOGITS, "labels": LABELS}),
])
def test_an_argument_that_is_no_tensor_is_named_in_one_line(loss, arguments):
    assert torch.isfinite(loss(**arguments)).all()
    for name, value in arguments.items():
        for given in (value.numpy(), value.tolist()):
            with pytest.raises(TypeError, match=rf"^{name} must be a torch\.Tensor, got {type(given).__name__} "):
                loss(**{**arguments, name: given})


@pytest.mark.parametrize("loss", [losses.sat_loss, losses.sat_sce_loss])
def test_reweight_false_is_the_plain_batch_mean_and_given_weights_are_the_ones_used(loss):
    torch.manual_seed(5)
    logits = torch.randn(6, 4)
    targets = torch.softmax(2 * torch.randn(6, 4), dim=1)
    per_example = [float(loss(logits[i:i + 1], targets[i:i + 1], reweight=False)) for i in range(6)]
    assert math.isclose(float(loss(logits, targets, reweight=False)), sum(per_example) / 6, rel_tol=1e-5)
    # weights unlike max_j t_ij (a caller's own confidences): Σ w ℓ / Σ w with those, not with the targets' maxima
    weights = torch.tensor([0.0, 1.0, 3.0, 0.5, 0.0, 2.0])
    expected = sum(w * l for w, l in zip(weights.tolist(), per_example)) / float(weights.sum())
    assert math.isclose(float(loss(logits, targets, weights=weights)), expected, rel_tol=1e-5)


def test_the_log_floor_given_is_the_one_that_replaces_log_0():
    # with one-hot t, the reverse term −Σ_j p_j log max(t_j, floor) is −(1 − p_y) log floor: the label's log is 0
    torch.manual_seed(6)
    logits, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 1])
    p_y = torch.softmax(logits, dim=1)[torch.arange(5), labels]
    for floor in (1e-2, 1e-6, 1.0):
        reverse = -(1 - p_y) * math.log(floor)
        expected = (F.cross_entropy(logits, labels, reduction="none") + 0.5 * reverse).mean()
        torch.testing.assert_close(losses.symmetric_cross_entropy(logits, labels, a=1.0, b=0.5, log_floor=floor),
                                   expected)
        one_hot = F.one_hot(labels, 3).float()  # all weights 1: the weighted mean is the plain mean
        torch.testing.assert_close(losses.sat_sce_loss(logits, one_hot, a=1.0, b=0.5, log_floor=floor), expected)


def test_sat_sce_gradient_flows_through_both_terms():
    # the reverse term keeps p's gradient: the loss's gradient is that of the formula written out in float64
    torch.manual_seed(7)
    logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    targets = torch.softmax(torch.randn(4, 3, dtype=torch.float64), dim=1)
    p = torch.softmax(logits, dim=1)
    per = -(targets * p.log()).sum(1) - 0.3 * (p * targets.clamp(min=1e-4).log()).sum(1)
    w = targets.max(1).values
    (expected,) = torch.autograd.grad((w * per).sum() / w.sum(), logits)
    (got,) = torch.autograd.grad(losses.sat_sce_loss(logits, targets, a=1.0, b=0.3), logits)
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-6)


def test_generalized_cross_entropy_at_q_1_is_the_mean_of_1_minus_p_y():
    # q = 1 is in the documented range (0, 1]: (1 − p_y^1) / 1, the MAE-like end of GCE
    torch.manual_seed(8)
    logits, labels = torch.randn(7, 4), torch.randint(0, 4, (7,))
    p_y = torch.softmax(logits, dim=1)[torch.arange(7), labels]
    torch.testing.assert_close(losses.generalized_cross_entropy(logits, labels, q=1.0), (1 - p_y).mean())


def test_generalized_cross_entropy_keeps_a_finite_gradient_where_p_y_underflows_to_0():
    # a label 200 logits below the top one: p_y = e^-200 is 0 in float32, where d(p^q)/dp = q p^(q-1) is infinite
    logits = torch.tensor([[0.0, 200.0], [1.0, 0.0]], requires_grad=True)
    loss = losses.generalized_cross_entropy(logits, torch.tensor([0, 0]), q=0.7)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_the_module_docstring_names_the_functions_that_return_per_example_values():
    import inspect
    import re

    torch.manual_seed(0)
    inputs = {"logits": torch.randn(4, 6), "labels": torch.randint(0, 5, (4,)),
              "targets": torch.softmax(torch.randn(4, 6), dim=1),
              "class_targets": torch.softmax(torch.randn(4, 5), dim=1)}  # 5 classes + an abstain logit
    per_example = []
    for name, function in inspect.getmembers(losses, inspect.isfunction):
        if name.startswith("_") or function.__module__ != losses.__name__:
            continue
        required = [p for p in inspect.signature(function).parameters.values() if p.default is p.empty]
        if function(*(inputs[p.name] for p in required)).dim() != 0:
            per_example.append(name)
    named = re.search(r"the parts they are built from, (.*?), return one value or row per example",
                      " ".join(losses.__doc__.split()))
    assert named and sorted(re.findall(r"``([a-z_]+)``", named.group(1))) == per_example


def test_generalized_cross_entropy_keeps_its_value_and_gradient_where_p_y_is_tiny_but_not_0():
    # p_y = 1 / (1 + e^20) ≈ 2e-9 is far from 0 in float32: the loss is (1 − p_y^q) / q and its gradient
    # −p_y^q (1 − p_y) on z_y is small but not 0; only where p_y underflows does the floor take over
    logits = torch.tensor([[0.0, 20.0]], dtype=torch.float64)
    p_y = float(torch.softmax(logits, dim=1)[0, 0])
    expected_loss = (1 - p_y ** 0.7) / 0.7
    expected_grad = -(p_y ** 0.7) * (1 - p_y)  # d/dz_y of (1 − p_y^q) / q = −p_y^q (1 − p_y)
    z = logits.float().requires_grad_(True)
    loss = losses.generalized_cross_entropy(z, torch.tensor([0]), q=0.7)
    loss.backward()
    assert math.isclose(loss.item(), expected_loss, rel_tol=1e-6)
    assert math.isclose(float(z.grad[0, 0]), expected_grad, rel_tol=1e-4)
    assert math.isclose(float(z.grad[0, 1]), -expected_grad, rel_tol=1e-4)


@pytest.mark.parametrize("loss, arguments", [
    (losses.cross_entropy, {"logits": LOGITS}),
    (losses.symmetric_cross_entropy, {"logits": LOGITS}),
    (losses.generalized_cross_entropy, {"logits": LOGITS}),
    (losses.selective_sat_targets, {"class_targets": TARGETS}),
    (losses.selective_sat_loss, {"logits": ABSTAIN_LOGITS, "class_targets": TARGETS}),
    (losses.gamblers_loss, {"logits": ABSTAIN_LOGITS}),
])
def test_labels_of_any_integer_dtype_are_class_indices_and_float_or_bool_labels_are_named(loss, arguments):
    # a dataset's int32 or uint8 labels: torch's cross_entropy refused int32, its one_hot and gather uint8; a
    # complex label's cast would drop its imaginary part with a warning alone
    expected = loss(**arguments, labels=LABELS)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        torch.testing.assert_close(loss(**arguments, labels=LABELS.to(dtype)), expected, rtol=0, atol=0)
    for dtype in (torch.float32, torch.bool, torch.complex64):
        with pytest.raises(TypeError, match=rf"^labels of dtype {dtype}; expected integer class indices \(int64\), "
                                            "one per example$"):
            loss(**arguments, labels=LABELS.to(dtype))


@pytest.mark.parametrize("loss, arguments, name", [
    (losses.sat_loss, {"logits": LOGITS, "weights": torch.ones(4)}, "targets"),
    (losses.sat_sce_loss, {"logits": LOGITS, "weights": torch.ones(4)}, "targets"),
    (losses.sat_loss, {"logits": LOGITS, "targets": TARGETS}, "weights"),
    (losses.sat_sce_loss, {"logits": LOGITS, "targets": TARGETS}, "weights"),
    (losses.selective_sat_loss, {"logits": ABSTAIN_LOGITS, "labels": LABELS}, "class_targets"),
])
def test_targets_built_from_the_logits_without_detach_are_refused(loss, arguments, name):
    # t = α t_old + (1 − α) softmax(logits) without .detach(): the loss trained the targets towards the model too
    logits = arguments["logits"].clone().requires_grad_()
    probs = torch.softmax(logits[:, :3], dim=1)  # over the C = 3 classes (an abstain logit left out)
    attached = probs.amax(dim=1) if name == "weights" else 0.5 * TARGETS + 0.5 * probs
    with pytest.raises(ValueError, match=rf"^{name} require grad; expected them detached, as SoftTargets\.update "
                                         r"returns its rows \(a gradient through them is not SAT's\)$"):
        loss(**{**arguments, "logits": logits, name: attached})
    loss(**{**arguments, "logits": logits, name: attached.detach()}).backward()  # detached, they are taken
