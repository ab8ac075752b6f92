"""satlearn.engine.reporting: what a run's summary says about its labels."""

import json

import numpy as np

from fixtures import tiny_overrides
from satlearn.config import load_config
from satlearn.engine import fit
from satlearn.engine.reporting import flag_statistics, plot_curves, to_json
from satlearn.evaluation.detection import precision_recall_f1
from satlearn.label_issues import find_label_issues, load_run_targets


def train(tmp_path, name, *noise):
    config = load_config(None, tiny_overrides(tmp_path, "method.name=sat", "run.epochs=2", *noise))
    return fit(config, tmp_path / name, log=lambda message: None)


def test_a_run_without_noise_of_its_own_scores_no_flags_against_labels_it_does_not_know(tmp_path):
    # the source's labels are all such a run has: how many are wrong is unknown, not 0 (find-issues agrees)
    clean = train(tmp_path, "clean", "data.noise.kind=none")
    assert clean.summary["noise"]["actual_rate"] is None
    issues = clean.summary["label_issues"]
    targets = load_run_targets(clean.run_dir)
    assert issues["flagged"] == find_label_issues(targets.labels, targets.soft_targets).num_flagged  # still counted
    assert issues["truly_wrong"] is None and issues["precision"] is None and issues["recall"] is None
    assert load_run_targets(clean.run_dir).true_labels is None
    # noise the run added itself, even at rate 0, leaves it the labels from before: its scores are real
    noised = train(tmp_path, "rate0", "data.noise.kind=symmetric", "data.noise.rate=0")
    assert noised.summary["noise"]["actual_rate"] == 0.0
    assert noised.summary["label_issues"]["truly_wrong"] == 0
    assert load_run_targets(noised.run_dir).true_labels is not None



def test_the_summary_names_the_label_file_of_file_noise_and_no_rate_or_mode_that_it_ignores(tmp_path):
    # a recipe's `rate: 0.4, mode: paper` stay in the config when `--set data.noise.kind=file` trains on CIFAR-10N's
    # labels; the summary must say which labels were trained on, not a 40 % rate that played no part
    labels = tmp_path / "human.npz"
    np.savez(labels, worst=np.random.default_rng(0).integers(0, 10, 320))
    run = train(tmp_path, "file", "data.noise.kind=file", f"data.noise.file={labels}", "data.noise.key=worst")
    noise = run.summary["noise"]
    assert noise["kind"] == "file" and noise["file"] == str(labels) and noise["key"] == "worst"
    assert noise["rate"] is None and noise["mode"] is None
    assert 0.8 < noise["actual_rate"] < 1.0
    pair = train(tmp_path, "pair", "data.noise.kind=pair", "data.noise.rate=0.2")
    assert pair.summary["noise"]["rate"] == 0.2 and pair.summary["noise"]["mode"] is None
    assert pair.summary["noise"]["file"] is None and pair.summary["noise"]["key"] is None


def test_the_summary_scores_flags_as_find_issues_does_with_null_where_undefined():
    truly_wrong = np.array([1, 0, 1, 0, 0], bool)
    masks = {"some flagged": np.array([1, 1, 0, 0, 0], bool), "none flagged": np.zeros(5, bool)}
    for name, flagged in masks.items():
        scores = precision_recall_f1(flagged, truly_wrong)
        assert flag_statistics(flagged, truly_wrong) == {
            "flagged": scores["flagged"], "truly_wrong": scores["positives"], "precision": scores["precision"],
            "recall": scores["recall"]}, name
    nothing = json.loads(to_json(flag_statistics(np.zeros(5, bool), truly_wrong)))
    assert nothing == {"flagged": 0, "truly_wrong": 2, "precision": None, "recall": 0.0}
    none_wrong = json.loads(to_json(flag_statistics(np.array([1, 0, 0, 0, 0], bool), np.zeros(5, bool))))
    assert none_wrong == {"flagged": 1, "truly_wrong": 0, "precision": 0.0, "recall": None}


def test_the_curves_are_ticked_at_whole_epochs(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    # 20 epochs: matplotlib's own ticks would be 2.5, 7.5, ...
    history = [{"epoch": e, "train_accuracy": e / 20, "test_accuracy": e / 20, "train_loss": 1 / e, "test_loss": 1 / e}
               for e in range(1, 21)]
    drawn = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (drawn.append(fig), close(fig)))
    plot_curves(history, tmp_path / "curves.png")
    ticks = [tick for ax in drawn[0].axes for tick in ax.get_xticks()]
    assert len(drawn[0].axes) == 2 and ticks and all(float(tick).is_integer() for tick in ticks), ticks
