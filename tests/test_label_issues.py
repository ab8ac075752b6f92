import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import drawn_figures, legend_below, legends_cover_no_axes, tiny_overrides
from satlearn.cli import main
from satlearn.errors import ConfigTypeError, DataError, SatlearnError
from satlearn.label_issues import find_label_issues, load_run_targets, plot_precision_recall, write_label_issues


def rows(issues):
    return list(csv.DictReader(io.StringIO(issues.to_csv())))


def test_no_issues_when_targets_agree_with_labels():
    labels = np.array([0, 1, 2, 1])
    issues = find_label_issues(labels, np.eye(3)[labels])
    assert issues.num_flagged == 0 and len(issues.ranked_indices) == 0
    table = rows(issues)
    assert [r["flagged"] for r in table] == ["0"] * 4
    assert [r["suggested_label"] for r in table] == ["0", "1", "2", "1"]
    assert sorted(int(r["rank"]) for r in table) == [1, 2, 3, 4]


def test_all_flagged_and_suggestions_follow_the_targets():
    labels = np.array([0, 1, 2])
    targets = np.array([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8], [0.7, 0.0, 0.3]])
    issues = find_label_issues(labels, targets)
    assert issues.flagged.all()
    assert issues.suggested_labels.tolist() == [1, 2, 0]
    np.testing.assert_allclose(issues.scores, [0.9, 0.8, 0.7])
    assert issues.ranked_indices.tolist() == [0, 1, 2]


def test_ties_are_not_flagged_and_rank_deterministically():
    labels = np.array([0, 0, 0, 0])
    targets = np.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    issues = find_label_issues(labels, targets)
    assert not issues.flagged.any()  # a tie with the given label is no evidence against it
    assert issues.suggested_labels.tolist() == [0, 0, 0, 0]
    # equal scores 0.5: larger margin first (rows 0 and 2, margin 0), then by index
    assert issues.ranks.tolist() == [1, 3, 2, 4]


def test_a_float64_tensor_flags_what_the_same_numpy_array_flags():
    import torch

    labels = np.array([0, 1])
    targets = np.array([[0.5 - 1e-9, 0.5 + 1e-9], [0.3, 0.7]])  # row 0: another class leads by 2e-9
    from_numpy = find_label_issues(labels, targets)
    from_torch = find_label_issues(torch.from_numpy(labels), torch.from_numpy(targets))
    assert from_torch.flagged.tolist() == from_numpy.flagged.tolist()
    np.testing.assert_array_equal(from_torch.scores, from_numpy.scores)
    np.testing.assert_array_equal(from_torch.margins, from_numpy.margins)


def test_count_and_fraction_rules():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 100)
    targets = rng.dirichlet(np.ones(4), 100)
    top = find_label_issues(labels, targets, num_issues=7)
    assert top.num_flagged == 7 and set(top.ranked_indices) == set(np.argsort(top.ranks)[:7])
    assert find_label_issues(labels, targets, fraction=0.25).num_flagged == 25
    assert find_label_issues(labels, targets, fraction=0.0).num_flagged == 0
    assert find_label_issues(labels, targets, fraction=1.0).num_flagged == 100  # both ends of [0, 1]
    assert find_label_issues(labels, targets, num_issues=100).num_flagged == 100
    with pytest.raises(ValueError, match="at most one"):
        find_label_issues(labels, targets, num_issues=3, fraction=0.1)
    with pytest.raises(ValueError, match=r"num_issues=1\.5 must be a whole number"):
        find_label_issues(labels, targets, num_issues=1.5)


def test_bad_input():
    with pytest.raises(DataError, match=r"label 3 at index 1 is outside \[0, 3\)"):
        find_label_issues(np.array([0, 3]), np.eye(3)[[0, 1]])
    with pytest.raises(DataError, match="soft targets cover 2 examples"):
        find_label_issues(np.array([0, 1, 2]), np.eye(3)[[0, 1]])
    with pytest.raises(DataError, match="probability vectors"):
        find_label_issues(np.array([0, 1]), np.array([[0.5, 0.9], [1.0, 0.0]]))


def test_outputs_and_summary(tmp_path, monkeypatch):
    labels = np.array([0, 1, 1, 2])
    targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4]])
    issues = find_label_issues(labels, targets)
    points = record_flagged_points(monkeypatch)
    summary = write_label_issues(issues, tmp_path, true_labels=np.array([0, 0, 1, 2]), class_names=["a", "b", "c"])
    assert summary["num_flagged"] == 2
    assert summary["flagged_per_given_class"] == {"a": 0, "b": 1, "c": 1}
    assert {"given": "b", "suggested": "a", "count": 1} in summary["most_confused_pairs"]
    truth = summary["against_true_labels"]
    assert truth["precision"] == 0.5 and truth["recall"] == 1.0
    assert np.load(tmp_path / "label_issues_mask.npy").tolist() == [False, True, False, True]
    assert np.load(tmp_path / "label_issues_ranked.npy").tolist() == [1, 3]
    assert np.load(tmp_path / "pred_probs.npy").shape == (4, 3)
    assert (tmp_path / "label_issues_pr.png").exists() and points == [(1.0, 0.5)]  # the flagged set's point


def test_cli_trains_then_reuses_the_run(tmp_path, capsys):
    sets = [a for o in tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4", "run.name=r")
            for a in ("--set", o)]
    assert main(["find-issues", *sets]) == 2  # neither a run directory nor a config
    assert main(["find-issues", "--config", str(Path(__file__).parents[1] / "configs" / "mnist1d_sat.yaml"), *sets]) == 0
    out = capsys.readouterr().out
    assert "labels flagged" in out and "against the true labels" in out
    run = tmp_path / "r"
    assert (run / "label_issues.csv").exists() and (run / "label_issues_pr.png").exists()
    assert main(["find-issues", str(run), "--num-issues", "10", "--out", str(tmp_path / "top10")]) == 0
    # trained on the splits its data.source loads (handed to fit once loaded): evaluated without them given again
    assert main(["eval", str(run)]) == 0
    assert np.load(tmp_path / "top10" / "label_issues_mask.npy").sum() == 10
    assert load_run_targets(run).class_names == [str(i) for i in range(10)]


def test_cli_refuses_runs_without_targets(tmp_path, capsys):
    sets = [a for o in tiny_overrides(tmp_path, "method.name=erm", "run.name=erm") for a in ("--set", o)]
    assert main(["train", *sets]) == 0
    capsys.readouterr()
    run = tmp_path / "erm"
    assert main(["find-issues", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {run}: trained with method.name=erm, which keeps no "
                                               "soft targets (sat and selective_sat do)")
    # without config.yaml, the method is named by summary.json, else by the config the checkpoint keeps
    refused = f"{run}: trained with method.name=erm, which keeps no soft targets"
    (run / "config.yaml").unlink()
    with pytest.raises(DataError, match=re.escape(refused)):
        load_run_targets(run)
    (run / "summary.json").unlink()
    with pytest.raises(DataError, match=re.escape(refused)):
        load_run_targets(run)
    (run / "checkpoint.pt").unlink()  # no method to name: the general message
    with pytest.raises(DataError, match="no soft_targets.npy — the run is unfinished or was not trained with a method"):
        load_run_targets(run)
    # a folder of runs (compare takes one) is not taken for an unfinished run
    assert main(["find-issues", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {tmp_path}: not a satlearn run directory (no "
                                               "labels.npz, config.yaml or soft_targets.npy); expected one run's "
                                               "directory")


@pytest.mark.parametrize("text", ["method:\n  name: erm\nrun:\n  progress: !!bool maybe\n",
                                  "method:\n  name: sat\nmethod:\n  name: erm\n"])
def test_a_run_config_that_resume_and_compare_refuse_names_no_method_here_either(text, tmp_path):
    # read as every command reads it: a tag its text does not fit, a key given twice are refused, not a crash or
    # the last of the two
    run = tmp_path / "run"
    run.mkdir()
    (run / "labels.npz").write_bytes(b"")
    (run / "config.yaml").write_text(text)
    with pytest.raises(DataError, match=r"run: no soft_targets\.npy — the run is unfinished or was not trained with"):
        load_run_targets(run)


def test_find_issues_of_a_sat_run_without_soft_targets_says_whether_it_is_unfinished_or_lost_them(tmp_path, capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit

    config = load_config(None, tiny_overrides(tmp_path, "method.name=sat", "run.epochs=3"))
    run = fit(config, tmp_path / "sat", stop_after_epoch=2, log=lambda message: None).run_dir  # as if interrupted
    assert main(["find-issues", str(run)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {run}: no soft_targets.npy yet — an unfinished sat "
                                               "run, which writes them once it has trained all its epochs; wait for it "
                                               "to finish, or, if it was stopped, resume it (satlearn train --resume "
                                               f"{run})")
    fit(config, run, resume=True, log=lambda message: None)
    kept = np.load(run / "soft_targets.npy")
    (run / "soft_targets.npy").unlink()
    with pytest.raises(DataError, match=re.escape(f"{run}: no soft_targets.npy — the finished sat run wrote one, "
                                                  f"which is gone since; satlearn train --resume {run} writes it "
                                                  "again from the run's checkpoint")):
        load_run_targets(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0  # as the message says
    assert f"{run}: the run finished all its epochs, but soft_targets.npy is gone" in capsys.readouterr().out
    np.testing.assert_array_equal(load_run_targets(run).soft_targets, kept)


def test_find_issues_as_the_run_writes_its_last_outputs_does_not_call_its_targets_gone(tmp_path, monkeypatch,
                                                                                      capsys):
    # a run finishing between find-issues' look for its targets and its look at the run's settings writes the
    # targets, then summary.json: the targets were not there yet, and are not gone
    import satlearn.label_issues as label_issues
    from satlearn.config import load_config
    from satlearn.engine import fit

    config = load_config(None, tiny_overrides(tmp_path, "method.name=sat", "run.epochs=3"))
    run = fit(config, tmp_path / "sat", stop_after_epoch=2, log=lambda message: None).run_dir
    run_setting = label_issues._run_setting

    def finishing_meanwhile(run_dir, *keys):
        np.save(run / "soft_targets.npy", np.full((4, 2), 0.5))
        (run / "summary.json").write_text("{}")
        return run_setting(run_dir, *keys)

    monkeypatch.setattr(label_issues, "_run_setting", finishing_meanwhile)
    assert main(["find-issues", str(run)]) == 2
    assert capsys.readouterr().err.strip().startswith(f"satlearn: error: {run}: no soft_targets.npy yet — an "
                                                      "unfinished sat run")


def test_a_sat_run_with_only_its_config_is_an_unfinished_run_not_a_folder_of_runs(tmp_path):
    # a run in its first epoch has written its config.yaml and nothing find-issues reads
    run = tmp_path / "sat"
    run.mkdir()
    (run / "config.yaml").write_text("method:\n  name: sat\n")
    with pytest.raises(DataError, match=re.escape(f"{run}: no soft_targets.npy yet — an unfinished sat run")):
        load_run_targets(run)


def test_find_issues_of_a_folder_of_runs_names_the_runs_in_it_that_keep_soft_targets(tmp_path, capsys):
    # a demo's output given for its SAT run: named as eval names a folder's runs, by those find-issues can read
    out = tmp_path / "demo"
    for name in ("erm", "sat", "sat-2"):
        (out / name).mkdir(parents=True)
        (out / name / "checkpoint.pt").write_bytes(b"")
    for name in ("sat", "sat-2"):
        np.save(out / name / "soft_targets.npy", np.full((4, 2), 0.5))
    (out / "sat-2" / "checkpoint.pt").unlink()  # a finished run whose checkpoint was deleted to save space
    assert main(["find-issues", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: {out}: holds 3 runs rather than being one; expected "
                                               f"one run's directory, such as {out / 'sat'}, {out / 'sat-2'}")


def test_a_run_whose_config_yaml_is_gone_is_still_scored_against_its_true_labels(tmp_path, capsys):
    sets = [a for o in tiny_overrides(tmp_path, "method.name=sat", "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                      "run.epochs=2", "run.name=sat") for a in ("--set", o)]
    assert main(["train", *sets]) == 0
    run = tmp_path / "sat"
    with np.load(run / "labels.npz") as saved:
        given, clean = saved["labels"], saved["clean_labels"]
    capsys.readouterr()

    def scored_against_the_true_labels(out):
        assert load_run_targets(run).true_labels.tolist() == clean.tolist()
        assert main(["find-issues", str(run), "--out", str(out)]) == 0
        assert "against the true labels: precision " in capsys.readouterr().out
        truth = json.loads((out / "label_issues_summary.json").read_text())["against_true_labels"]
        assert truth is not None and truth["positives"] == int((given != clean).sum())

    (run / "config.yaml").unlink()
    (run / "checkpoint.pt").rename(tmp_path / "checkpoint.pt")  # the noise kind from summary.json alone
    scored_against_the_true_labels(tmp_path / "from_summary")
    (tmp_path / "checkpoint.pt").rename(run / "checkpoint.pt")
    (run / "summary.json").unlink()  # as for a run stopped before writing it: from the checkpoint's config
    scored_against_the_true_labels(tmp_path / "from_checkpoint")


@pytest.mark.parametrize("damaged", ["data: [symmetric\n", "data:\n  noise:\n    kind: none\ndata:\n  noise: {}\n",
                                     "- not a mapping\n", "run:\n  nope: 1\n", "data:\n  noise:\n    rate: high\n"])
def test_a_run_whose_config_yaml_cannot_be_read_is_still_scored_against_its_true_labels(damaged, finished_sat_run,
                                                                                        tmp_path, capsys):
    # a config.yaml that cannot be read is no better than none: the noise comes from summary.json, else the
    # checkpoint; one that holds a key or a value no config does is read as compare reads it, as damaged, not as a
    # config without noise
    run = shutil.copytree(finished_sat_run, tmp_path / "sat")
    with np.load(run / "labels.npz") as saved:
        clean = saved["clean_labels"]
    (run / "config.yaml").write_text(damaged)
    capsys.readouterr()
    assert main(["find-issues", str(run), "--out", str(tmp_path / "out")]) == 0
    assert "against the true labels: precision " in capsys.readouterr().out
    (run / "summary.json").unlink()
    assert load_run_targets(run).true_labels.tolist() == clean.tolist()


def test_a_label_flagged_by_count_that_keeps_its_label_is_in_no_confused_pair():
    labels = np.array([0, 1, 0])
    targets = np.array([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1]])  # only example 0 has moved off its label
    issues = find_label_issues(labels, targets, num_issues=2)
    assert issues.flagged.tolist() == [True, True, False]
    summary = issues.summary()
    assert summary["most_confused_pairs"] == [{"given": "0", "suggested": "1", "count": 1}]
    assert summary["flagged_keeping_given_label"] == 1 and summary["num_flagged"] == 2


def test_cli_refuses_counts_out_of_range_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *[a for o in tiny_overrides(tmp_path) for a in ("--set", o)]]) == 0
    capsys.readouterr()
    assert main(["find-issues", str(run), "--num-issues", "100000"]) == 2
    assert "--num-issues 100000: the run has only 320 training labels" in capsys.readouterr().err
    for option, value in (("--num-issues", "-5"), ("--fraction", "1.5"), ("--fraction", "nan"),
                          ("--threshold", "nan"), ("--threshold", "1.5"), ("--threshold", "x")):
        with pytest.raises(SystemExit) as stopped:
            main(["find-issues", str(run), option, value])
        assert stopped.value.code == 2
        assert f"argument {option}: expected" in capsys.readouterr().err


def test_fraction_rounds_to_the_nearest_count():
    rng = np.random.default_rng(1)
    labels, targets = rng.integers(0, 3, 7), rng.dirichlet(np.ones(3), 7)
    assert find_label_issues(labels, targets, fraction=0.4).num_flagged == 3  # 2.8 labels, not 2
    assert find_label_issues(labels, targets, fraction=0.3).num_flagged == 2  # 2.1


def test_margin_threshold_replaces_the_default_rule():
    labels = np.array([0, 0, 0, 0])
    # margins (best other − given), exact in binary so the strict > is tested at the boundary: 3/4, 1/4, -5/8, 1/8
    targets = np.array([[0.125, 0.875, 0], [0.25, 0.25, 0.5], [0.75, 0.125, 0.125], [0.375, 0.5, 0.125]])
    assert find_label_issues(labels, targets).margins.tolist() == [0.75, 0.25, -0.625, 0.125]
    assert find_label_issues(labels, targets).flagged.tolist() == [True, True, False, True]
    assert find_label_issues(labels, targets, margin_threshold=0.2).flagged.tolist() == [True, True, False, False]
    # below 0 even labels that still hold the most mass are flagged when their lead is small enough
    assert find_label_issues(labels, targets, margin_threshold=-0.75).flagged.all()
    assert not find_label_issues(labels, targets, margin_threshold=0.75).flagged.any()


@pytest.mark.parametrize("kind", ["none", "symmetric"])
def test_run_targets_have_true_labels_only_when_the_run_added_noise(tmp_path, kind):
    labels, clean = np.array([0, 1, 1]), np.array([0, 1, 0])
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[labels])
    np.savez(tmp_path / "labels.npz", labels=labels, clean_labels=clean)
    (tmp_path / "config.yaml").write_text(f"data:\n  noise:\n    kind: {kind}\n")
    run = load_run_targets(tmp_path)
    if kind == "none":
        assert run.true_labels is None
    else:
        assert run.true_labels.tolist() == clean.tolist()


def test_a_margin_threshold_outside_minus_one_to_one_is_refused():
    labels, targets = np.array([0, 1]), np.array([[0.2, 0.8], [0.3, 0.7]])
    for threshold in (float("nan"), 1.5, -2.0):
        with pytest.raises(ValueError, match=r"margin_threshold=.*expected a margin in \[-1, 1\]"):
            find_label_issues(labels, targets, margin_threshold=threshold)
    assert find_label_issues(labels, targets, margin_threshold=-1.0).flagged.tolist() == [True, True]


def test_a_damaged_labels_or_targets_file_in_a_run_is_one_line_naming_it(tmp_path, capsys):
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[[0, 1]])
    np.savez(tmp_path / "labels.npz", labels=np.array([0, 1]), clean_labels=np.array([0, 1]))
    (tmp_path / "labels.npz").write_bytes((tmp_path / "labels.npz").read_bytes()[:300])  # cut short
    with pytest.raises(DataError, match=r"labels\.npz: cannot read it \(BadZipFile"):
        load_run_targets(tmp_path)
    assert main(["find-issues", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    (tmp_path / "labels.npz").write_text("not numpy's\n")  # np.load took it for a pickle, and spoke of allow_pickle
    with pytest.raises(DataError, match=r"labels\.npz: not a \.npz file as numpy writes it; the run's file was "
                                        r"damaged or replaced$"):
        load_run_targets(tmp_path)
    np.savez(tmp_path / "labels.npz", labels=np.array([0, 1]), clean_labels=np.array([0, 1]))
    (tmp_path / "soft_targets.npy").write_text("{\n")
    with pytest.raises(DataError, match=r"soft_targets\.npy: not a \.npy file as numpy writes it"):
        load_run_targets(tmp_path)
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[[0, 1]])
    (tmp_path / "soft_targets.npy").write_bytes((tmp_path / "soft_targets.npy").read_bytes()[:140])  # cut short
    with pytest.raises(DataError, match=r"soft_targets\.npy: cannot read it \(ValueError: .*could only read"):
        load_run_targets(tmp_path)
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[[0, 1]])
    (tmp_path / "config.yaml").write_bytes(b"\xff\xfe not UTF-8")  # the truth is then unknown, not a crash
    assert load_run_targets(tmp_path).true_labels is None


def test_cli_with_a_config_refuses_before_training_and_names_where_the_method_came_from(tmp_path, capsys):
    config = str(Path(__file__).parents[1] / "configs" / "mnist1d_sat.yaml")
    sets = [a for o in tiny_overrides(tmp_path, "run.name=r") for a in ("--set", o)]
    assert main(["find-issues", "--config", config, *sets, "--num-issues", "100000"]) == 2
    err = capsys.readouterr().err
    assert "--num-issues 100000: the data have only 320 training labels" in err
    every = re.search(r"the data have only (\d+) training labels", err).group(1)
    assert not (tmp_path / "r").exists()  # nothing was trained
    assert main(["find-issues", "--config", config, *sets, "--set", "method.name=erm"]) == 2
    assert ("error: --set method.name=erm: find-issues needs a method that keeps soft targets (method.name=sat or "
            "selective_sat), got 'erm'") in capsys.readouterr().err
    # a selective SAT run keeps them too: trained, then read as a SAT run's are
    # as many as the data have is a count within range: every label is flagged
    assert main(["find-issues", "--config", config, *sets, "--set", "method.name=selective_sat",
                 "--num-issues", every]) == 0
    assert f"{every} of {every} labels flagged" in capsys.readouterr().out
    assert (tmp_path / "r" / "label_issues.csv").exists()
    # a validation split's labels get no targets: counted out before the training
    assert main(["find-issues", "--config", config, *sets, "--set", "run.name=s", "--set", "data.val_size=100",
                 "--num-issues", every]) == 2
    assert (f"--num-issues {every}: the data have only 220 training labels outside the validation split "
            "(data.val_size=100)") in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    # a split that leaves none to train on is train's refusal, not a count of -80 training labels
    assert main(["find-issues", "--config", config, *sets, "--set", "run.name=s", "--set", "data.val_size=400",
                 "--num-issues", "5"]) == 2
    err = capsys.readouterr().err
    assert "data.val_size=400; expected 0 to 319 (the training split has 320 examples" in err
    assert "training labels outside" not in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_options_of_the_wrong_kind_are_refused_in_one_line():
    labels, targets = np.array([0, 1, 0, 1]), np.full((4, 2), 0.5)
    for value in (float("nan"), float("inf"), 2.5):
        with pytest.raises(ValueError, match=r"num_issues=.* must be a whole number of examples"):
            find_label_issues(labels, targets, num_issues=value)
    for name in ("num_issues", "fraction", "margin_threshold"):
        for value in (True, "0.5"):
            with pytest.raises(ConfigTypeError, match=rf"{name}=.*; expected a number") as refused:
                find_label_issues(labels, targets, **{name: value})
            assert isinstance(refused.value, TypeError)  # as before, for code that catches Python's own error
    assert find_label_issues(labels, targets, num_issues=2.0).flagged.sum() == 2
    assert find_label_issues(labels, targets, num_issues=np.int64(1)).flagged.sum() == 1
    assert find_label_issues(labels, targets, num_issues=np.array(3)).flagged.sum() == 3  # a 0-d array is a number


def test_the_callers_arrays_are_left_as_they_were_and_mismatched_extras_are_refused(tmp_path):
    import torch

    probs = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])  # float64: np.asarray would share it
    before = probs.copy()
    issues = find_label_issues(np.array([0, 0, 1]), probs)
    assert np.array_equal(probs, before) and np.array_equal(issues.probs, before)
    assert issues.suggested_labels.tolist() == [1, 0, 0] and issues.flagged.tolist() == [True, False, True]
    assert np.allclose(issues.margins, [0.6, -0.8, 0.2])
    assert find_label_issues(np.array([0, 0, 1]), probs, num_issues=torch.tensor(1)).num_flagged == 1
    read_only = probs.copy()
    read_only.flags.writeable = False
    shared = memoryview(read_only)  # an array-like that hands over its own read-only buffer
    assert find_label_issues(np.array([0, 0, 1]), shared).flagged.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="3 class_names for the 2 classes of the soft targets"):
        issues.to_csv(class_names=["a", "b", "c"])
    # it returns the text: a path given as to pandas' to_csv is refused at once, not taken for class names
    with pytest.raises(TypeError, match="positional argument"):
        issues.to_csv(str(tmp_path / "issues.csv"))
    with pytest.raises(ValueError, match=r"true_labels of shape \(3, 1\); expected \(3,\), one per example"):
        write_label_issues(issues, tmp_path / "out", true_labels=np.zeros((3, 1), dtype=int))
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_targets_that_are_not_probabilities_are_refused_naming_the_first_bad_row():
    labels = np.array([0, 1, 2])
    good = np.full((3, 3), 1 / 3)
    with pytest.raises(DataError, match=r"^soft targets row 2 sums to 0\.9 \(1 of 3 rows are not probability "
                                        r"vectors\); expected finite rows ≥ 0 summing to 1"):
        find_label_issues(labels, np.vstack([good[:2], good[2] * 0.9]))
    with pytest.raises(DataError, match=r"^soft targets row 0 holds a negative value -2\.5 \(3 of 3 rows"):
        find_label_issues(labels, np.array([[-2.5, 1.0, 3.0], [4.0, -1.0, 0.1], [0.0, 2.0, -0.5]]))  # logits
    with pytest.raises(DataError, match=r"^soft targets row 1 holds a non-finite value"):
        find_label_issues(labels, np.vstack([good[0], [np.nan, 0.5, 0.5], good[2]]))


def fake_run(run_dir, labels, true_labels, targets=None):
    """A finished SAT run with its noise known; by default its targets all stay on the given labels (nothing is
    flagged)."""
    run_dir.mkdir()
    np.save(run_dir / "soft_targets.npy", np.eye(3)[labels] if targets is None else targets)
    np.savez(run_dir / "labels.npz", labels=labels, clean_labels=true_labels)
    (run_dir / "config.yaml").write_text("data:\n  noise:\n    kind: symmetric\n")
    return run_dir


def record_flagged_points(monkeypatch):
    """The (recall, precision) points that plots draw from now on, as plot_precision_recall marks its flagged set."""
    from matplotlib.axes import Axes

    points, draw = [], Axes.scatter

    def scatter(self, x, y, **options):
        points.extend(zip(x, y))
        return draw(self, x, y, **options)

    monkeypatch.setattr(Axes, "scatter", scatter)
    return points


def test_nothing_flagged_has_no_precision_in_the_summary_json_the_plot_or_the_printout(tmp_path, capsys, monkeypatch):
    labels, true_labels = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2, 1, 1, 0])
    run = fake_run(tmp_path / "run", labels, true_labels)
    points = record_flagged_points(monkeypatch)
    assert main(["find-issues", str(run)]) == 0
    saved = json.loads((run / "label_issues_summary.json").read_text())["against_true_labels"]
    assert saved["flagged"] == 0 and saved["positives"] == 2
    assert saved["precision"] is None and saved["f1"] is None and saved["recall"] == 0.0
    assert points == [] and (run / "label_issues_pr.png").exists()  # no flagged point at (0, 0)
    printed = capsys.readouterr().out
    assert "against the true labels: precision n/a, recall 0.000, F1 n/a, average precision " in printed


def test_no_wrong_labels_leave_recall_and_the_ranking_measures_undefined(tmp_path, capsys, monkeypatch):
    labels = np.array([0, 1, 2, 0])
    targets = np.array([[0.2, 0.8, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])  # example 0 is flagged, wrongly
    issues = find_label_issues(labels, targets)
    summary = write_label_issues(issues, tmp_path / "out", true_labels=labels)
    saved = json.loads((tmp_path / "out" / "label_issues_summary.json").read_text())["against_true_labels"]
    assert saved == {**summary["against_true_labels"], "precision": 0.0, "recall": None, "f1": None, "auroc": None,
                     "average_precision": None}
    assert not (tmp_path / "out" / "label_issues_pr.png").exists()  # no curve to draw
    points = record_flagged_points(monkeypatch)
    plot_precision_recall(issues, np.zeros(4, bool), tmp_path / "pr.png")  # drawn anyway: no point, no crash
    assert points == [] and (tmp_path / "pr.png").exists()
    run = fake_run(tmp_path / "run", labels, labels, targets)
    assert main(["find-issues", str(run)]) == 0
    assert ("against the true labels: precision 0.000, recall n/a, F1 n/a, average precision n/a, AUROC n/a"
            in capsys.readouterr().out)


def test_ranked_indices_put_the_most_likely_wrong_first_not_the_lowest_index():
    labels = np.array([0, 0, 0])
    # scores (mass off the given label) 0.7, 0.9, 0.4; only the first two moved to class 1
    issues = find_label_issues(labels, np.array([[0.3, 0.7], [0.1, 0.9], [0.6, 0.4]]))
    assert issues.ranked_indices.tolist() == [1, 0]


def test_the_csv_names_the_given_and_suggested_classes_and_the_origin_in_their_own_columns():
    labels = np.array([0, 1])
    issues = find_label_issues(labels, np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0]]))
    table = list(csv.DictReader(io.StringIO(issues.to_csv(class_names=["cat", "dog", "fox"],
                                                          origin=("source_row", np.array([7, 3]))))))
    assert [(r["given_class"], r["suggested_class"], r["source_row"]) for r in table] == [("cat", "fox", "7"),
                                                                                        ("dog", "dog", "3")]
    assert [float(r["score"]) for r in table] == [0.8, 0.0]  # the mass off the given label, not the margin 0.6


def test_summary_keeps_only_the_top_pairs_asked_for():
    labels = np.array([0, 0, 1, 2])
    # 0 → 1 twice, 1 → 2 once, and the last label kept
    issues = find_label_issues(labels, np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.0, 0.3, 0.7], [0.0, 0.0, 1.0]]))
    summary = issues.summary(top_pairs=1)
    assert summary["most_confused_pairs"] == [{"given": "0", "suggested": "1", "count": 2}]
    assert summary["num_examples"] == 4 and summary["num_flagged"] == 3 and summary["fraction_flagged"] == 3 / 4


@pytest.mark.parametrize("labels,targets,error,message", [
    (np.array([0, -1]), np.eye(2), DataError, r"label -1 at index 1 is outside \[0, 2\)"),
    (np.array([0.0, 0.9]), np.eye(2), DataError, "labels must be integers, got float64"),  # 0.9 is not class 0
    (np.array([0, 1]), np.array([1.0, 0.0]), DataError, r"soft targets must be an \(N, C\) array, got shape \(2,\)"),
    # sums to 1 but is no probability vector
    (np.array([0, 1]), np.array([[1.0, 0.0], [-0.25, 1.25]]), DataError, r"row 1 holds a negative value -0\.25"),
    # a shortfall of 5 % or a negative entry of -0.005 is no rounding error of a saved table
    (np.array([0, 1]), np.array([[1.0, 0.0], [-0.005, 1.005]]), DataError, r"row 1 holds a negative value -0\.005"),
    (np.array([0, 1]), np.array([[1.0, 0.0], [0.5, 0.45]]), DataError, r"row 1 sums to 0\.95 "),
])
def test_labels_and_targets_that_cannot_be_read_as_classes_and_probabilities_are_refused(labels, targets, error,
                                                                                          message):
    with pytest.raises(error, match=message):
        find_label_issues(labels, targets)


@pytest.mark.parametrize("option,message", [
    ({"fraction": -0.1}, r"fraction=-0\.1 must lie in \[0, 1\]"),
    ({"num_issues": -1}, r"num_issues=-1 must lie in \[0, 4\]"),  # would flag nothing
])
def test_a_negative_count_or_fraction_is_refused(option, message):
    with pytest.raises(ValueError, match=message):
        find_label_issues(np.array([0, 1, 0, 1]), np.full((4, 2), 0.5), **option)


def test_a_run_whose_targets_and_labels_disagree_in_length_is_refused_naming_it(tmp_path):
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[[0, 1, 1]])
    np.savez(tmp_path / "labels.npz", labels=np.array([0, 1]), clean_labels=np.array([0, 1]))
    with pytest.raises(DataError, match=rf"^{tmp_path}: soft_targets\.npy has 3 rows but labels\.npz 2 labels"):
        load_run_targets(tmp_path)


def test_an_origin_of_another_length_is_refused_before_anything_is_written(tmp_path):
    issues = find_label_issues(np.array([0, 1]), np.eye(2))
    with pytest.raises(ValueError, match="origin holds 3 entries for 2 examples"):
        write_label_issues(issues, tmp_path / "out", origin=("source_row", np.array([4, 5, 6])))
    assert not (tmp_path / "out").exists()


def test_a_run_whose_origin_column_disagrees_with_its_labels_in_length_is_refused_naming_it(tmp_path):
    np.save(tmp_path / "soft_targets.npy", np.eye(2)[[0, 1]])
    np.savez(tmp_path / "labels.npz", labels=np.array([0, 1]), clean_labels=np.array([0, 1]),
             source_rows=np.array([4, 0, 2]))
    with pytest.raises(DataError, match=rf"^{tmp_path}: labels\.npz has 3 source_row entries for 2 labels"):
        load_run_targets(tmp_path)


@pytest.mark.parametrize("options,message", [
    ({"num_issues": -1}, r"num_issues=-1 must lie in \[0, 3\]"),
    ({"num_issues": 10**9}, r"num_issues=1000000000 must lie in \[0, 3\]"),
    ({"num_issues": 1.5}, r"num_issues=1\.5 must be a whole number of examples"),
    ({"fraction": 1.5}, r"fraction=1\.5 must lie in \[0, 1\]"),
    ({"margin_threshold": 2}, r"margin_threshold=2: expected a margin in \[-1, 1\]"),
    ({"num_issues": 1, "fraction": 0.5}, r"give at most one of num_issues, fraction, margin_threshold"),
])
def test_options_out_of_range_are_satlearn_errors_a_caller_can_catch_as_such(options, message):
    # (still ValueErrors, as before)
    with pytest.raises(SatlearnError, match=rf"^{message}") as caught:
        find_label_issues(np.array([0, 0, 1]), np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]]), **options)
    assert isinstance(caught.value, ValueError)


def test_outputs_for_other_examples_or_classes_are_data_errors(tmp_path):
    issues = find_label_issues(np.array([0, 0, 1]), np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]]))
    with pytest.raises(DataError, match="^3 class_names for the 2 classes of the soft targets$"):
        issues.to_csv(class_names=["a", "b", "c"])
    with pytest.raises(DataError, match=r"^true_labels of shape \(2,\); expected \(3,\), one per example$"):
        write_label_issues(issues, tmp_path / "out", true_labels=np.zeros(2, dtype=int))
    with pytest.raises(DataError, match="^origin holds 2 entries for 3 examples$"):
        write_label_issues(issues, tmp_path / "out", origin=("source_row", np.arange(2)))


def test_a_run_and_an_output_folder_named_from_the_home_directory(tmp_path, monkeypatch, capsys):
    from satlearn.config import load_config
    from satlearn.engine import fit

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    fit(load_config(None, tiny_overrides(tmp_path, "run.epochs=2")), tmp_path / "run", log=lambda m: None)
    assert len(load_run_targets("~/run").labels) > 0
    assert main(["find-issues", "~/run", "--out", "~/issues"]) == 0
    assert f"list in {tmp_path / 'issues' / 'label_issues.csv'}" in capsys.readouterr().out
    assert (tmp_path / "issues" / "label_issues.csv").exists() and not (tmp_path / "~").exists()


@pytest.mark.parametrize("second_truth", ["unknown", "no wrong label", "every label wrong"])
def test_a_folder_written_again_keeps_no_precision_recall_plot_of_labels_scored_before(tmp_path, second_truth):
    # one --out for two runs: the second, with no curve to draw, must not leave the first's plot beside its summary
    labels = np.array([0, 1, 1, 2])
    targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4]])
    issues = find_label_issues(labels, targets)
    write_label_issues(issues, tmp_path, true_labels=np.array([0, 0, 1, 2]))
    assert (tmp_path / "label_issues_pr.png").exists()
    truth = {"unknown": None, "no wrong label": labels, "every label wrong": (labels + 1) % 3}[second_truth]
    write_label_issues(issues, tmp_path, true_labels=truth)
    assert not (tmp_path / "label_issues_pr.png").exists()


@pytest.mark.parametrize("stopped_by", [KeyboardInterrupt, lambda: OSError(28, "No space left on device")])
def test_find_issues_stopped_while_its_plot_is_made_leaves_the_earlier_files_all_as_they_were(tmp_path, monkeypatch,
                                                                                           stopped_by):
    # a second call (another --num-issues) stopped by Ctrl-C, or by a full disk, as it draws: its CSV and arrays must
    # not stand beside the first call's summary and plot, each file whole but of another set of flags
    import satlearn.label_issues as label_issues

    labels = np.array([0, 1, 1, 2, 2, 0])
    targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4], [0, 0.2, 0.8], [0.1, 0, 0.9]])
    truth = np.array([0, 0, 1, 2, 2, 2])
    write_label_issues(find_label_issues(labels, targets), tmp_path, true_labels=truth)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert "label_issues_pr.png" in before

    error = stopped_by()

    def stopped(*args, **kwargs):
        raise error

    monkeypatch.setattr(label_issues, "plot_precision_recall", stopped)
    with pytest.raises(type(error)) as raised:
        write_label_issues(find_label_issues(labels, targets, num_issues=1), tmp_path, true_labels=truth)
    assert raised.value is error  # the stop itself came through, not another failure on the way
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # and no temporary file left


def test_the_precision_recall_plot_has_no_legend_entry_for_a_flagged_set_with_no_point(tmp_path, monkeypatch):
    # a marker in the legend beside "flagged: 0" stood for a point the plot does not have
    labels, truth = np.array([0, 1, 2, 0]), np.array([0, 1, 2, 1])
    nothing = find_label_issues(labels, np.eye(3)[labels])  # targets agree with every given label
    drawn = drawn_figures(monkeypatch)
    plot_precision_recall(nothing, labels != truth, tmp_path / "none.png")
    some = find_label_issues(labels, np.eye(3)[truth])
    plot_precision_recall(some, labels != truth, tmp_path / "some.png")
    plot_precision_recall(some, np.zeros(4, bool), tmp_path / "none_wrong.png")
    legends = [legend_below(fig.axes[0]) for fig in drawn]
    texts = [[text.get_text() for text in legend.get_texts()] for legend in legends]
    assert [len(entries) for entries in texts] == [1, 2, 1] and texts[0][0].startswith("ranking by score")
    assert texts[1][1] == "flagged: 1 (F1 1.000)"
    assert [legend.get_title().get_text() for legend in legends] == ["nothing flagged", "",
                                                                     "flagged: 1, of no wrong labels"]


def test_the_precision_recall_plots_legend_lies_below_the_axes_where_it_covers_no_curve(tmp_path, monkeypatch):
    from PIL import Image

    # a poor ranking: one label in ten wrong, scores that do not find them; its precision stays near 0.1, along the
    # bottom of the axes, where a legend in their lower left corner lay over it
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 200)
    labels = truth.copy()
    labels[:20] = (truth[:20] + 1) % 3
    issues = find_label_issues(labels, rng.dirichlet(np.ones(3), 200), num_issues=20)
    drawn = drawn_figures(monkeypatch)
    plot_precision_recall(issues, labels != truth, tmp_path / "pr.png")
    (fig,) = drawn
    assert fig.axes[0].get_legend() is None and legends_cover_no_axes(fig)
    assert len(legend_below(fig.axes[0]).get_texts()) == 2  # the ranking and the flagged set
    assert Image.open(tmp_path / "pr.png").height > fig.get_figheight() * 110  # the image takes it in


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: output folders there are not locked")
def test_two_find_issues_writing_one_folder_at_once_leave_the_files_of_one(tmp_path, monkeypatch):
    # the first pauses among its renames while the second writes: the files used to end as the second's CSV beside
    # the first's summary, each whole but of another set of flags
    import fcntl
    import os
    import threading

    labels = np.array([0, 1, 1, 2, 2, 0])
    targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4], [0, 0.2, 0.8], [0.1, 0, 0.9]])
    truth = np.array([0, 0, 1, 2, 2, 2])
    calls = {"first": find_label_issues(labels, targets, num_issues=1),
             "second": find_label_issues(labels, targets, num_issues=3)}
    alone = {}
    for name, issues in calls.items():  # what each writes by itself
        write_label_issues(issues, tmp_path / name, true_labels=truth)
        alone[name] = {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()}
    assert alone["first"]["label_issues.csv"] != alone["second"]["label_issues.csv"]
    out = tmp_path / "out"
    out.mkdir()
    paused, go_on, second_waits_or_is_done = threading.Event(), threading.Event(), threading.Event()
    real_replace, real_flock = os.replace, fcntl.flock

    def replace(source, target):
        real_replace(source, target)
        if threading.current_thread().name == "first" and not paused.is_set():
            paused.set()
            go_on.wait(timeout=60)

    def flock(fd, operation):
        if threading.current_thread().name == "second":
            second_waits_or_is_done.set()
        return real_flock(fd, operation)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(fcntl, "flock", flock)

    def write(name):
        try:
            write_label_issues(calls[name], out, true_labels=truth)
        finally:
            second_waits_or_is_done.set()

    first = threading.Thread(target=write, args=("first",), name="first")
    first.start()
    assert paused.wait(timeout=60)
    second = threading.Thread(target=write, args=("second",), name="second")
    second.start()
    assert second_waits_or_is_done.wait(timeout=60)
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == alone["second"]  # and no temporary or lock file left


def test_find_issues_killed_among_its_renames_leaves_no_summary_and_the_next_call_tidies_up(tmp_path):
    # kill -9 between two renames: the new CSV stands beside the earlier call's arrays; without the earlier summary
    # (which marks the set whole, renamed last) the folder does not read as one call's result
    script = f"""
import os
import numpy as np
from satlearn.label_issues import find_label_issues, write_label_issues

labels = np.array([0, 1, 1, 2, 2, 0])
targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4], [0, 0.2, 0.8], [0.1, 0, 0.9]])
write_label_issues(find_label_issues(labels, targets), {str(tmp_path)!r})
real_replace = os.replace

def replace(source, target):
    real_replace(source, target)
    os._exit(9)  # as a process killed there: no cleaning up

os.replace = replace
write_label_issues(find_label_issues(labels, targets, num_issues=1), {str(tmp_path)!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert "label_issues_summary.json" not in names and "label_issues.csv" in names
    left = {name for name in names if name.endswith(".tmp")}
    assert {name.split(".")[1] for name in left} == {"label_issues_mask", "label_issues_ranked", "pred_probs",
                                                     "label_issues_summary"}
    labels = np.array([0, 1, 1, 2, 2, 0])
    targets = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0, 0.6, 0.4], [0, 0.2, 0.8], [0.1, 0, 0.9]])
    write_label_issues(find_label_issues(labels, targets), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["label_issues.csv", "label_issues_mask.npy",
                                                          "label_issues_ranked.npy", "label_issues_summary.json",
                                                          "pred_probs.npy"]


def test_find_issues_on_a_run_with_a_validation_split_names_each_example_by_its_training_split_position(tmp_path,
                                                                                                        capsys):
    import csv

    sets = [a for o in tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4", "run.name=r",
                                      "data.val_size=100", "run.epochs=4") for a in ("--set", o)]
    assert main(["find-issues", "--config", str(Path(__file__).parents[1] / "configs" / "mnist1d_sat.yaml"), *sets,
                 "--num-issues", "20"]) == 0
    run = tmp_path / "r"
    with np.load(run / "labels.npz") as saved:
        labels, clean, train_index = saved["labels"], saved["clean_labels"], saved["train_index"]
    targets = load_run_targets(run)
    assert targets.positions.tolist() == train_index.tolist()
    assert targets.labels.tolist() == labels[train_index].tolist()
    assert targets.true_labels.tolist() == clean[train_index].tolist()
    rows = list(csv.DictReader((run / "label_issues.csv").open()))
    assert [int(r["index"]) for r in rows] == train_index.tolist()
    assert all(int(r["given_label"]) == labels[int(r["index"])] for r in rows)
    ranked = np.load(run / "label_issues_ranked.npy")
    flagged = {int(r["index"]) for r in rows if r["flagged"] == "1"}
    assert len(ranked) == 20 and set(ranked.tolist()) == flagged
    summary = json.loads((run / "label_issues_summary.json").read_text())
    assert summary["num_examples"] == len(train_index) == 220
    # the examples printed are those positions too
    printed = [int(line.split()[1].rstrip(":")) for line in capsys.readouterr().out.splitlines()
               if line.startswith("  index ")]
    assert printed == ranked[:5].tolist()


def test_run_targets_refuse_a_train_index_that_is_not_positions_among_the_labels(tmp_path):
    np.save(tmp_path / "soft_targets.npy", np.full((2, 2), 0.5, dtype=np.float32))
    np.savez(tmp_path / "labels.npz", labels=np.array([0, 1, 1]), clean_labels=np.array([0, 1, 1]),
             class_names=np.array(["a", "b"]), train_index=np.array([0, 3]), val_index=np.array([1]))
    with pytest.raises(DataError, match=r"labels.npz: its train_index is not positions among its 3 labels$"):
        load_run_targets(tmp_path)
