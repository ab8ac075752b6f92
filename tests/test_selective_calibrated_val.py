import json
import re

import numpy as np
import pytest

from fixtures import tiny_overrides
from satlearn.cli import main
from satlearn.config import load_config
from satlearn.engine import fit
from satlearn.errors import ConfigError
from satlearn.evaluation.selective import risk_coverage_curve
from satlearn.selective import evaluate_run, evaluate_scores, run_scores


@pytest.fixture(scope="module")
def held_out_run(tmp_path_factory):
    """A tiny selective SAT run holding out 40 of its 480 training examples (a 120-example test split): too few for
    the thresholds of every paper coverage to reach it on them within the tolerance. It keeps its best epoch's
    weights."""
    root = tmp_path_factory.mktemp("selective-held-out")
    config = load_config(None, tiny_overrides(root, "method.name=selective_sat", "data.num_samples=600",
                                              "run.epochs=3", "data.val_size=40", "run.keep_best=true",
                                              "data.noise.kind=symmetric", "data.noise.rate=0.4"))
    return fit(config, root / "run", log=lambda m: None).run_dir


def test_a_report_calibrated_on_val_has_the_risk_coverage_curve_of_the_whole_test_split(held_out_run):
    scored = run_scores(held_out_run, calibrate_on="val")
    result = evaluate_scores(scored, calibrate_on="val")
    whole = risk_coverage_curve(scored.scores, scored.correct)
    assert len(result.curve) == len(scored.scores) == 120
    assert np.array_equal(result.curve.risk, whole.risk) and np.array_equal(result.curve.threshold, whole.threshold)
    # the paper's protocol keeps its test part's (half of a split this small)
    assert len(evaluate_run(held_out_run).curve) == 60


def test_selective_eval_calibrated_on_val_notes_the_coverages_the_validation_split_could_not_reach(held_out_run,
                                                                                                capsys):
    assert main(["selective-eval", str(held_out_run), "--calibrate-on", "val"]) == 0
    out = capsys.readouterr().out
    report = evaluate_run(held_out_run, calibrate_on="val").report
    missed = sum(not row["validation"]["within_tolerance"] for row in report["coverages"])
    assert 0 < missed < len(report["coverages"])
    assert (f"  note: {missed} of the {len(report['coverages'])} coverages were not reached on the validation "
            "split within the tolerance (too few or tied scores); the CSV's val_coverage column gives the coverage "
            "each reached\n") in out
    assert "not reached on the test part" not in out


def test_scores_without_the_validation_splits_are_refused_for_a_report_calibrated_on_val_in_one_line(held_out_run):
    scored = run_scores(held_out_run)
    message = (f"{held_out_run}: calibrate_on='val' needs the validation split's scores; score the run with "
               "run_scores(..., calibrate_on='val')")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        evaluate_scores(scored, calibrate_on="val")


def test_selective_eval_best_calibrated_on_val_writes_files_ending_in_calibrated_val_best(held_out_run, capsys):
    assert main(["selective-eval", str(held_out_run), "--best", "--calibrate-on", "val",
                 "--score", "max_softmax"]) == 0
    out = capsys.readouterr().out
    picked = json.loads((held_out_run / "summary.json").read_text())["validation"]["best_epoch"]
    assert (f"[selective_sat, score max_softmax, best epoch {picked}, thresholds fitted on its validation split]: "
            "test error") in out
    written = {p.name for p in held_out_run.iterdir() if "_best" in p.name}
    stem = "selective_max_softmax_calibrated_val_best"
    assert written == {f"{stem}.json", f"{stem}.csv", f"{stem}_curve.csv",
                       "risk_coverage_max_softmax_calibrated_val_best.png"}
    report = json.loads((held_out_run / "selective_max_softmax_calibrated_val_best.json").read_text())
    assert (report["epoch"], report["best"], report["best_by"], report["calibrated_on"]) == (picked, True, "val",
                                                                                            "val")
