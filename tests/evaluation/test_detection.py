import json

import numpy as np
import pytest

from satlearn.engine.reporting import to_json
from satlearn.evaluation.detection import (
    auroc, average_precision, detection_report, format_measure, precision_recall_curve, precision_recall_f1,
)


def test_set_metrics_by_hand():
    flagged = np.array([1, 1, 1, 0, 0, 0], bool)
    truth = np.array([1, 1, 0, 1, 0, 0], bool)
    m = precision_recall_f1(flagged, truth)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    missed = precision_recall_f1(~truth, truth)  # flagged and wrong, none of them hits: all three defined and 0
    assert missed["precision"] == 0.0 and missed["recall"] == 0.0 and missed["f1"] == 0.0


def test_precision_recall_and_f1_differ_when_flagged_and_positives_differ_in_size():
    # 4 flagged, 2 positives, 1 hit: precision 1/4 ≠ recall 1/2, so a swap shows; F1 is their harmonic mean
    flagged = np.array([1, 1, 1, 1, 0, 0], bool)
    truth = np.array([1, 0, 0, 0, 1, 0], bool)
    m = precision_recall_f1(flagged, truth)
    assert m["precision"] == pytest.approx(1 / 4) and m["recall"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(1 / 3)  # the arithmetic mean would be 3/8
    assert m["flagged"] == 4 and m["positives"] == 2


def test_nothing_flagged_leaves_precision_and_f1_undefined_not_zero():
    truth = np.array([1, 0, 1, 0], bool)
    m = precision_recall_f1(np.zeros(4, bool), truth)
    assert m["precision"] is None and m["f1"] is None
    assert m["recall"] == 0.0 and m["flagged"] == 0 and m["positives"] == 2


def test_no_positives_leave_recall_f1_and_the_ranking_measures_undefined():
    truth, scores = np.zeros(4, bool), np.array([0.9, 0.8, 0.7, 0.1])
    flagged = np.array([1, 1, 0, 0], bool)
    report = detection_report(scores, flagged, truth)
    assert report["precision"] == 0.0 and report["recall"] is None and report["f1"] is None
    assert report["auroc"] is None and report["average_precision"] is None
    precision, recall, _ = precision_recall_curve(scores, truth)
    assert np.isnan(recall).all() and (precision == 0).all()
    # nothing flagged either: no measure is defined, and the JSON holds nulls, not 0 or NaN
    assert json.loads(to_json(detection_report(scores, np.zeros(4, bool), truth))) == {
        "precision": None, "recall": None, "f1": None, "flagged": 0, "positives": 0, "auroc": None,
        "average_precision": None}


def test_auroc_is_undefined_with_no_negatives_but_average_precision_is_not():
    truth, scores = np.ones(3, bool), np.array([0.9, 0.5, 0.1])
    assert auroc(scores, truth) is None and average_precision(scores, truth) == 1.0


def test_an_undefined_measure_is_shown_as_n_a():
    assert format_measure(None) == "n/a" and format_measure(float("nan")) == "n/a"
    assert format_measure(2 / 3) == f"{2 / 3:.3f}" and format_measure(0.0, ".1f") == "0.0"


def test_ranking_metrics_by_hand():
    truth = np.array([1, 0, 1, 0], bool)
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    # ranked: P N P N → AP = (1/1 + 2/3) / 2; AUROC: positives beat 2 + 1 of 4 pairs
    assert average_precision(scores, truth) == pytest.approx((1 + 2 / 3) / 2)
    assert auroc(scores, truth) == pytest.approx(3 / 4)
    assert auroc(-scores, truth) == pytest.approx(1 / 4)


def test_ties_count_half_and_perfect_ranking_is_one():
    truth = np.array([1, 0, 1, 0], bool)
    assert auroc(np.ones(4), truth) == pytest.approx(0.5)
    assert average_precision(np.ones(4), truth) == pytest.approx(0.5)
    assert auroc(truth.astype(float), truth) == 1.0 and average_precision(truth.astype(float), truth) == 1.0


def test_random_scores_give_chance_level():
    rng = np.random.default_rng(0)
    truth = rng.random(20000) < 0.3
    scores = rng.random(20000)
    assert abs(auroc(scores, truth) - 0.5) < 0.02
    assert abs(average_precision(scores, truth) - 0.3) < 0.02
    precision, recall, thresholds = precision_recall_curve(scores, truth)
    assert recall[-1] == 1.0 and np.all(np.diff(thresholds) < 0)


def test_inputs_of_different_lengths_are_refused():
    # a shorter flagged set broadcast against truth gave precision 2.0; a longer truth was cut to a prefix
    with pytest.raises(ValueError, match="flagged has 1, truth has 4"):
        precision_recall_f1(np.array([True]), np.array([True, True, False, False]))
    scores = np.array([0.9, 0.1])
    for measure in (auroc, average_precision, precision_recall_curve):
        with pytest.raises(ValueError, match="scores has 2, truth has 4"):
            measure(scores, np.array([True, False, True, False]))
    with pytest.raises(ValueError, match="scores has 2, flagged has 3, truth has 2"):
        detection_report(scores, np.array([True, False, False]), np.array([True, False]))


def test_nan_scores_are_refused_not_ranked_first():
    scores, truth = np.array([np.nan, 0.4, 0.2, 0.9]), np.array([1, 1, 0, 0], bool)
    for measure in (auroc, average_precision, precision_recall_curve):
        with pytest.raises(ValueError, match=r"scores must be finite: scores\[0\] is nan"):
            measure(scores, truth)
    with pytest.raises(ValueError, match="scores must be finite"):
        detection_report(scores, truth, truth)


def test_truth_and_flagged_must_be_one_dimensional_bool_or_zero_one():
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert auroc(scores, np.array([1, 0, 1, 0])) == auroc(scores, np.array([1, 0, 1, 0], bool))
    with pytest.raises(ValueError, match=r"truth\[1\] is 2"):  # class indices, not a truth mask
        auroc(scores, np.array([1, 2, 0, 0]))
    with pytest.raises(ValueError, match="truth must be bool or 0/1 integers, got dtype float64"):
        average_precision(scores, np.array([0.9, 0.1, 0.8, 0.2]))
    with pytest.raises(ValueError, match=r"flagged must be 1-D .*shape \(2, 2\)"):
        precision_recall_f1(np.ones((2, 2), bool), np.ones(4, bool))
    with pytest.raises(ValueError, match=r"scores must be 1-D .*shape \(2, 2\)"):
        auroc(scores.reshape(2, 2), np.array([1, 0, 1, 0], bool))


def test_average_precision_is_the_mean_precision_at_each_positive_not_an_interpolated_one():
    # ranked N P P: the positives sit at ranks 2 and 3 with precision 1/2 and 2/3; interpolating (the best
    # precision at any later rank) would give 2/3 to both
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([0, 1, 1], bool)) == pytest.approx((1 / 2 + 2 / 3) / 2)
    rng = np.random.default_rng(5)
    scores, truth = rng.random(200), rng.random(200) < 0.3  # no ties: one threshold per example
    ranked_truth = truth[np.argsort(-scores)]
    at_positives = [ranked_truth[:k + 1].sum() / (k + 1) for k in range(200) if ranked_truth[k]]
    assert average_precision(scores, truth) == pytest.approx(np.mean(at_positives))


def test_the_precision_recall_curve_flags_every_score_at_or_above_each_distinct_threshold():
    rng = np.random.default_rng(6)
    scores, truth = rng.integers(0, 8, 60).astype(float), rng.random(60) < 0.4  # many ties
    precision, recall, thresholds = precision_recall_curve(scores, truth)
    assert thresholds.tolist() == sorted(set(scores.tolist()), reverse=True)
    for p, r, t in zip(precision, recall, thresholds):
        flagged = scores >= t
        assert p == pytest.approx((flagged & truth).sum() / flagged.sum())
        assert r == pytest.approx((flagged & truth).sum() / truth.sum())


def test_the_report_ranks_by_the_scores_and_counts_by_the_flagged_set():
    # the hand example of test_ranking_metrics_by_hand, with a flagged set that disagrees with the ranking
    truth, scores = np.array([1, 0, 1, 0], bool), np.array([0.9, 0.8, 0.7, 0.1])
    report = detection_report(scores, np.array([0, 1, 1, 0], bool), truth)
    assert report["precision"] == pytest.approx(1 / 2) and report["recall"] == pytest.approx(1 / 2)
    assert report["auroc"] == pytest.approx(3 / 4) and report["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
