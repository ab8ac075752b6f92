"""Scoring a ranking or a flagged set against known truth (e.g. which labels really are wrong).

Pure numpy, no state. ``scores``: ``(N,)`` finite, higher = more likely positive. ``truth`` and ``flagged``:
``(N,)`` bool (or 0/1 integers), True = positive. Anything else is a ValueError.

A measure with nothing to divide by is undefined, not 0: ``None`` here, ``null`` in the JSON files that hold it,
"n/a" where it is printed (:func:`format_measure`). Precision is undefined when nothing is flagged; recall, average
precision and AUROC when nothing is positive; AUROC also when everything is; F1 when precision or recall is.
"""

from __future__ import annotations

import math

import numpy as np

from satlearn.evaluation._checks import checked


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def precision_recall_f1(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float | int | None]:
    """Precision, recall and F1 of the boolean set ``flagged``, with the counts ``flagged`` and ``positives``.
    Precision is None when nothing is flagged, recall None when nothing is positive, F1 None when either is (and 0
    when both are 0)."""
    flagged, truth = checked(flagged=flagged, truth=truth, finite=True)
    hits, num_flagged, positives = int((flagged & truth).sum()), int(flagged.sum()), int(truth.sum())
    precision, recall = _ratio(hits, num_flagged), _ratio(hits, positives)
    # the harmonic mean of the two, written with counts: no 0/0 where both are 0
    f1 = None if precision is None or recall is None else 2 * hits / (num_flagged + positives)
    return {"precision": precision, "recall": recall, "f1": f1, "flagged": num_flagged, "positives": positives}


def auroc(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """Area under the ROC curve = P(score of a random positive > that of a random negative), ties count ½; None
    when there are no positives or no negatives to pair."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return None
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
    """Precision and recall at every distinct score threshold (flag ``score >= threshold``), highest first. With no
    positives, recall is undefined at every threshold: NaN (an array holds no None)."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_truth = scores[order], truth[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    true_positives = np.cumsum(sorted_truth)[last_of_group]
    flagged = last_of_group + 1
    precision = true_positives / flagged
    positives = int(truth.sum())
    recall = true_positives / positives if positives else np.full(len(flagged), np.nan)
    return precision, recall, sorted_scores[last_of_group]


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """Σ_k (R_k − R_{k−1}) P_k over distinct thresholds — the step-wise area under the precision–recall curve; None
    when there are no positives."""
    scores, truth = checked(scores=scores, truth=truth, finite=True)
    if truth.sum() == 0:
        return None
    precision, recall, _ = precision_recall_curve(scores, truth)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def detection_report(scores: np.ndarray, flagged: np.ndarray, truth: np.ndarray) -> dict[str, float | int | None]:
    """Set metrics of ``flagged`` (:func:`precision_recall_f1`) plus ranking metrics of ``scores``, against
    ``truth``; None where one is undefined."""
    checked(scores=scores, flagged=flagged, truth=truth, finite=True)  # also that flagged matches scores in length
    return {**precision_recall_f1(flagged, truth), "auroc": auroc(scores, truth),
            "average_precision": average_precision(scores, truth)}


def is_undefined(value: float | None) -> bool:
    """Whether a measure is undefined: None, or NaN (which a result file written by an older satlearn may hold)."""
    return value is None or math.isnan(value)


def format_measure(value: float | None, spec: str = ".3f") -> str:
    """``value`` formatted with ``spec``, or "n/a" where it is undefined (:func:`is_undefined`)."""
    return "n/a" if is_undefined(value) else format(value, spec)
