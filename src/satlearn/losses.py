"""Loss functions: pure, stateless, keyword-only options. Logits are cast to float32 before any softmax.

Shapes: ``logits`` ``(B, C)`` (``(B, C + 1)``, the abstain logit last, for selective SAT and Deep Gamblers),
``labels`` ``(B,)`` class indices (int64; another integer dtype, such as a dataset's int32 or uint8, is read as
int64, and a float or bool one is a ``TypeError``), ``targets`` ``(B, C)`` rows on the probability simplex. Every loss
returns a scalar (the batch mean, or the confidence-weighted mean for SAT); the parts they are built from,
``soft_cross_entropy_per_example``, ``confidence_weights`` and ``selective_sat_targets``, return one value or row per
example. Every array argument is a ``torch.Tensor``: another (a NumPy array, a list) is a ``TypeError`` naming it.
Every loss refuses arguments of other shapes than these with a ``ValueError`` naming them (``(B,)`` logits, ``(B, 1)``
labels), as broadcasting or torch's unbatched form would give a loss of something else without a word; the parts do
not check shapes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F


def _check_tensors(**given: Any) -> None:
    # a NumPy array or a list would fail deep inside torch, in an error that names no argument ('no attribute dim')
    for name, value in given.items():
        if value is not None and not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__} (torch.from_numpy converts "
                            "a NumPy array)")


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy with hard labels."""
    _check_tensors(logits=logits, labels=labels)
    _check_hard_labels(logits, labels)  # (B,) logits would be torch's unbatched form: the loss of one example
    return F.cross_entropy(logits.float(), _class_indices(labels))


def soft_cross_entropy_per_example(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(B,)`` values of ``−Σ_j t_ij log softmax(z_i)_j``."""
    _check_tensors(logits=logits, targets=targets)
    return -(targets * F.log_softmax(logits, dim=1, dtype=torch.float32)).sum(dim=1)


def confidence_weights(targets: torch.Tensor) -> torch.Tensor:
    """``(B,)`` SAT weights ``w_i = max_j t_ij`` rescaled to mean 1 over the batch."""
    _check_tensors(targets=targets)
    w = targets.max(dim=1).values
    return w * (w.numel() / w.sum())


def _weighted_mean(per_example: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # Σ w ℓ / Σ w: the mean with weights rescaled to average 1, in four kernels instead of six
    return (weights * per_example).sum() / weights.sum()


def _check_soft(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> None:
    # shapes only (host-side, no device sync): broadcasting would otherwise turn a (1, C) or (B, 1) mistake into a
    # loss of another size, silently
    _check_tensors(logits=logits, targets=targets, weights=weights)
    if logits.dim() != 2 or tuple(targets.shape) != tuple(logits.shape):
        raise ValueError(f"logits of shape {tuple(logits.shape)} and targets of shape {tuple(targets.shape)}; "
                         "expected both (B, C)")
    if weights is not None and tuple(weights.shape) != (logits.shape[0],):
        raise ValueError(f"weights of shape {tuple(weights.shape)}; expected ({logits.shape[0]},), one per example")
    _check_detached(targets=targets, weights=weights)


def _check_detached(**given: torch.Tensor | None) -> None:
    # SAT trains towards its targets and weighs by them; targets built from the logits without .detach() would also
    # pull the targets towards the model, a gradient SAT does not have, and train on without a word
    for name, value in given.items():
        if value is not None and value.requires_grad:
            raise ValueError(f"{name} require grad; expected them detached, as SoftTargets.update returns its rows "
                             "(a gradient through them is not SAT's)")


def _check_hard_labels(logits: torch.Tensor, labels: torch.Tensor) -> None:
    # shapes only (host-side, no device sync): gather would score only the first len(labels) examples, and a
    # (B, 1) one-hot would broadcast against (B, C) into a loss of B × B pairs, both without a word
    if logits.dim() != 2:
        raise ValueError(f"logits of shape {tuple(logits.shape)}; expected (B, C)")
    if tuple(labels.shape) != (logits.shape[0],):
        raise ValueError(f"labels of shape {tuple(labels.shape)}; expected ({logits.shape[0]},), one per example")


def _class_indices(labels: torch.Tensor) -> torch.Tensor:
    # torch's own kernels differ in what they take (cross_entropy int64 or uint8, one_hot int64 only, gather int32
    # or int64), so labels that a dataset stored as int32 or uint8 would train in one loss and fail in another
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        # a cast would truncate 0.9 to class 0
        raise TypeError(f"labels of dtype {labels.dtype}; expected integer class indices (int64), one per example")
    return labels.long()  # the tensor itself where it is int64 already


def _check_weighting(reweight: bool, weights: torch.Tensor | None) -> None:
    if weights is not None and not reweight:
        raise ValueError("weights given with reweight=False, which takes the plain mean; drop one of them")


def _check_log_floor(log_floor: float) -> None:
    if not 0.0 < log_floor <= 1.0:  # also refuses nan
        raise ValueError(f"log_floor={log_floor!r}; expected 0 < log_floor <= 1 (log 0 is -inf)")


def sat_loss(logits: torch.Tensor, targets: torch.Tensor, *, reweight: bool = True,
             weights: torch.Tensor | None = None) -> torch.Tensor:
    """SAT loss (Algorithm 1): ``Σ_i w_i ℓ_i / Σ_i w_i`` with ``ℓ_i`` the soft cross-entropy to ``t_i``.

    ``targets`` must be the already updated EMA targets, detached (targets or weights that require grad are a
    ``ValueError``). ``reweight=False`` gives the plain mean.
    ``weights``: the ``(B,)`` confidences ``max_j t_ij`` when the caller has them already (they are not recomputed;
    non-negative, which is not checked; only with ``reweight``). Shapes that differ raise ``ValueError``.
    """
    _check_soft(logits, targets, weights)
    _check_weighting(reweight, weights)
    per_example = soft_cross_entropy_per_example(logits, targets)
    if not reweight:
        return per_example.mean()
    return _weighted_mean(per_example, targets.amax(dim=1) if weights is None else weights)


def sat_sce_loss(logits: torch.Tensor, targets: torch.Tensor, *, a: float = 1.0, b: float = 0.3,
                 log_floor: float = 1e-4, reweight: bool = True, weights: torch.Tensor | None = None) -> torch.Tensor:
    """SAT with symmetric cross-entropy: ``ℓ_i = −a Σ t log p − b Σ p log max(t, log_floor)``, SAT weights.

    ``p`` keeps its gradient in the reverse term; ``log_floor`` (in ``(0, 1]``) raises every target entry below it
    to it before the log, as SCE's clamp of the one-hot label does. The SAT code takes ``log t`` unclamped (an
    updated target has no zero entry where ``p`` has none), so the two differ on entries below ``log_floor``: the
    classes a confident model has all but ruled out. ``weights`` as in :func:`sat_loss`.
    """
    _check_soft(logits, targets, weights)
    _check_weighting(reweight, weights)
    _check_log_floor(log_floor)
    log_probs = F.log_softmax(logits, dim=1, dtype=torch.float32)
    forward = -(targets * log_probs).sum(dim=1)
    reverse = -(log_probs.exp() * targets.clamp(min=log_floor).log()).sum(dim=1)
    per_example = a * forward + b * reverse
    if not reweight:
        return per_example.mean()
    return _weighted_mean(per_example, targets.amax(dim=1) if weights is None else weights)


def symmetric_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, *, a: float = 0.1, b: float = 1.0,
                            log_floor: float = 1e-4) -> torch.Tensor:
    """Symmetric cross-entropy (Wang et al., ICCV 2019): ``a·CE + b·RCE`` with ``log 0`` replaced by ``log log_floor``
    (``0 < log_floor <= 1``)."""
    _check_tensors(logits=logits, labels=labels)
    _check_hard_labels(logits, labels)
    _check_log_floor(log_floor)
    labels = _class_indices(labels)
    log_probs = F.log_softmax(logits.float(), dim=1)
    one_hot = F.one_hot(labels, log_probs.shape[1]).float()
    forward = -(one_hot * log_probs).sum(dim=1)
    reverse = -(log_probs.exp() * one_hot.clamp(min=log_floor).log()).sum(dim=1)
    return (a * forward + b * reverse).mean()


def generalized_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, *, q: float = 0.7) -> torch.Tensor:
    """Generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018): mean of ``(1 − p_y^q) / q``, ``q ∈ (0, 1]``."""
    _check_tensors(logits=logits, labels=labels)
    _check_hard_labels(logits, labels)
    if not 0.0 < q <= 1.0:  # also refuses nan
        raise ValueError(f"q={q!r}; expected 0 < q <= 1")
    labels = _class_indices(labels)
    p_y = F.softmax(logits.float(), dim=1).gather(1, labels[:, None]).squeeze(1)
    return ((1.0 - p_y.clamp(min=1e-12).pow(q)) / q).mean()


# ---------------------------------------------------------------------------------------------------------------
# Selective classification: models with C class logits plus one abstain logit (index C), ``logits`` ``(B, C + 1)``


def _check_abstain_shapes(logits: torch.Tensor, labels: torch.Tensor, *, classes: int | None = None) -> None:
    # shapes only (host-side, no device sync), as _check_soft: logits (B, C + 1), labels (B,)
    if logits.dim() != 2 or logits.shape[1] < 3 or (classes is not None and logits.shape[1] != classes + 1):
        expected = f"(B, {classes + 1})" if classes is not None else "(B, C + 1)"
        raise ValueError(f"logits of shape {tuple(logits.shape)}; expected {expected}: C class logits and the "
                         "abstain logit last")
    if tuple(labels.shape) != (logits.shape[0],):
        raise ValueError(f"labels of shape {tuple(labels.shape)}; expected ({logits.shape[0]},), one per example")


def selective_sat_targets(class_targets: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Selective SAT's target over the C classes and the abstain output.

    Args:
        class_targets: ``(B, C)`` accumulated SAT targets over the C classes (rows on the simplex).
        labels: ``(B,)`` given labels (integer class indices).
    Returns:
        ``(B, C + 1)`` float32 rows with ``t_{i,y_i}`` on the label, ``1 − t_{i,y_i}`` on the abstain output
        (the last column) and 0 elsewhere.
    """
    _check_tensors(class_targets=class_targets, labels=labels)
    labels = _class_indices(labels)
    class_targets = class_targets.float()
    on_label = class_targets.gather(1, labels[:, None])
    out = torch.zeros(class_targets.shape[0], class_targets.shape[1] + 1, dtype=torch.float32,
                      device=class_targets.device)
    out.scatter_(1, labels[:, None], on_label)
    out[:, -1] = 1.0 - on_label.squeeze(1)
    return out


def selective_sat_loss(logits: torch.Tensor, class_targets: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Selective SAT loss: mean soft cross-entropy of ``log_softmax`` over all C + 1 logits against
    :func:`selective_sat_targets` — no confidence re-weighting.

    Args:
        logits: ``(B, C + 1)``, the abstain logit last.
        class_targets: ``(B, C)`` updated SAT targets over the classes, detached (a ``ValueError`` if they
            require grad).
        labels: ``(B,)`` given labels.
    """
    _check_tensors(logits=logits, class_targets=class_targets, labels=labels)
    _check_abstain_shapes(logits, labels, classes=class_targets.shape[-1] if class_targets.dim() == 2 else None)
    if class_targets.dim() != 2 or class_targets.shape[0] != logits.shape[0]:
        raise ValueError(f"class_targets of shape {tuple(class_targets.shape)}; expected ({logits.shape[0]}, "
                         f"{logits.shape[1] - 1}), the batch's targets over the C classes")
    _check_detached(class_targets=class_targets)
    return soft_cross_entropy_per_example(logits, selective_sat_targets(class_targets, labels)).mean()


def gamblers_loss(logits: torch.Tensor, labels: torch.Tensor, *, payoff: float = 2.2) -> torch.Tensor:
    """Deep Gamblers loss (Liu et al., NeurIPS 2019): mean of ``−log(p_y + p_abstain / o)``.

    ``p`` is the softmax over all C + 1 logits (abstain last), ``o = payoff`` with ``1 < o < C``. (The paper writes
    ``−log(o p_y + p_abstain)``, which differs by the constant ``log o``.) Computed in log space:
    ``logsumexp(z_y, z_abstain − log o) − logsumexp(z)``.

    Args:
        logits: ``(B, C + 1)``.
        labels: ``(B,)`` integer labels in ``[0, C)``.
    """
    _check_tensors(logits=logits, labels=labels)
    _check_abstain_shapes(logits, labels)
    labels = _class_indices(labels)
    if not 1.0 < payoff < logits.shape[1] - 1:  # also refuses nan (a ValueError, not math's "domain error")
        raise ValueError(f"payoff={payoff!r}; expected 1 < payoff < C = {logits.shape[1] - 1}")
    logits = logits.float()
    on_label = logits.gather(1, labels[:, None]).squeeze(1)
    bet = torch.stack([on_label, logits[:, -1] - math.log(payoff)], dim=1)
    return (torch.logsumexp(logits, dim=1) - torch.logsumexp(bet, dim=1)).mean()
