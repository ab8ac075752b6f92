"""Loss functions: pure, stateless, keyword-only options. Logits are cast to float32 before any softmax.

Shapes: ``logits`` ``(B, C)``, ``labels`` ``(B,)`` int64, ``targets`` ``(B, C)`` rows on the probability simplex.
Every function returns a scalar (the batch mean, or the confidence-weighted mean for SAT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy with hard labels."""
    return F.cross_entropy(logits.float(), labels)


def soft_cross_entropy_per_example(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(B,)`` values of ``−Σ_j t_ij log softmax(z_i)_j``."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)


def confidence_weights(targets: torch.Tensor) -> torch.Tensor:
    """``(B,)`` SAT weights ``w_i = max_j t_ij`` rescaled to mean 1 over the batch."""
    w = targets.max(dim=1).values
    return w * (w.numel() / w.sum())


def sat_loss(logits: torch.Tensor, targets: torch.Tensor, *, reweight: bool = True) -> torch.Tensor:
    """SAT loss (Algorithm 1): ``Σ_i w_i ℓ_i / Σ_i w_i`` with ``ℓ_i`` the soft cross-entropy to ``t_i``.

    ``targets`` must be the already updated EMA targets, detached. ``reweight=False`` gives the plain mean.
    """
    per_example = soft_cross_entropy_per_example(logits, targets)
    if not reweight:
        return per_example.mean()
    return (confidence_weights(targets) * per_example).mean()


def sat_sce_loss(logits: torch.Tensor, targets: torch.Tensor, *, a: float = 1.0, b: float = 0.3,
                 log_floor: float = 1e-4, reweight: bool = True) -> torch.Tensor:
    """SAT with symmetric cross-entropy: ``ℓ_i = −a Σ t log p − b Σ p log max(t, log_floor)``, SAT weights.

    ``p`` keeps its gradient in the reverse term; ``log_floor`` keeps ``log t`` finite where targets are 0.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    forward = -(targets * log_probs).sum(dim=1)
    reverse = -(log_probs.exp() * targets.clamp(min=log_floor).log()).sum(dim=1)
    per_example = a * forward + b * reverse
    if not reweight:
        return per_example.mean()
    return (confidence_weights(targets) * per_example).mean()


def symmetric_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, *, a: float = 0.1, b: float = 1.0,
                            log_floor: float = 1e-4) -> torch.Tensor:
    """Symmetric cross-entropy (Wang et al., ICCV 2019): ``a·CE + b·RCE`` with ``log 0`` replaced by ``log log_floor``."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    one_hot = F.one_hot(labels, log_probs.shape[1]).float()
    forward = -(one_hot * log_probs).sum(dim=1)
    reverse = -(log_probs.exp() * one_hot.clamp(min=log_floor).log()).sum(dim=1)
    return (a * forward + b * reverse).mean()


def generalized_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, *, q: float = 0.7) -> torch.Tensor:
    """Generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018): mean of ``(1 − p_y^q) / q``, ``q ∈ (0, 1]``."""
    p_y = F.softmax(logits.float(), dim=1).gather(1, labels[:, None]).squeeze(1)
    return ((1.0 - p_y.clamp(min=1e-12).pow(q)) / q).mean()
