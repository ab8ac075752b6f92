"""Risk–coverage measures on cases small enough to check by hand."""

import random

import numpy as np
import pytest

from satlearn.evaluation.detection import auroc
from satlearn.evaluation.selective import (
    PAPER_COVERAGES, augrc, aurc, bisection_threshold, bisection_thresholds, coverage_at, e_aurc, optimal_aurc,
    risk_coverage_curve, selective_error, selective_report,
)
from satlearn.selective import paper_split, selection_scores

# scores: higher = abstain first; correct: True = right prediction
HAND_SCORES = np.array([0.1, 0.2, 0.3, 0.4])
HAND_CORRECT = np.array([True, False, True, False])


def test_curve_by_hand():
    curve = risk_coverage_curve(HAND_SCORES, HAND_CORRECT)
    np.testing.assert_allclose(curve.coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve.risk, [0, 1 / 2, 1 / 3, 1 / 2])
    np.testing.assert_allclose(curve.generalized_risk, [0, 1 / 4, 1 / 4, 1 / 2])
    np.testing.assert_allclose(curve.threshold, HAND_SCORES)


def test_aurc_e_aurc_and_augrc_by_hand():
    # AURC = mean of the prefix risks 0, 1/2, 1/3, 1/2
    assert aurc(HAND_SCORES, HAND_CORRECT) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    # oracle: both correct first → risks 0, 0, 1/3, 1/2
    assert optimal_aurc(HAND_CORRECT) == pytest.approx((1 / 3 + 1 / 2) / 4)
    assert e_aurc(HAND_SCORES, HAND_CORRECT) == pytest.approx(1 / 8)
    # trapezoid under generalized risk 0, 0, 1/4, 1/4, 1/2 at coverage 0, 1/4, ..., 1
    assert augrc(HAND_SCORES, HAND_CORRECT) == pytest.approx(0.25 * (0 + 0.125 + 0.25 + 0.375))


def test_perfect_ranking_has_zero_excess():
    correct = np.array([True] * 7 + [False] * 3)
    scores = np.where(correct, 0.1, 0.9) + np.linspace(0, 0.01, 10)
    assert e_aurc(scores, correct) == pytest.approx(0.0, abs=1e-15)
    assert augrc(scores, correct) == pytest.approx(0.3 ** 2 / 2)  # the oracle AUGRC r²/2
    report = selective_report(scores, correct)
    assert report["error"] == pytest.approx(0.3) and report["augrc"] == pytest.approx(report["optimal_augrc"])


def test_worst_ranking_has_the_largest_aurc():
    correct = np.array([True] * 7 + [False] * 3)
    good, bad = np.where(correct, 0.0, 1.0), np.where(correct, 1.0, 0.0)
    assert aurc(bad, correct) > aurc(np.zeros(10), correct) > aurc(good, correct)


def test_random_ranking_gives_aurc_near_the_error_rate():
    rng = np.random.default_rng(0)
    correct = rng.random(20000) > 0.2
    error = 1 - correct.mean()
    assert aurc(rng.random(20000), correct) == pytest.approx(error, abs=0.01)
    assert augrc(rng.random(20000), correct) == pytest.approx(error / 2, abs=0.01)  # GR grows linearly to r


def test_constant_scores_give_exactly_the_error_rate():
    correct = np.array([True, False, True, True, False])
    curve = risk_coverage_curve(np.full(5, 0.5), correct)
    np.testing.assert_allclose(curve.risk, 0.4)
    assert aurc(np.full(5, 0.5), correct) == pytest.approx(0.4)


def test_ties_are_shared_out_and_order_free():
    scores = np.array([0.1, 0.5, 0.5, 0.9])
    correct = np.array([True, True, False, False])
    # the tied pair holds one error: the prefix of 2 counts half of it → risks 0, 1/4, 1/3, 1/2
    np.testing.assert_allclose(risk_coverage_curve(scores, correct).risk, [0, 1 / 4, 1 / 3, 1 / 2])
    both_orders = ((0 + 0 + 1 / 3 + 1 / 2) / 4 + (0 + 1 / 2 + 1 / 3 + 1 / 2) / 4) / 2
    assert aurc(scores, correct) == pytest.approx(both_orders)
    swapped = [0, 2, 1, 3]
    assert aurc(scores[swapped], correct[swapped]) == pytest.approx(both_orders)


def test_infinite_scores_tie_like_any_other():
    scores = np.array([0.0, np.inf, np.inf])
    one, other = np.array([True, True, False]), np.array([True, False, True])
    assert aurc(scores, one) == pytest.approx(aurc(scores, other))


def test_augrc_matches_its_auroc_identity_with_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, 300).astype(float)  # many ties
    correct = rng.random(300) > 0.3
    r = 1 - correct.mean()
    expected = r ** 2 / 2 + r * (1 - r) * (1 - auroc(scores, ~correct))
    assert augrc(scores, correct) == pytest.approx(expected, abs=1e-12)


def test_bisection_reaches_every_paper_coverage_within_0_3_points():
    scores = np.random.default_rng(2).random(2000) ** 3  # skewed, like probabilities
    found = bisection_thresholds(scores, [c / 100 for c in PAPER_COVERAGES])
    assert [t.target for t in found] == [c / 100 for c in PAPER_COVERAGES]
    for t in found:
        assert t.within_tolerance and abs(t.coverage - t.target) <= 0.003 + 1e-12
        assert coverage_at(scores, t.threshold) == pytest.approx(t.coverage)
    single = bisection_threshold(scores, 0.8)
    assert abs(coverage_at(scores, single.threshold) - 0.8) <= 0.003


def test_bisection_reaches_coverages_in_any_order():
    scores = np.random.default_rng(0).random(2000)
    targets = [0.1, 0.5, 0.9, 1.0, 0.3]
    found = bisection_thresholds(scores, targets)
    assert [t.target for t in found] == targets
    for t in found:
        assert t.within_tolerance and abs(t.coverage - t.target) <= 0.003 + 1e-12, t


def test_bisection_gives_up_gracefully_when_ties_block_the_target():
    scores = np.r_[np.zeros(60), np.linspace(0.5, 1, 40)]  # 60 % tie at 0: coverages below 60 % are unreachable
    low = bisection_threshold(scores, 0.3)
    assert not low.within_tolerance and low.coverage == pytest.approx(0.6)
    few = bisection_threshold(np.linspace(0, 1, 10), 0.95)  # one example = 10 points
    assert not few.within_tolerance and few.coverage in (pytest.approx(0.9), pytest.approx(1.0))


def test_bisection_that_misses_the_tolerance_returns_the_closest_coverage_it_saw():
    scores = np.linspace(0, 1, 10)  # reachable coverages: 0.1, 0.2, ..., 1.0
    # the search ends oscillating around 1.0 for 0.93 and around 0.9 for 0.83; the closest it saw are 0.9 and 0.8
    for target, closest in ((0.93, 0.9), (0.83, 0.8)):
        found = bisection_threshold(scores, target)
        assert not found.within_tolerance
        assert found.coverage == pytest.approx(closest, abs=1e-12)
        assert coverage_at(scores, found.threshold) == found.coverage  # the threshold returned is the one that gave it


def test_coverage_at_accepts_scores_equal_to_the_threshold():
    assert coverage_at([0.1, 0.2, 0.3], 0.2) == 2 / 3
    assert coverage_at([0.5, 0.5], 0.5) == 1.0


def test_selective_error_at_a_threshold():
    assert selective_error(HAND_SCORES, HAND_CORRECT, 0.25) == (0.5, 0.5)
    assert selective_error(HAND_SCORES, HAND_CORRECT, 0.1) == (0.25, 0.0)
    coverage, error = selective_error(HAND_SCORES, HAND_CORRECT, 0.0)
    assert coverage == 0.0 and np.isnan(error)


def test_paper_split_is_the_seed_10_shuffle():
    values = list(range(10000))
    random.seed(10)
    random.shuffle(values)  # what the paper's evaluation code does to its list of results
    val, test, note = paper_split(10000)
    assert note is None and len(val) == 2000 and len(test) == 8000
    assert val.tolist() == values[:2000] and test.tolist() == values[2000:]
    val, test, note = paper_split(500)
    assert len(val) == 250 and len(test) == 250 and "first half" in note
    values = list(range(7))
    random.seed(10)
    random.shuffle(values)
    val, test, note = paper_split(7)  # an odd split: the validation part is the smaller half
    assert val.tolist() == values[:3] and test.tolist() == values[3:] and "first half (3)" in note


def test_scores_from_logits():
    import torch

    logits = torch.tensor([[4.0, 0.0, 0.0, -2.0], [0.0, 1.0, 0.0, 3.0], [60.0, 0.0, 0.0, 0.0]])
    abstain, predicted = selection_scores(logits, num_classes=3, score="abstain")
    np.testing.assert_allclose(abstain, torch.softmax(logits.double(), 1)[:, 3].numpy())
    assert predicted.tolist() == [0, 1, 0]  # argmax over the first C outputs only
    sr, _ = selection_scores(logits, num_classes=3, score="max_softmax")
    p = torch.softmax(logits[:, :3].double(), 1)
    np.testing.assert_allclose(sr[:2], 1 - p.max(1).values.numpy()[:2], rtol=1e-12)
    assert 0 < sr[2] < 1e-20  # a very confident example still gets its own, non-zero score


def test_thresholds_far_below_the_halvings_resolution_are_still_found():
    # an over-confident model's scores: 1 − max softmax down to e^-200, where 200 halvings of [0, 1] cannot reach
    scores = np.exp(-np.random.default_rng(3).uniform(0, 200, 2000))
    for found in (bisection_threshold(scores, target) for target in (0.9, 0.5, 0.1)):  # each a fresh search
        assert found.within_tolerance and abs(found.coverage - found.target) <= 0.003 + 1e-12, found
        assert coverage_at(scores, found.threshold) == pytest.approx(found.coverage)


def test_scores_must_be_one_dimensional_and_correct_bool_or_zero_one():
    with pytest.raises(ValueError, match=r"scores must be 1-D .*shape \(4, 2\)"):  # not 8 examples
        aurc(np.stack([HAND_SCORES, HAND_SCORES], 1), np.r_[HAND_CORRECT, HAND_CORRECT])
    not_flags = (([3, 0, 1, 2], r"correct\[0\] is 3"),  # class predictions
                 ([0.1, 0.9, 0.2, 0.3], "got dtype float64"),  # probabilities
                 ([np.nan, 1, 0, 1], "got dtype float64"))
    for correct, message in not_flags:
        for measure in (aurc, e_aurc, augrc, risk_coverage_curve, selective_report):
            with pytest.raises(ValueError, match=message):
                measure(HAND_SCORES, np.array(correct))
        with pytest.raises(ValueError, match=message):
            selective_error(HAND_SCORES, np.array(correct), 0.25)
        with pytest.raises(ValueError, match=message):
            optimal_aurc(np.array(correct))
    assert aurc(HAND_SCORES, HAND_CORRECT.astype(int)) == aurc(HAND_SCORES, HAND_CORRECT)


@pytest.mark.parametrize("coverage", [1.5, -0.5, np.nan, 0.0, "0.5", True])
def test_a_coverage_outside_0_to_1_or_not_a_number_is_refused(coverage):
    scores = np.linspace(0, 1, 100)
    with pytest.raises(ValueError, match=r"coverage=.*expected a fraction in \(0, 1\]"):
        bisection_threshold(scores, coverage)
    with pytest.raises(ValueError, match=r"coverages\[1\]=.*expected a fraction in \(0, 1\]"):
        bisection_thresholds(scores, [0.9, coverage])


def test_the_tolerance_must_be_finite_and_not_negative():
    scores = np.linspace(0, 1, 100)
    for tolerance in (-1, np.nan, np.inf, True, "0.01"):
        with pytest.raises(ValueError, match="tolerance=.*expected a finite fraction >= 0"):
            bisection_threshold(scores, 0.5, tolerance=tolerance)
    exact = bisection_threshold(scores, 0.5, tolerance=0)  # 0: the target itself, where a threshold reaches it
    assert exact.within_tolerance and exact.coverage == 0.5


def test_coverage_at_refuses_no_scores_and_nan():
    with pytest.raises(ValueError, match="no examples"):
        coverage_at([], 0.5)
    with pytest.raises(ValueError, match=r"scores\[1\] is nan"):  # not counted as rejected
        coverage_at([0.1, np.nan, 0.3], 0.5)
    with pytest.raises(ValueError, match="threshold=nan"):
        coverage_at([0.1, 0.2], np.nan)


def _paper_bisection(scores, targets, tolerance_pct=0.3, *, satlearn_departures=False):
    """The SAT evaluation's search as its docstring tells it, in plain Python: threshold from 1, bounds [0, upper]
    with upper doubled until every score passes, lower reset to 0 per target, threshold and upper carried over.

    ``satlearn_departures``: with the two changes bisection_thresholds documents, the lower bound below the smallest
    score where scores go below 0, and the first upper bound again for a target above the coverage reached so far."""
    n = len(scores)

    def coverage_pct(threshold):
        return sum(1 for s in scores if s <= threshold) / n * 100.0

    upper = 1.0
    while coverage_pct(upper) < 100.0:
        upper *= 2.0
    first_upper = upper
    floor = min(scores) - 1.0 if satlearn_departures and min(scores) < 0 else 0.0
    threshold, found = 1.0, []
    for target in targets:
        lower = floor
        if satlearn_departures and coverage_pct(threshold) < target * 100.0:
            upper = first_upper
        while abs(coverage_pct(threshold) - target * 100.0) > tolerance_pct:
            if coverage_pct(threshold) > target * 100.0:
                upper = min(threshold, upper)
                threshold = (threshold + lower) / 2.0
            else:
                lower = max(threshold, lower)
                threshold = (threshold + upper) / 2.0
        found.append(threshold)
    return found


@pytest.mark.parametrize("high", [1.0, 3.0])
def test_bisection_gives_the_papers_thresholds_for_its_decreasing_coverages(high):
    # 1999 examples: no coverage k/N lands on a tolerance edge, where float rounding could decide the comparison
    scores = np.random.default_rng(4).random(1999) ** 2 * high
    targets = [c / 100 for c in PAPER_COVERAGES]
    found = bisection_thresholds(scores, targets)
    assert [t.threshold for t in found] == _paper_bisection(scores.tolist(), targets)


@pytest.mark.parametrize("low, high, targets", [
    (0.0, 1.0, [0.1, 0.5, 0.9, 1.0, 0.3, 0.97]),  # rising targets: the bound carried from a lower one is below them
    (-1.0, 1.0, [c / 100 for c in PAPER_COVERAGES]),  # half the scores below 0: so are the low coverages' thresholds
    (0.0, 1.5, [c / 100 for c in PAPER_COVERAGES]),  # the upper bound doubles once, to 2
])
def test_bisection_follows_the_papers_search_with_its_documented_departures(low, high, targets):
    # the threshold itself matters, not only its coverage: the validation part's is applied to the test part
    scores = low + np.random.default_rng(5).random(1999) * (high - low)
    found = bisection_thresholds(scores, targets)
    assert all(t.within_tolerance for t in found)
    assert [t.threshold for t in found] == _paper_bisection(scores.tolist(), targets, satlearn_departures=True)


def test_a_closest_score_out_of_tolerance_is_not_reported_within_it():
    # three scores far below what halving [0, 1] can separate, and one at 1: the reachable coverages are 1/4, 2/4,
    # 3/4 and 1, so the closest to 40 % is 50 %, ten points out
    found = bisection_threshold(np.array([1e-90, 2e-90, 3e-90, 1.0]), 0.4)
    assert found.coverage == 0.5 and not found.within_tolerance


def test_the_report_holds_the_measures_of_the_hand_example():
    report = selective_report(HAND_SCORES, HAND_CORRECT)
    # see test_aurc_e_aurc_and_augrc_by_hand: AURC 1/3, oracle 5/24, so E-AURC 1/8; two errors in four
    assert report["num_examples"] == 4 and report["error"] == pytest.approx(0.5)
    assert report["aurc"] == pytest.approx(1 / 3) and report["optimal_aurc"] == pytest.approx(5 / 24)
    assert report["e_aurc"] == pytest.approx(1 / 8) and report["optimal_augrc"] == pytest.approx(0.5 ** 2 / 2)
    assert report["augrc"] == pytest.approx(0.25 * (0 + 0.125 + 0.25 + 0.375))


def test_the_bisection_refuses_infinite_scores_and_a_string_of_coverages():
    # an infinite score passes no finite threshold: the upper bound would double without end
    with pytest.raises(ValueError, match=r"scores must be finite: scores\[1\] is inf"):
        bisection_thresholds(np.array([0.1, np.inf, 0.3]), [0.5])
    for text in ("0.5", b"0.5"):  # not three targets '0', '.', '5'
        with pytest.raises(ValueError, match=r"coverages=b?'0\.5'; expected a sequence of fractions"):
            bisection_thresholds(np.linspace(0, 1, 10), text)
