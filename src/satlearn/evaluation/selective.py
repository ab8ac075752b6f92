"""Selective classification measures: risk–coverage curve, AURC, E-AURC, AUGRC, thresholds at a coverage.

Pure numpy, no state. Conventions shared by every function:

- ``scores``: ``(N,)`` selection scores where **higher means less confident** — abstain first. The classifier
  accepts the examples with ``score <= threshold`` (the convention of the SAT and Deep Gamblers code, whose score is
  the abstain probability; for Softmax Response it is ``1 − max softmax``).
- ``correct``: ``(N,)`` bool, whether the classifier's prediction of example ``i`` is right.
- **Coverage** is the fraction of examples accepted; **selective risk** (selective error) the fraction of the
  accepted examples that are wrong; **generalized risk** (Traub et al., NeurIPS 2024) the fraction of *all*
  examples that are accepted and wrong (= coverage × selective risk).
- Curves are evaluated at the N coverages ``k/N`` of the ranked prefixes (most confident first). **Ties**: a
  prefix that ends inside a group of equal scores counts the group's errors in proportion — the average over all
  orders of the tied examples — so every result is independent of the input order, and a constant score gives
  selective risk = overall error rate at every coverage.
- **AURC** is the mean selective risk over the N prefixes, ``(1/N) Σ_k risk(k/N)`` (Geifman et al., ICLR 2019).
  **E-AURC** subtracts the AURC of the oracle ranking (all correct examples first) with the same errors,
  computed with the same discrete estimator, so a perfect ranking scores exactly 0. (Geifman et al.'s code uses
  the continuous approximation ``r + (1 − r) ln(1 − r)`` of the oracle, which differs by O(1/N).)
- **AUGRC** is the trapezoidal area under the generalized-risk curve from (0, 0) to (1, error rate), as in
  Traub et al.; it equals ``r²/2 + r(1 − r)(1 − AUROC)`` with ``r`` the error rate and AUROC the probability that a
  correct example scores lower than a wrong one (ties ½). Oracle value: ``r²/2``.
- Measures are fractions (multiply by 100 for %, by 1000 for the ×10³ of most papers).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from satlearn.evaluation._checks import checked

# The coverages (%) of the SAT / Deep Gamblers evaluation (train.py ``--coverage`` defaults), highest first.
PAPER_COVERAGES: tuple[int, ...] = (100, 99, 98, 97, 95, 90, 85, 80, 75, 70, 60, 50, 40, 30, 20, 10)


def check_examples(scores, correct, *, finite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` float64 scores (not NaN; finite with ``finite``) and ``(N,)`` bool ``correct`` (bool or 0/1
    integers given), N >= 1; anything else is a ValueError."""
    return checked(scores=scores, correct=correct, finite=finite)


def _real(value) -> bool:
    # bool is an int to Python, and True would pass as coverage 1
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_coverage(coverage, name: str = "coverage") -> float:
    """A target coverage as a float: a real number in (0, 1], not a bool or a string."""
    if not _real(coverage) or not 0.0 < coverage <= 1.0:
        raise ValueError(f"{name}={coverage!r}; expected a fraction in (0, 1]")
    return float(coverage)


def check_coverages(coverages) -> list[float]:
    """:func:`check_coverage` of every target in ``coverages``."""
    if isinstance(coverages, (str, bytes)) or not isinstance(coverages, Iterable):
        raise ValueError(f"coverages={coverages!r}; expected a sequence of fractions in (0, 1]")
    return [check_coverage(c, f"coverages[{i}]") for i, c in enumerate(coverages)]


def check_tolerance(tolerance) -> float:
    """A coverage tolerance as a float: a finite real number >= 0 (0 asks for the target exactly, where some
    threshold reaches it)."""
    if not _real(tolerance) or not np.isfinite(tolerance) or tolerance < 0.0:
        raise ValueError(f"tolerance={tolerance!r}; expected a finite fraction >= 0")
    return float(tolerance)


@dataclass
class RiskCoverage:
    """A risk–coverage curve at the N prefix coverages ``k/N``, k = 1..N (most confident first)."""

    coverage: np.ndarray  # (N,) k / N
    risk: np.ndarray  # (N,) selective risk: expected errors among the first k / k
    generalized_risk: np.ndarray  # (N,) expected errors among the first k / N
    threshold: np.ndarray  # (N,) score of the k-th most confident example

    def __len__(self) -> int:
        return len(self.coverage)


def _expected_errors(scores: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted scores and the (N,) expected error count of each prefix, tied groups shared out evenly."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    wrong = (~correct[order]).astype(np.float64)
    n = len(scores)
    starts = np.r_[0, np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1]) + 1]  # inf == inf: a tie
    ends = np.r_[starts[1:], n]
    group_errors = np.add.reduceat(wrong, starts)
    errors_before = np.r_[0.0, np.cumsum(group_errors)[:-1]]
    sizes = ends - starts
    group = np.repeat(np.arange(len(starts)), sizes)
    position = np.arange(1, n + 1) - starts[group]  # 1..size inside the group
    return sorted_scores, errors_before[group] + position * group_errors[group] / sizes[group]


def risk_coverage_curve(scores, correct) -> RiskCoverage:
    """Selective and generalized risk at every prefix coverage ``k/N`` (see the module notes on ties)."""
    scores, correct = check_examples(scores, correct)
    n = len(scores)
    sorted_scores, errors = _expected_errors(scores, correct)
    k = np.arange(1, n + 1, dtype=np.float64)
    return RiskCoverage(coverage=k / n, risk=errors / k, generalized_risk=errors / n, threshold=sorted_scores)


def aurc(scores, correct) -> float:
    """Area under the risk–coverage curve: mean selective risk over the N ranked prefixes (Geifman et al.)."""
    return float(risk_coverage_curve(scores, correct).risk.mean())


def optimal_aurc(correct) -> float:
    """AURC of the oracle ranking that accepts every correct example before any wrong one."""
    (correct,) = checked(correct=correct, finite=False)
    n, errors = len(correct), int((~correct).sum())
    if errors == 0:
        return 0.0
    right = n - errors
    m = np.arange(1, errors + 1, dtype=np.float64)
    return float(np.sum(m / (right + m)) / n)


def e_aurc(scores, correct) -> float:
    """Excess AURC: :func:`aurc` minus :func:`optimal_aurc` (0 for a perfect ranking)."""
    return aurc(scores, correct) - optimal_aurc(correct)


def augrc(scores, correct) -> float:
    """Area under the generalized risk–coverage curve (Traub et al., NeurIPS 2024), trapezoidal from (0, 0)."""
    curve = risk_coverage_curve(scores, correct)
    n = len(curve)
    # trapezoid on the uniform grid 0, 1/N, ..., 1 with generalized risk 0 at coverage 0
    return float((curve.generalized_risk.sum() - curve.generalized_risk[-1] / 2.0) / n)


def coverage_at(scores, threshold: float) -> float:
    """Fraction of examples accepted at ``threshold`` (``score <= threshold``)."""
    (scores,) = checked(scores=scores, finite=False)
    _check_threshold(threshold)
    return float((scores <= threshold).mean())


def selective_error(scores, correct, threshold: float) -> tuple[float, float]:
    """``(coverage, selective error)`` of accepting ``score <= threshold``; the error is NaN if nothing is accepted."""
    scores, correct = check_examples(scores, correct)
    _check_threshold(threshold)
    accepted = scores <= threshold
    if not accepted.any():
        return 0.0, float("nan")
    return float(accepted.mean()), float((~correct[accepted]).mean())


def _check_threshold(threshold) -> None:
    # a NaN threshold accepts nothing: coverage 0 with no sign of the mistake
    if not _real(threshold) or np.isnan(threshold):
        raise ValueError(f"threshold={threshold!r}; expected a real number (accept score <= threshold)")


@dataclass
class Threshold:
    """The outcome of a threshold search for one target coverage."""

    target: float  # requested coverage (fraction)
    threshold: float  # accept score <= threshold
    coverage: float  # coverage reached on the scores searched
    within_tolerance: bool  # |coverage − target| <= tolerance


def _closest_score_threshold(scores: np.ndarray, target_pct: float) -> tuple[float, int]:
    """The score whose use as a threshold gives the coverage closest to ``target_pct`` (in percentage points),
    and how many scores it accepts."""
    values, counts = np.unique(scores, return_counts=True)
    accepted = np.cumsum(counts)
    k = int(np.argmin(np.abs(accepted / len(scores) * 100.0 - target_pct)))
    return float(values[k]), int(accepted[k])


def bisection_thresholds(scores, coverages, *, tolerance: float = 0.003, max_steps: int = 200) -> list[Threshold]:
    """Thresholds reaching each coverage in ``coverages`` to within ``tolerance``, by the SAT paper's bisection.

    This is the search of ``bisection_method`` in the SAT / Deep Gamblers evaluation code: the comparison is made in
    percentage points (``|100·passed/N − 100·target| > 100·tolerance`` keeps searching), the threshold starts at
    1 with bounds [0, upper] (``upper`` doubled until every score passes), the lower bound is reset to 0 for every
    target while the threshold and the upper bound carry over from one target to the next — so with targets in
    decreasing order (as :data:`PAPER_COVERAGES`) the thresholds are exactly those of that code for scores in
    [0, 1]. For scores below 0 the lower bound starts below the smallest score instead.

    Unlike that code, a target above the coverage reached so far starts again from the first upper bound (the
    carried one would keep the search below it), and the search stops after ``max_steps`` halvings when the
    tolerance is not met: then the closest coverage any threshold seen or any score itself gives is returned,
    with ``within_tolerance`` saying whether it is within the tolerance (ties, or too few examples — one example is
    ``100/N`` points — can keep it out; scores far below the halving's resolution, such as 1e-80, do not).

    Args:
        scores: ``(N,)`` selection scores (higher = abstain first).
        coverages: target coverages as fractions, e.g. ``[1.0, 0.95, 0.9]``.
        tolerance: allowed coverage error as a fraction (the paper: 0.3 percentage points = 0.003); 0 asks for the
            target exactly.
    """
    (scores,) = checked(scores=scores, finite=True)
    coverages = check_coverages(coverages)
    tolerance = check_tolerance(tolerance)
    n = len(scores)
    tolerance_pct = round(tolerance * 100.0, 9)
    floor = 0.0 if scores.min() >= 0.0 else float(scores.min()) - 1.0
    upper = 1.0
    while (scores <= upper).sum() / n * 100.0 < 100.0:
        upper *= 2.0
    top = upper
    threshold = 1.0
    out = []
    for target in coverages:
        target_pct = round(target * 100.0, 9)
        lower = floor
        passed = int((scores <= threshold).sum())
        if passed / n * 100.0 < target_pct:  # a higher target than the last: the carried upper bound is stale
            upper = top
        best = (abs(passed / n * 100.0 - target_pct), threshold, passed)
        steps = 0
        while abs(passed / n * 100.0 - target_pct) > tolerance_pct and steps < max_steps:
            if passed / n * 100.0 > target_pct:
                upper = min(threshold, upper)
                threshold = (threshold + lower) / 2.0
            else:
                lower = max(threshold, lower)
                threshold = (threshold + upper) / 2.0
            passed = int((scores <= threshold).sum())
            gap = abs(passed / n * 100.0 - target_pct)
            if gap < best[0]:
                best = (gap, threshold, passed)
            steps += 1
        within = abs(passed / n * 100.0 - target_pct) <= tolerance_pct
        if not within:
            threshold, passed = best[1], best[2]
            # halving cannot resolve thresholds far below its step (scores like 1e-80); every distinct score is a
            # threshold too, and one of them may come closer
            candidate, count = _closest_score_threshold(scores, target_pct)
            if abs(count / n * 100.0 - target_pct) < best[0]:
                threshold, passed = candidate, count
                within = abs(passed / n * 100.0 - target_pct) <= tolerance_pct
        out.append(Threshold(target=target, threshold=float(threshold), coverage=passed / n,
                             within_tolerance=bool(within)))
    return out


def bisection_threshold(scores, coverage: float, *, tolerance: float = 0.003) -> Threshold:
    """:func:`bisection_thresholds` for a single target coverage (a fresh search)."""
    return bisection_thresholds(scores, [check_coverage(coverage)], tolerance=tolerance)[0]


def selective_report(scores, correct) -> dict[str, float]:
    """Accuracy-independent summary of a ranking: error rate, AURC, oracle AURC, E-AURC, AUGRC, oracle AUGRC."""
    scores, correct = check_examples(scores, correct)
    error = float((~correct).mean())
    value = aurc(scores, correct)
    best = optimal_aurc(correct)
    return {"num_examples": int(len(scores)), "error": error, "aurc": value, "optimal_aurc": best,
            "e_aurc": value - best, "augrc": augrc(scores, correct), "optimal_augrc": error ** 2 / 2.0}
