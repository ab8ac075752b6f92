"""Scoring a ranking or a flagged set against known truth (e.g. which labels really are wrong).

Pure numpy, no state. ``scores``: ``(N,)`` finite, higher = more likely positive. ``truth`` and ``flagged``:
``(N,)`` bool (or 0/1 integers), True = positive. Anything else is a ValueError.
"""

from __future__ import annotations

import numpy as np

from satlearn.evaluation._checks import checked


def precision_recall_f1(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the boolean set ``flagged`` (0 where undefined, as in the usual convention)."""
    flagged, truth = checked(flagged=flagged, truth=truth, finite=True)
    hits = float((flagged & truth).sum())
    precision = hits / flagged.sum() if flagged.sum() else 0.0
    recall = hits / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "flagged": int(flagged.sum()), "positives": int(truth.sum())}


def auroc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > that of a random negative), ties count ½."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks (1-based) over tied groups
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall_curve(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold (flag ``score >= threshold``), highest first."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_truth = scores[order], truth[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    true_positives = np.cumsum(sorted_truth)[last_of_group]
    flagged = last_of_group + 1
    precision = true_positives / flagged
    recall = true_positives / max(int(truth.sum()), 1)
    return precision, recall, sorted_scores[last_of_group]


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Σ_k (R_k − R_{k−1}) P_k over distinct thresholds — the step-wise area under the precision–recall curve."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    if truth.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_curve(scores, truth)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def detection_report(scores: np.ndarray, flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Set metrics of ``flagged`` plus ranking metrics of ``scores``, against ``truth``."""
    checked(scores=scores, flagged=flagged, truth=truth, finite=True)  # also that flagged matches scores in length
    return {**precision_recall_f1(flagged, truth), "auroc": auroc(scores, truth),
            "average_precision": average_precision(scores, truth)}
