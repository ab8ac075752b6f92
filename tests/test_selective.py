"""`satlearn selective-eval` and the predictor API on tiny MNIST-1D runs trained here."""

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures import (
    drawn_figures, legend_below, legend_texts, legends_cover_no_axes, load_benchmark, threads_of_each_forward_pass,
    tiny_overrides,
)
from satlearn.cli import main
from satlearn.config import load_config
from satlearn.engine import fit, load_run
from satlearn.errors import ConfigError, DataError, SatlearnError
from satlearn.evaluation.selective import PAPER_COVERAGES, bisection_threshold
from satlearn.selective import (
    TOLERANCE, SelectivePredictor, evaluate_run, paper_split, protocol_threshold, run_scores, selective_eval,
    selective_protocol,
)

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per method (MNIST-1D, 600 examples → a 120-example test split)."""
    root = tmp_path_factory.mktemp("selective-runs")
    out = {}
    for method in ("selective_sat", "gamblers", "erm"):
        config = load_config(None, tiny_overrides(root, f"method.name={method}", "data.num_samples=600",
                                                  "run.epochs=4", "run.checkpoint_every=4"))
        out[method] = fit(config, root / method, log=lambda m: None).run_dir
    return out


def test_cli_writes_reports_and_a_plot(runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["selective-eval", str(runs["selective_sat"]), str(runs["gamblers"]), str(runs["erm"]),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "AURC" in printed and "first half" in printed  # 120 test examples: the split is halved, and says so
    assert "an unfinished run" not in printed  # each ran all its epochs
    assert (out / "risk_coverage.png").stat().st_size > 1000
    for name, score in (("selective_sat", "abstain"), ("gamblers", "abstain"), ("erm", "max_softmax")):
        report = json.loads((out / name / f"selective_{score}.json").read_text())
        assert report["method"] == name and report["score"] == score
        # the printed line gives the test error at 95, 90 and 80 % coverage, as the report has them
        line = next(line for line in printed.splitlines() if line.startswith(f"{report['run_dir']} ["))
        errors = {round(100 * row["target"]): row["test"]["error"] for row in report["coverages"]}
        for coverage in (95, 90, 80):
            assert f"{100 * errors[coverage]:.2f} % at {coverage} % coverage" in line, line
        assert report["split"] == {"seed": 10, "num_examples": 120, "validation": 60, "test": 60,
                                   "note": report["split"]["note"]}
        assert [round(100 * row["target"]) for row in report["coverages"]] == list(PAPER_COVERAGES)
        full = report["coverages"][0]
        assert full["test"]["coverage"] == 1.0
        assert full["test"]["error"] == pytest.approx(report["metrics"]["test"]["error"])
        for part in ("all", "validation", "test"):
            m = report["metrics"][part]
            assert m["e_aurc"] >= -1e-12 and m["aurc"] >= m["optimal_aurc"] - 1e-12 and m["augrc"] >= 0
        with open(out / name / f"selective_{score}.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == len(PAPER_COVERAGES) and rows[0]["target_coverage"] == "100"
        for row, reported in zip(rows, report["coverages"]):  # each column from its own part of the report
            for column, part, key in (("val_coverage", "validation", "coverage"), ("val_error", "validation", "error"),
                                      ("test_coverage", "test", "coverage"), ("test_error", "test", "error"),
                                      ("deployed_test_coverage", "deployed", "coverage"),
                                      ("deployed_test_error", "deployed", "error")):
                value = reported[part][key]
                assert row[column] == ("" if value is None or np.isnan(value) else f"{100 * value:.3f}"), column
        curve = (out / name / f"selective_{score}_curve.csv").read_text().splitlines()
        assert curve[0] == "coverage,risk,generalized_risk,threshold" and len(curve) == 61


def test_cli_writes_into_the_run_directory_and_takes_max_softmax_on_a_sat_model(runs, capsys):
    assert main(["selective-eval", str(runs["selective_sat"])]) == 0
    run = runs["selective_sat"]
    by_abstain = (run / "risk_coverage.png").read_bytes()
    assert main(["selective-eval", str(runs["selective_sat"]), "--score", "max_softmax"]) == 0
    capsys.readouterr()
    assert json.loads((run / "selective_max_softmax.json").read_text())["score"] == "max_softmax"
    # the same run ranked another way: a plot of its own beside the first, which is kept
    assert (run / "risk_coverage_max_softmax.png").exists() and (run / "risk_coverage.png").read_bytes() == by_abstain


def test_bad_input_gives_one_line(runs, tmp_path, capsys):
    assert main(["selective-eval", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err
    assert main(["selective-eval", str(runs["erm"]), "--score", "abstain"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no abstain output" in err


def test_untrained_abstain_output_is_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="the gamblers loss would never start"):
        load_config(None, tiny_overrides(tmp_path, "method.name=gamblers", "run.epochs=1", "method.start_epoch=1"))
    # a run interrupted during its cross-entropy pre-training has an abstain output that never learned anything
    config = load_config(None, tiny_overrides(tmp_path, "method.name=gamblers", "run.epochs=3", "method.start_epoch=2"))
    run = fit(config, tmp_path / "pre", stop_after_epoch=1, log=lambda m: None).run_dir
    assert main(["selective-eval", str(run)]) == 2
    assert "never trained" in capsys.readouterr().err


def test_predictor_returns_classes_and_abstentions_near_the_coverage(runs):
    predictor = SelectivePredictor.from_run(runs["selective_sat"], coverage=0.6)
    _, _, noisy, _ = load_run(runs["selective_sat"])
    x = noisy.data.x_test
    classes, abstain = predictor.predict(x)
    assert classes.shape == abstain.shape == (len(x),) and classes.dtype == torch.int64 and abstain.dtype == torch.bool
    assert abs(predictor.validation_coverage - 0.6) < 0.05
    scored = run_scores(runs["selective_sat"])  # the threshold is fitted on the validation part of the split
    val_idx, _, _ = paper_split(len(scored.scores))
    assert predictor.threshold == protocol_threshold(scored.scores[val_idx], 0.6, tolerance=TOLERANCE).threshold
    assert abs((~abstain).float().mean().item() - 0.6) < 0.15  # the other half of the split: roughly the same
    assert ((classes >= 0) & (classes < noisy.data.num_classes)).all()
    same, _ = predictor.predict(x.numpy())  # numpy inputs work too
    assert torch.equal(same, classes)
    rounded, _ = predictor.predict(x.round().long())  # and whole numbers, taken in the model's dtype
    assert rounded.shape == classes.shape
    # the predictor's own check, not torch's matmul error (whose message says "shapes" too)
    with pytest.raises(DataError, match=rf"^inputs of shape \({len(x)}, 10\); this model takes \(N, 40\)$"):
        predictor.predict(x[:, :10])


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")  # 25 validation examples: steps of 4 %
def test_the_predictor_standardises_raw_rows_of_a_tabular_file(tmp_path):
    rng = np.random.default_rng(1)
    y = np.arange(200) % 2
    x = rng.normal(0, 1, (2, 5))[y] + rng.normal(0, 0.3, (200, 5))
    raw = x * 1000 + 50_000  # columns far from standardised, as a user's own file holds them
    np.savez(tmp_path / "rows.npz", x_train=raw[:150], y_train=y[:150], x_test=raw[150:], y_test=y[150:])
    config = load_config(None, [f"data.root={tmp_path / 'rows.npz'}", "data.source=npz", "model.name=mlp",
                                "method.name=selective_sat", "run.epochs=6", "method.start_epoch=2",
                                "run.progress=false", "run.device=cpu", f"run.out_dir={tmp_path}"])
    run_dir = fit(config, tmp_path / "run", log=lambda m: None).run_dir
    predictor = SelectivePredictor.from_run(run_dir, coverage=0.9)
    _, _, noisy, _ = load_run(run_dir)
    standardised, _ = predictor.predict(noisy.data.x_test)
    from_file, abstain = predictor.predict(raw[150:], raw=True)
    assert torch.equal(from_file, standardised) and (from_file.numpy() == y[150:]).mean() > 0.9
    torch.testing.assert_close(predictor.scores(raw[150:], raw=True)[1], predictor.scores(noisy.data.x_test)[1])
    assert abstain.dtype == torch.bool


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")
def test_raw_rows_of_a_csv_file_hold_its_feature_columns_and_rows_that_hold_more_say_which_to_leave_out(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "rows.csv"
    lines = [f"r{i},{i % 2},{rng.normal(i % 2, 0.3):.4f},{rng.normal(0, 1):.4f},note" for i in range(120)]
    path.write_text("id,label,a,b,text\n" + "\n".join(lines) + "\n")
    config = load_config(None, [f"data.root={path}", "data.source=csv", "data.ignore_columns=[id, text]",
                                "model.name=mlp", "method.name=erm", "run.epochs=2", "run.progress=false",
                                "run.device=cpu", f"run.out_dir={tmp_path}"])
    predictor = SelectivePredictor.from_run(fit(config, tmp_path / "run", log=lambda m: None).run_dir)
    features = [[float(v) for v in line.split(",")[2:4]] for line in lines]
    classes, _ = predictor.predict(features, raw=True)
    assert classes.shape == (120,)
    with pytest.raises(DataError, match=r"^inputs of shape \(120, 4\); this model takes \(N, 2\) \(raw rows hold the "
                                        r"file's feature columns, in its order: not label, id, text\)$"):
        predictor.predict([[0.0, *row, 0.0] for row in features], raw=True)
    with pytest.raises(DataError, match=r"^inputs of shape \(120, 4\); this model takes \(N, 2\)$"):
        predictor.predict([[0.0, *row, 0.0] for row in features])  # standardised rows are the source's, not a file's


def npz_run(tmp_path, x, y, *, test=40):
    """A tiny erm run (an MLP) on a .npz holding ``x`` as a user's file does, its last ``test`` examples the test
    split."""
    path = tmp_path / "examples.npz"
    np.savez(path, x_train=x[:-test], y_train=y[:-test], x_test=x[-test:], y_test=y[-test:])
    config = load_config(None, [f"data.root={path}", "data.source=npz", "model.name=mlp", "model.width=8",
                                "method.name=erm", "run.epochs=2", "run.progress=false", "run.device=cpu",
                                f"run.out_dir={tmp_path}"])
    return fit(config, tmp_path / "run", log=lambda m: None).run_dir


def two_classes_of_images(shape):
    """120 uint8 images of ``shape`` in two classes, the second brighter, every pixel of its own value."""
    y = np.arange(120) % 2
    noise = np.random.default_rng(3).integers(0, 100, (120, *shape))
    return (noise + 120 * y.reshape(-1, *[1] * len(shape))).astype(np.uint8), y


def assert_scored_as_the_test_split(predictor, run_dir, inputs, labels):
    """``inputs``, given raw, get the predictions and scores the run's own test split gets, and its accuracy."""
    from satlearn.engine import evaluate_run as evaluate_whole_run

    classes, scores = predictor.scores(inputs, raw=True)
    scored = run_scores(run_dir, score=predictor.score)
    assert np.array_equal(classes.numpy(), scored.predictions)
    assert np.array_equal(scores.numpy(), scored.scores)
    assert (classes.numpy() == labels).mean() == pytest.approx(evaluate_whole_run(run_dir)["test_accuracy"])


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")
def test_raw_images_are_taken_channels_last_as_the_runs_npz_holds_them(tmp_path):
    x, y = two_classes_of_images((6, 5, 3))  # (N, H, W, C): H and W apart, so that a wrong axis order shows
    run_dir = npz_run(tmp_path, x, y)
    predictor = SelectivePredictor.from_run(run_dir, coverage=0.9)
    file_test = x[-40:]
    assert_scored_as_the_test_split(predictor, run_dir, file_test, y[-40:])
    assert predictor.input_shape == (3, 6, 5) and predictor.raw_shape == (6, 5, 3)
    classes, _ = predictor.predict(file_test, raw=True)
    assert torch.equal(predictor.predict(file_test[:1], raw=True)[0], classes[:1])  # a batch of one
    # channels first, as the source gives them, as raw=True took images before it took the file's layout
    assert torch.equal(predictor.predict(file_test.transpose(0, 3, 1, 2), raw=True)[0], classes)
    both = r"\(N, 6, 5, 3\) as its npz file holds them, or \(N, 3, 6, 5\) as the data source gives them$"
    with pytest.raises(DataError, match=r"^inputs of shape \(6, 5, 3\); this model takes " + both):
        predictor.predict(file_test[0], raw=True)  # one image, not a batch
    with pytest.raises(DataError, match=r"^inputs of shape \(40, 5, 6, 3\); this model takes " + both):
        predictor.predict(file_test.transpose(0, 2, 1, 3), raw=True)
    with pytest.raises(DataError, match=r"^inputs of shape \(40, 6, 5, 3\); this model takes \(N, 3, 6, 5\), or "
                                        r"with raw=True \(N, 6, 5, 3\) as its npz file holds them$"):
        predictor.predict(file_test)
    with pytest.raises(DataError, match=r"^images must be uint8 as its npz file holds them, got torch.float32$"):
        predictor.predict(file_test.astype(np.float32) / 255, raw=True)


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")
def test_raw_float_arrays_are_taken_in_the_shape_the_runs_npz_holds_them_and_flattened_as_it_was(tmp_path):
    images, y = two_classes_of_images((6, 5, 3))
    x = images.astype(np.float32) / 255  # not uint8: features, which the source flattens and standardises
    run_dir = npz_run(tmp_path, x, y)
    predictor = SelectivePredictor.from_run(run_dir, coverage=0.9)
    assert_scored_as_the_test_split(predictor, run_dir, x[-40:], y[-40:])
    assert predictor.input_shape == (90,) and predictor.raw_shape == (6, 5, 3)
    flat, _ = predictor.predict(x[-40:].reshape(40, -1), raw=True)  # rows flattened as before raw took the file's
    assert torch.equal(flat, predictor.predict(x[-40:], raw=True)[0])


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")
def test_raw_images_of_a_channels_first_npz_are_taken_as_they_are(tmp_path):
    x, y = two_classes_of_images((3, 6, 5))
    run_dir = npz_run(tmp_path, x, y)
    predictor = SelectivePredictor.from_run(run_dir, coverage=0.9)
    assert_scored_as_the_test_split(predictor, run_dir, x[-40:], y[-40:])
    assert predictor.raw_shape == predictor.input_shape == (3, 6, 5)
    with pytest.raises(DataError, match=r"^inputs of shape \(40, 6, 5, 3\); this model takes \(N, 3, 6, 5\)$"):
        predictor.predict(x[-40:].transpose(0, 2, 3, 1), raw=True)


def test_raw_inputs_are_refused_where_the_source_keeps_no_standardisation(runs):
    predictor = SelectivePredictor.from_run(runs["erm"], coverage=0.9)
    with pytest.raises(DataError, match="raw=True: the mnist1d source does not standardise raw rows of a file"):
        predictor.predict(np.zeros((2, 40)), raw=True)


def test_report_agrees_with_the_protocol_on_its_scores(runs):
    result = evaluate_run(runs["gamblers"])
    scored = run_scores(runs["gamblers"])
    assert result.report["score"] == "abstain" and len(result.curve) == 60
    protocol = selective_protocol(scored.scores, scored.correct)
    assert result.report["coverages"] == protocol["coverages"] and result.report["metrics"] == protocol["metrics"]
    for row in result.report["coverages"]:  # deployed: the validation threshold, applied to the test part
        assert row["deployed"]["threshold"] == row["validation"]["threshold"]


def test_a_result_shows_as_its_test_figures_not_the_whole_report(runs):
    result = evaluate_run(runs["selective_sat"])
    test = result.report["metrics"]["test"]
    shown = repr(result)
    assert shown.startswith(f"SelectiveResult(label={result.label!r}, method='selective_sat', score='abstain', ")
    assert f"error={test['error']:.4g}, aurc={test['aurc']:.4g}, e_aurc={test['e_aurc']:.4g}" in shown
    assert f"{len(result.report['coverages'])} coverages in .report, {len(result.curve)}-point .curve)" in shown
    assert len(shown) < 400 < len(repr(result.report))


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")  # 60 validation examples: steps of 1.7 %
def test_the_predictor_for_a_coverage_of_the_report_is_its_deployed_model(runs):
    # the report's deployed row says what a model thresholded on the validation part does on the test part; the
    # predictor for that coverage is that model: the same threshold, so the same examples accepted and the same error
    result = evaluate_run(runs["selective_sat"])
    _, _, noisy, _ = load_run(runs["selective_sat"])
    _, test_idx, _ = paper_split(len(noisy.data.y_test))
    x, y = noisy.data.x_test[test_idx], noisy.data.y_test[test_idx]
    rows = {row["target"]: row for row in result.report["coverages"]}
    for coverage in (0.95, 0.9, 0.7):
        predictor = SelectivePredictor.from_run(runs["selective_sat"], coverage=coverage)
        assert predictor.threshold == rows[coverage]["validation"]["threshold"]
        assert predictor.validation_coverage == rows[coverage]["validation"]["coverage"]
        classes, abstain = predictor.predict(x)
        accepted, wrong = int((~abstain).sum()), int((classes != y)[~abstain].sum())
        deployed = rows[coverage]["deployed"]
        assert (accepted / len(y), wrong / accepted) == (deployed["coverage"], deployed["error"])


def test_the_abstain_output_counts_as_trained_from_the_start_epoch_on(tmp_path, capsys):
    config = load_config(None, tiny_overrides(tmp_path, "method.name=gamblers", "run.epochs=3", "method.start_epoch=1"))
    run = fit(config, tmp_path / "at-start", stop_after_epoch=1, log=lambda m: None).run_dir
    assert main(["selective-eval", str(run), "--out", str(tmp_path / "out")]) == 2
    assert "never trained" in capsys.readouterr().err
    fit(config, run, resume=True, stop_after_epoch=2, log=lambda m: None)  # one epoch of the gamblers loss
    assert main(["selective-eval", str(run), "--out", str(tmp_path / "out")]) == 0


def test_a_diverged_model_is_a_one_line_error_naming_the_run(runs, tmp_path, capsys):
    import shutil

    from satlearn.engine.checkpoint import CHECKPOINT_NAME

    run = tmp_path / "diverged"
    shutil.copytree(runs["selective_sat"], run)
    state = torch.load(run / CHECKPOINT_NAME, weights_only=False)
    weights = [k for k in state["method"] if k.endswith("weight")]
    state["method"][weights[-1]].fill_(float("nan"))
    torch.save(state, run / CHECKPOINT_NAME)
    assert main(["selective-eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "diverged" in err and "non-finite abstain score" in err
    with pytest.raises(DataError, match="non-finite"):
        SelectivePredictor.from_run(run)


def test_runs_of_the_same_name_get_distinct_output_folders(runs, tmp_path, capsys):
    import shutil

    for parent, name in (("x", "sat"), ("y", "sat"), ("z", "sat-2")):
        shutil.copytree(runs["selective_sat"], tmp_path / parent / name)
    out = tmp_path / "out"
    assert main(["selective-eval", *(str(tmp_path / p / n) for p, n in (("x", "sat"), ("y", "sat"), ("z", "sat-2"))),
                 "--out", str(out)]) == 0
    capsys.readouterr()
    written = sorted(p.parent.name for p in out.glob("*/selective_abstain.json"))
    assert written == ["sat", "sat-2", "sat-2-2"]  # (the third is run "sat-2"; the second took "sat-2" first)


def test_a_predictor_refuses_non_finite_inputs_and_abstains_where_it_cannot_score(runs, monkeypatch):
    from satlearn.errors import DataError

    predictor = SelectivePredictor.from_run(runs["selective_sat"], coverage=0.6)
    x = torch.zeros(4, 40)
    x[2, 5], x[3, 0] = float("nan"), float("inf")
    with pytest.raises(DataError, match=r"NaN or infinite values \(in the model's torch\.float32\) in 2 of 4 rows "
                                        r"\(first: row 2\)"):
        predictor.predict(x)
    big = torch.zeros(2, 40, dtype=torch.float64)
    big[1, 3] = 1e39  # finite in float64, infinite in the model's float32
    with pytest.raises(DataError, match=r"in 1 of 2 rows \(first: row 1\)"):
        predictor.predict(big)
    # a score the model cannot give (a diverged model) is an abstention, not an accepted answer
    monkeypatch.setattr(predictor, "scores", lambda x, raw=False: (torch.zeros(2, dtype=torch.int64),
                                                         torch.tensor([float("nan"), -1.0], dtype=torch.float64)))
    assert predictor.predict(torch.zeros(2, 40))[1].tolist() == [True, False]


def test_a_predictor_on_no_input_returns_empty_tensors(runs):
    for method in ("selective_sat", "erm"):
        classes, abstain = SelectivePredictor.from_run(runs[method]).predict(torch.zeros(0, 40))
        assert classes.shape == abstain.shape == (0,)


def test_benchmark_runs_the_cifar10_recipes_on_tiny_fake_data(tmp_path):
    from fixtures import write_fake_cifar10

    bench = load_benchmark("selective")
    root = write_fake_cifar10(tmp_path)
    tiny = [f"data.root={root}", "run.epochs=2", "method.start_epoch=1", "model.width=2", "data.batch_size=16",
            "run.device=cpu", "data.eval_batch_size=64"]
    paths = bench.run_seed("cifar10", 0, tiny, tmp_path / "runs", tmp_path / "results")
    assert sorted(p.stem for p in paths) == ["cifar10-gamblers-seed0", "cifar10-sat-seed0", "cifar10-sat_sr-seed0",
                                             "cifar10-sr-seed0"]
    record = json.loads(paths[0].read_text())
    assert record["config"] == "configs/cifar10_selective_sat.yaml" and record["selective"]["score"] == "abstain"
    assert record["commit"] and record["selective"]["split"]["validation"] == 4
    table = bench.write_table(tmp_path / "results", tmp_path / "SELECTIVE.md").read_text()
    # trained with the tiny settings, which the heading names; not with data.root or run.device, which say where
    # the data are and what ran it
    heading = next(line for line in table.splitlines() if line.startswith("## cifar10"))
    assert heading.startswith("## cifar10, trained with `--set data.batch_size=16`") and "`--set run.epochs=2`" in heading
    assert "data.root" not in heading and "run.device" not in heading
    assert "| Softmax Response (CE) |" in table and "3.37±0.05" in table


def test_the_benchmark_table_keeps_seeds_trained_otherwise_apart(tmp_path):
    import shutil

    bench = load_benchmark("selective")
    results = tmp_path / "results" / "selective"
    shutil.copytree(BENCHMARKS / "results" / "selective", results)
    for path in sorted(results.glob("mnist1d-*-seed0.json")):  # seed 5, as if trained for 30 epochs elsewhere
        record = json.loads(path.read_text())
        record.update(seed=5, overrides=["run.seed=5", "run.progress=false", "run.epochs=30"], commit="f" * 40,
                      command="python benchmarks/selective.py --seeds 5 --set run.epochs=30")
        (results / path.name.replace("seed0", "seed5")).write_text(json.dumps(record))
        # seed 6 as the recipe, only on another machine (data elsewhere, its own device): the same measurement
        record.update(seed=6, overrides=["run.seed=6", "run.progress=false", "data.root=/elsewhere", "run.device=cpu"],
                      command="python benchmarks/selective.py --seeds 6")
        (results / path.name.replace("seed0", "seed6")).write_text(json.dumps(record))
    table = bench.write_table(tmp_path / "results", tmp_path / "SELECTIVE.md").read_text()
    plain, other = table.split("## mnist1d, trained with `--set run.epochs=30`\n")
    assert "## mnist1d\n" in plain and "Seeds 0, 1, 2, 3, 4, 6;" in plain and "--seeds 5" not in plain
    assert "Seeds 5;" in other and "commit `ffffffffffff`; command `python benchmarks/selective.py --seeds 5" in other


def test_the_benchmark_table_keeps_the_dirty_mark_of_a_result_measured_on_changed_code():
    result = {"device": {"gpu": "GPU A"}, "commit": "0123456789abcdef0123456789abcdef01234567-dirty",
              "command": "python benchmarks/selective.py", "seed": 0}
    assert "commit `0123456789ab-dirty`;" in load_benchmark("selective")._provenance([result])


def test_an_unfinished_run_is_evaluated_with_a_note(tmp_path, capsys):
    config = load_config(None, tiny_overrides(tmp_path, "method.name=erm", "run.epochs=3"))
    run = fit(config, tmp_path / "partial", stop_after_epoch=1, log=lambda m: None).run_dir
    assert main(["selective-eval", str(run), "--out", str(tmp_path / "out")]) == 0
    assert "note: an unfinished run, evaluated at its checkpoint after epoch 1 of 3" in capsys.readouterr().out
    # the predictor, which a library cannot print about, warns, and says how far its weights trained
    with pytest.warns(UserWarning, match="an unfinished run, its checkpoint after epoch 1 of 3"):
        predictor = SelectivePredictor.from_run(run, coverage=0.9)
    assert predictor.epoch == 1


def test_every_output_folder_is_checked_before_any_is_written(runs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gamblers").write_text("not a folder")
    assert main(["selective-eval", str(runs["erm"]), str(runs["gamblers"]), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: output directory {out / 'gamblers'}: is a file, "
                                               "not a directory")
    assert sorted(p.name for p in out.iterdir()) == ["gamblers"]  # nothing of the erm run's written either
    assert main(["selective-eval", str(runs["erm"]), "--out", str(tmp_path / "plot.png")]) == 2
    assert "selective-eval writes a folder" in capsys.readouterr().err
    assert not (tmp_path / "plot.png").exists()
    assert main(["selective-eval", str(runs["erm"]), "--out", f"{tmp_path / 'plot.png'}/"]) == 0  # a folder, so marked
    assert (tmp_path / "plot.png" / "risk_coverage.png").exists()


def test_the_protocol_refuses_scores_and_correctness_the_measures_refuse():
    rng = np.random.default_rng(0)
    scores, correct = rng.random(50), rng.random(50) > 0.3
    with pytest.raises(DataError, match=r"scores must be 1-D .*shape \(25, 2\)"):
        selective_protocol(scores.reshape(25, 2), np.r_[correct, correct])
    with pytest.raises(DataError, match="correct must be bool or 0/1 integers"):
        selective_protocol(scores, rng.integers(0, 10, 50))  # class predictions, not correctness
    with pytest.raises(DataError, match="correct must be bool or 0/1 integers"):
        selective_protocol(scores, rng.random(50))


def test_the_protocol_and_a_run_refuse_bad_coverages_and_tolerances(runs):
    scores, correct = np.linspace(0, 1, 50), np.arange(50) % 3 > 0
    for coverages in ([1.5, 0, -0.2, float("nan")], [0.9, 0], ["0.5"], [True]):
        with pytest.raises(ConfigError, match=r"coverages\[\d\]=.*expected a fraction in \(0, 1\]"):
            selective_protocol(scores, correct, coverages=coverages)
    for tolerance in (-1, float("nan")):
        with pytest.raises(ConfigError, match="tolerance=.*expected a finite fraction >= 0"):
            selective_protocol(scores, correct, tolerance=tolerance)
    with pytest.raises(ConfigError, match=r"coverages\[0\]=1.5"):
        evaluate_run(runs["erm"], coverages=[1.5, 0, -0.2, float("nan")])
    with pytest.raises(ConfigError, match=r"coverages\[0\]=1.5"):  # before the run is looked for, let alone scored
        evaluate_run(runs["erm"].parent / "no-such-run", coverages=[1.5])
    for options in ({"coverage": True}, {"coverage": "0.5"}, {"tolerance": -1}, {"tolerance": float("nan")}):
        with pytest.raises(ConfigError, match="expected a f"):
            SelectivePredictor.from_run(runs["erm"], **options)


def test_the_validation_size_must_be_a_positive_whole_number():
    scores, correct = np.linspace(0, 1, 50), np.arange(50) % 3 > 0
    for size in (-5, 0, 2.5, True):
        with pytest.raises(ConfigError, match="validation_size=.*expected a whole number of examples >= 1"):
            selective_protocol(scores, correct, validation_size=size)
    assert selective_protocol(scores, correct, validation_size=5)["split"]["validation"] == 5
    halved = selective_protocol(scores, correct, validation_size=50)["split"]  # as many as the split: halved
    assert halved["validation"] == 25 and "first half" in halved["note"]


def small_table_run(tmp_path, name, *extra, rows=150):
    """A tiny erm run on a CSV table whose drawn test split has rows // 5 examples."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3))
    tmp_path.mkdir(parents=True, exist_ok=True)
    table = tmp_path / f"{name}.csv"
    table.write_text("a,b,c,label\n" + "".join(f"{u:.3f},{v:.3f},{w:.3f},{'yes' if u > 0 else 'no'}\n"
                                                for u, v, w in x))
    config = load_config(None, [f"data.root={table}", "data.source=csv", "model.name=mlp", "method.name=erm",
                                "run.epochs=3", "run.progress=false", "run.device=cpu", f"run.out_dir={tmp_path}",
                                *extra])
    return fit(config, tmp_path / name, log=lambda m: None).run_dir


def test_coverages_a_small_test_split_cannot_reach_are_said_so(tmp_path, capsys):
    run = small_table_run(tmp_path, "small")  # 30 test examples: 15 a part, coverage moves in steps of 1/15
    assert main(["selective-eval", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "% at 95 % coverage (reached 93.3 %)" in printed
    missed = next(line for line in printed.splitlines() if "coverages were not reached" in line)
    assert re.fullmatch(r"  note: \d+ of the 16 coverages were not reached on the test part within the tolerance "
                        r"\(too few or tied scores\); the CSV's test_coverage column gives the coverage each reached",
                        missed)
    rows = list(csv.DictReader((run / "selective_max_softmax.csv").open()))
    assert rows[0]["test_within_tolerance"] == "1" and "0" in {row["test_within_tolerance"] for row in rows}
    assert rows[0]["val_within_tolerance"] == "1" and "0" in {row["val_within_tolerance"] for row in rows}
    with pytest.warns(UserWarning, match=r"reaches coverage 0\.9333 on the validation part \(15 examples\), not 0\.95"):
        SelectivePredictor.from_run(run, coverage=0.95)


def test_a_run_too_small_to_evaluate_is_named(tmp_path, capsys):
    run = small_table_run(tmp_path, "one", "data.test_fraction=0.02", rows=40)  # a single test example
    with pytest.raises(DataError, match=r"one: fitting a threshold needs at least 2 test examples, got 1"):
        SelectivePredictor.from_run(run)
    assert main(["selective-eval", str(run)]) == 2
    assert f"{run}: selective evaluation needs at least 2 test examples, got 1" in capsys.readouterr().err


def test_runs_of_one_name_are_told_apart_in_the_plot(tmp_path):
    from satlearn.selective import selective_eval

    first = small_table_run(tmp_path / "a", "run")
    second = small_table_run(tmp_path / "b", "run")
    results, _, _ = selective_eval([first, second], out=tmp_path / "both")
    assert [r.label for r in results] == ["a/run: erm (max_softmax)", "b/run: erm (max_softmax)"]


@pytest.mark.filterwarnings("ignore:.*threshold reaches coverage")
def test_raw_rows_that_are_not_numbers_are_one_line(tmp_path):
    predictor = SelectivePredictor.from_run(small_table_run(tmp_path, "t"), coverage=0.5)
    with pytest.raises(DataError, match=r"inputs of dtype <U3; expected real numbers"):
        predictor.predict([["0.1", "0.2", "yes"]], raw=True)


def test_a_noisy_selective_sat_run_records_how_many_labels_its_targets_get_right(tmp_path):
    config = load_config(None, tiny_overrides(tmp_path, "method.name=selective_sat", "data.noise.kind=symmetric",
                                              "data.noise.rate=0.4"))
    result = fit(config, tmp_path / "noisy", log=lambda m: None)
    with np.load(result.run_dir / "labels.npz") as saved:
        clean = saved["clean_labels"]
    refined = np.load(result.run_dir / "soft_targets.npy").argmax(axis=1)
    assert result.history[-1]["refined_label_accuracy"] == pytest.approx((refined == clean).mean())


def test_a_folder_of_runs_stands_for_them_all_and_a_run_given_twice_counts_once(runs, tmp_path):
    from satlearn.selective import selective_eval

    folder = runs["erm"].parent  # the three runs of the fixture
    results, _, _ = selective_eval([folder, runs["erm"]], out=tmp_path / "all")
    assert sorted(r.report["method"] for r in results) == ["erm", "gamblers", "selective_sat"]


def test_a_lone_run_path_instead_of_a_list_is_refused_in_one_line_not_read_letter_by_letter(tmp_path):
    from satlearn.selective import selective_eval

    with pytest.raises(ConfigError, match=r"^run_dirs='runs/sat'; expected a list of run directories"):
        selective_eval("runs/sat", out=tmp_path / "sel")
    assert not (tmp_path / "sel").exists()
    with pytest.raises(ConfigError, match=r"^selective-eval needs at least one run directory$"):
        selective_eval(iter([]), out=tmp_path / "sel")  # (it failed in os.path.commonpath)


def test_the_help_says_a_folder_of_runs_stands_for_them_all_as_compares_does(capsys):
    for command in ("compare", "selective-eval"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "or directories that hold runs" in " ".join(capsys.readouterr().out.split()), command


def test_a_file_given_as_a_run_is_named_as_such_not_as_an_output_directory(runs, capsys):
    checkpoint = runs["selective_sat"] / "checkpoint.pt"  # a run's file where its directory belongs
    assert main(["selective-eval", str(checkpoint)]) == 2
    assert capsys.readouterr().err.strip() == f"satlearn: error: {checkpoint}: is a file, not a run directory"


def test_the_protocol_scores_each_part_on_its_own_examples_and_deploys_the_validation_threshold_on_the_test_part():
    # checked against the measures applied by hand to the parts paper_split gives: a protocol that swapped the parts,
    # or deployed the test part's own threshold (or applied the validation one to the validation part), differs
    from satlearn.evaluation.selective import selective_error, selective_report
    from satlearn.selective import paper_split

    rng = np.random.default_rng(5)
    scores = rng.random(400)
    correct = rng.random(400) > 0.25 + 0.5 * scores  # wrong more often where the score is high, as a real ranking
    protocol = selective_protocol(scores, correct, validation_size=150)
    val_idx, test_idx, _ = paper_split(400, validation_size=150)
    assert protocol["metrics"] == {"all": selective_report(scores, correct),
                                   "validation": selective_report(scores[val_idx], correct[val_idx]),
                                   "test": selective_report(scores[test_idx], correct[test_idx])}
    assert protocol["metrics"]["validation"] != protocol["metrics"]["test"]  # the parts tell apart here
    own_differs = 0
    for row in protocol["coverages"]:
        threshold = row["validation"]["threshold"]
        assert (row["validation"]["coverage"], row["validation"]["error"]) == \
            selective_error(scores[val_idx], correct[val_idx], threshold)
        assert (row["test"]["coverage"], row["test"]["error"]) == \
            selective_error(scores[test_idx], correct[test_idx], row["test"]["threshold"])
        deployed = selective_error(scores[test_idx], correct[test_idx], threshold)
        assert row["deployed"] == {"threshold": threshold, "coverage": deployed[0], "error": deployed[1]}
        own_differs += deployed != (row["test"]["coverage"], row["test"]["error"])
    assert own_differs >= 5  # the validation threshold misses the test part's own coverage at most targets


def test_the_protocol_threshold_of_each_paper_coverage_is_the_reports_validation_threshold():
    # 2,000 validation examples, where a fresh search for a coverage stops at another threshold at most of them
    rng = np.random.default_rng(1)
    scores = rng.random(2500) ** 8
    correct = rng.random(2500) > scores
    protocol = selective_protocol(scores, correct)
    val_idx, _, _ = paper_split(2500)
    fresh_differs = 0
    for row in protocol["coverages"]:
        assert protocol_threshold(scores[val_idx], row["target"]).threshold == row["validation"]["threshold"]
        fresh_differs += bisection_threshold(scores[val_idx], row["target"]).threshold != row["validation"]["threshold"]
    assert fresh_differs >= 5


def given_splits():
    """Tabular splits of 120 training and 80 test examples, as a user builds them in Python."""
    from satlearn.data import DatasetSplits

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 6, generator=generator), torch.arange(200) % 3
    return DatasetSplits(x_train=x[:120], y_train=y[:120], x_test=x[120:], y_test=y[120:], num_classes=3,
                         class_names=["a", "b", "c"], kind="tabular", name="my table")


@pytest.fixture(scope="module")
def given_runs(tmp_path_factory):
    """A selective_sat and an erm run trained on :func:`given_splits`, which their data.source does not load."""
    root = tmp_path_factory.mktemp("given-splits-runs")
    out = {}
    for method in ("selective_sat", "erm"):
        config = load_config(None, tiny_overrides(root, "model.name=mlp", f"method.name={method}"))
        out[method] = fit(config, root / method, dataset=given_splits(), log=lambda m: None).run_dir
    return out


def test_a_run_on_splits_given_in_python_is_scored_and_made_a_predictor_with_them_given_again(given_runs):
    # its data.source does not load them: the error says to give them as dataset=, which these functions take
    run, splits = given_runs["selective_sat"], given_splits()
    with pytest.raises(DataError, match="pass the same splits again as dataset="):
        SelectivePredictor.from_run(run)
    predictor = SelectivePredictor.from_run(run, coverage=0.6, dataset=splits)
    assert predictor.class_names == ["a", "b", "c"]
    scored = run_scores(run, dataset=splits)
    assert np.array_equal(scored.labels, splits.y_test.numpy())
    assert evaluate_run(run, dataset=splits).report["split"]["num_examples"] == 80


def test_runs_on_splits_given_in_python_are_evaluated_together_with_them_given_again(given_runs, tmp_path):
    from satlearn.selective import selective_eval

    runs = [given_runs["selective_sat"], given_runs["erm"]]
    with pytest.raises(DataError, match=r"selective_sat: trained on splits given to fit\(dataset=\.\.\.\) in "
                                        r"Python.*pass the same splits again as dataset=$"):
        selective_eval(runs, out=tmp_path / "without")
    results, written, plot = selective_eval(runs, out=tmp_path / "both", dataset=given_splits())
    assert [r.report["method"] for r in results] == ["selective_sat", "erm"]
    assert [r.report["split"]["num_examples"] for r in results] == [80, 80]
    assert all(paths["json"].is_file() for paths in written) and plot.is_file()


def test_the_report_names_the_data_as_the_runs_summary_does(given_runs, runs):
    given = run_scores(given_runs["erm"], dataset=given_splits()).extra
    source = run_scores(runs["erm"]).extra
    for extra, run in ((given, given_runs["erm"]), (source, runs["erm"])):
        summary = json.loads((run / "summary.json").read_text())
        assert extra["data"] == summary["data"]
        assert extra["data_given"] is summary["data_given"]
    assert given["data_given"] and not source["data_given"]  # one of each kind


def test_the_report_gives_the_accuracy_over_the_whole_test_split_and_the_curve_over_its_test_part(tmp_path):
    from satlearn.selective import RunScores, evaluate_scores

    val_idx, test_idx, _ = paper_split(10)  # halved: 5 and 5
    labels = np.zeros(10, dtype=np.int64)
    predictions = np.zeros(10, dtype=np.int64)
    predictions[test_idx[:4]] = 1  # right on every validation example, on 1 of the 5 test examples
    scored = RunScores(run_dir=tmp_path / "run", method="erm", score="max_softmax", epoch=1, epochs=1,
                       scores=np.linspace(0.0, 0.9, 10), predictions=predictions, labels=labels)
    result = evaluate_scores(scored)
    assert result.report["test_accuracy"] == pytest.approx(6 / 10)
    assert result.report["metrics"]["test"]["error"] == pytest.approx(4 / 5)
    assert len(result.curve) == 5 and result.curve.risk[-1] == pytest.approx(4 / 5)


def test_the_risk_coverage_plot_of_many_runs_draws_each_in_its_own_style_with_the_legends_below(tmp_path,
                                                                                               monkeypatch):
    import warnings

    from matplotlib.colors import to_hex

    from satlearn.selective import RunScores, evaluate_scores, plot_risk_coverage

    rng = np.random.default_rng(0)
    results = []
    for i in range(12):  # more runs than matplotlib has colours: a folder of runs
        scored = RunScores(run_dir=tmp_path / f"run{i:02d}", method="erm", score="max_softmax", epoch=1, epochs=1,
                           scores=rng.random(40), predictions=rng.integers(0, 2, 40), labels=np.zeros(40, dtype=int))
        results.append(evaluate_scores(scored))
    drawn = drawn_figures(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_risk_coverage(results, tmp_path / "risk_coverage.png")
    (fig,) = drawn
    for ax in fig.axes:
        assert len({(to_hex(line.get_color()), line.get_marker()) for line in ax.lines}) == len(results)
    renderer = fig.canvas.get_renderer()
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 2  # none over the curves
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
    assert all(legend.get_window_extent(renderer).y1 <= lowest for legend in fig.legends)
    from PIL import Image

    assert Image.open(tmp_path / "risk_coverage.png").height > fig.get_figheight() * 110  # the image takes them in


def test_the_risk_coverage_plot_of_a_few_runs_puts_each_legend_below_its_axes(tmp_path, monkeypatch):
    from PIL import Image

    from satlearn.selective import RunScores, evaluate_scores, plot_risk_coverage

    # in the upper left corner, a legend lay over the curve of a poor ranking, whose error is highest at low coverage
    rng = np.random.default_rng(0)
    results = [evaluate_scores(RunScores(run_dir=tmp_path / f"run{i}", method="erm", score="max_softmax", epoch=1,
                                         epochs=1, scores=rng.random(40), predictions=rng.integers(0, 2, 40),
                                         labels=np.zeros(40, dtype=int))) for i in range(2)]
    drawn = drawn_figures(monkeypatch)
    plot_risk_coverage(results, tmp_path / "risk_coverage.png")
    (fig,) = drawn
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and legends_cover_no_axes(fig)
    assert [legend_texts(ax)[0].split(" — ")[0] for ax in fig.axes] == ["run0: erm (max_softmax)"] * 2
    assert Image.open(tmp_path / "risk_coverage.png").height > fig.get_figheight() * 110  # the image takes them in


def test_the_risk_coverage_legends_name_a_run_with_dollar_signs_as_written_not_as_tex(tmp_path, monkeypatch):
    from matplotlib.text import Text

    from satlearn.selective import RunScores, evaluate_scores, plot_risk_coverage

    # a run named from unexpanded shell variables: matplotlib read "$LR_seed_$" as TeX, a subscript in italics
    rng = np.random.default_rng(0)
    result = evaluate_scores(RunScores(run_dir=tmp_path / "lr_$LR_seed_$SEED", method="erm", score="max_softmax",
                                       epoch=1, epochs=1, scores=rng.random(40), predictions=rng.integers(0, 2, 40),
                                       labels=np.zeros(40, dtype=int)))
    drawn = drawn_figures(monkeypatch)
    plot_risk_coverage([result], tmp_path / "risk_coverage.png")
    (fig,) = drawn
    renderer = fig.canvas.get_renderer()
    assert len(fig.axes) == 2  # selective error and generalized risk, each with its legend
    for ax in fig.axes:
        (text,) = legend_below(ax).get_texts()
        written = text.get_text().replace(r"\$", "$")
        assert written.startswith("lr_$LR_seed_$SEED: erm (max_softmax) — AU")
        plain = Text(text=written, parse_math=False, fontproperties=text.get_fontproperties())
        plain.set_figure(fig)
        assert text.get_window_extent(renderer).width == pytest.approx(plain.get_window_extent(renderer).width)


def test_the_committed_selective_results_give_the_committed_table(tmp_path):
    # as RESULTS.md is checked against report.py: a change to the table's code shows here, not in a stale file
    table = load_benchmark("selective").write_table(BENCHMARKS / "results", tmp_path / "SELECTIVE.md")
    assert table.read_text() == (BENCHMARKS / "SELECTIVE.md").read_text()


@pytest.fixture(scope="module")
def run_with_its_threads(tmp_path_factory):
    """A selective SAT run whose run.threads is a count other than the process's own, whatever that is."""
    root = tmp_path_factory.mktemp("run-with-threads")
    config = load_config(None, tiny_overrides(root, "method.name=selective_sat",
                                              f"run.threads={torch.get_num_threads() + 1}"))
    return fit(config, root / "run", log=lambda m: None).run_dir


def each_evaluation(run: Path, out: Path, **options) -> dict:
    """Every function that scores a run's test split, by name, ready to call with ``options``."""
    from satlearn.engine import evaluate_run as evaluate_whole_run
    from satlearn.selective import selective_eval

    return {"satlearn.engine.evaluate_run": lambda: evaluate_whole_run(run, out=out / "eval.json", **options),
            "run_scores": lambda: run_scores(run, **options), "evaluate_run": lambda: evaluate_run(run, **options),
            "selective_eval": lambda: selective_eval([run], out=out, **options),
            "SelectivePredictor.from_run": lambda: SelectivePredictor.from_run(run, **options)}


def test_a_runs_evaluations_take_its_run_threads_and_leave_the_process_as_they_found_it(run_with_its_threads,
                                                                                       tmp_path, monkeypatch):
    # eval and selective-eval take the run's device, precision and batch size from its config: its thread count too,
    # which on a CPU shared with other work is what keeps a small model from running several times slower
    before = torch.get_num_threads()
    forwards_ran_with = threads_of_each_forward_pass(monkeypatch)
    for name, evaluation in each_evaluation(run_with_its_threads, tmp_path).items():
        forwards_ran_with.clear()
        evaluation()
        assert forwards_ran_with and set(forwards_ran_with) == {before + 1}, name
        assert torch.get_num_threads() == before, name


def test_threads_given_score_a_run_with_that_count_and_leave_its_config_as_it_was(run_with_its_threads, tmp_path,
                                                                                    monkeypatch):
    # a run trained with many threads, scored on a machine with fewer cores: the count is the caller's to choose
    run = run_with_its_threads
    before = torch.get_num_threads()
    given = before + 2  # neither the process's count nor the run's
    config_file, checkpoint_config = (run / "config.yaml").read_bytes(), load_run(run)[0]
    forwards_ran_with = threads_of_each_forward_pass(monkeypatch)
    for name, evaluation in each_evaluation(run, tmp_path, threads=given).items():
        forwards_ran_with.clear()
        evaluation()
        assert forwards_ran_with and set(forwards_ran_with) == {given}, name
        assert torch.get_num_threads() == before, name
    assert (run / "config.yaml").read_bytes() == config_file
    assert load_run(run)[0] == checkpoint_config and checkpoint_config.run.threads == before + 1


@pytest.mark.parametrize("threads", [None, "given"])
def test_a_scoring_that_fails_leaves_the_process_thread_count_as_it_found_it(run_with_its_threads, tmp_path,
                                                                               monkeypatch, threads):
    before = torch.get_num_threads()
    options = {} if threads is None else {"threads": before + 2}
    forwards_ran_with = threads_of_each_forward_pass(monkeypatch, failing=True)
    for name, evaluation in each_evaluation(run_with_its_threads, tmp_path, **options).items():
        forwards_ran_with.clear()
        with pytest.raises(RuntimeError, match="a forward pass that fails"):
            evaluation()
        assert forwards_ran_with == [options.get("threads", before + 1)], name  # it failed while they were set
        assert torch.get_num_threads() == before, name


def test_a_run_scored_with_another_thread_count_differs_at_most_by_rounding(run_with_its_threads, tmp_path):
    from satlearn.engine import evaluate_run as evaluate_whole_run

    run = run_with_its_threads
    own, one = run_scores(run), run_scores(run, threads=np.int64(1))  # (a NumPy count, as a sweep gives it)
    np.testing.assert_allclose(one.scores, own.scores, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(one.predictions, own.predictions)
    own, one = evaluate_whole_run(run, out=tmp_path / "own.json"), evaluate_whole_run(run, out=tmp_path / "one.json",
                                                                                       threads=1)
    assert one["test_loss"] == pytest.approx(own["test_loss"], rel=1e-5)
    assert {k: v for k, v in one.items() if k != "test_loss"} == {k: v for k, v in own.items() if k != "test_loss"}


@pytest.mark.parametrize("threads, problem", [
    (0, "expected a thread count from 1 to 1024"), (-1, "expected a thread count from 1 to 1024"),
    (1025, "expected a thread count from 1 to 1024"), (2.0, "expected a whole number of threads, from 1 to 1024"),
    (True, "expected a whole number of threads, from 1 to 1024"),
    ("2", "expected a whole number of threads, from 1 to 1024"),
])
def test_a_thread_count_run_threads_would_refuse_is_refused_before_the_run_is_loaded(tmp_path, threads, problem):
    for name, evaluation in each_evaluation(tmp_path / "nowhere", tmp_path, threads=threads).items():
        with pytest.raises(ConfigError, match=f"^{re.escape(f'threads={threads!r}; {problem}')}$") as refused:
            evaluation()
        # not a whole number at all is a TypeError too, as find_label_issues' counts are
        assert isinstance(refused.value, TypeError) == (not isinstance(threads, int) or isinstance(threads, bool))


def test_benchmark_scores_and_records_with_the_run_threads_it_was_given(tmp_path, monkeypatch):
    # the record's device says how many threads its trainings and scoring ran with
    bench = load_benchmark("selective")
    before = torch.get_num_threads()
    asked = before + 1  # a count other than the process's own, whatever that is
    forwards_ran_with = threads_of_each_forward_pass(monkeypatch)
    tiny = ["data.num_samples=400", "run.epochs=2", "method.start_epoch=1", "model.width=4", "run.device=cpu",
            f"run.threads={asked}"]
    paths = bench.run_seed("mnist1d", 0, tiny, tmp_path / "runs", tmp_path / "results")
    assert set(forwards_ran_with) == {asked}
    assert [json.loads(path.read_text())["device"]["torch_threads"] for path in paths] == [asked] * len(paths)
    assert torch.get_num_threads() == before


def test_a_predictor_from_a_file_says_it_is_a_file_not_a_run_directory(tmp_path):
    given = tmp_path / "checkpoint.pt"
    given.write_bytes(b"")
    with pytest.raises(DataError, match=f"^{re.escape(str(given))}: is a file, not a run directory$"):
        SelectivePredictor.from_run(given)


def test_runs_and_an_output_folder_named_from_the_home_directory(runs, tmp_path, monkeypatch):
    from satlearn.selective import selective_eval

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # a ~ left unexpanded makes its folder here, not where pytest started
    (tmp_path / "run").symlink_to(runs["erm"], target_is_directory=True)
    assert run_scores("~/run").run_dir == tmp_path / "run"
    assert evaluate_run("~/run").report["run_dir"] == str(tmp_path / "run")
    assert SelectivePredictor.from_run("~/run", coverage=0.8).score == "max_softmax"
    _, written, plot = selective_eval(["~/run"], out="~/sel")
    assert written[0]["json"].parent == tmp_path / "sel" / "run" and written[0]["json"].exists()
    assert plot == tmp_path / "sel" / "risk_coverage.png" and plot.exists()


def test_a_run_whose_name_starts_with_a_tilde_is_read_and_written_in_its_folder_not_the_home_directory(
        runs, tmp_path, monkeypatch):
    from satlearn.selective import selective_eval

    # pathlib writes the run ~ found in . (and its output folder in --out .) as the path ~, read again as the home
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "~").symlink_to(runs["erm"], target_is_directory=True)
    monkeypatch.chdir(tmp_path / "runs")
    results, _, _ = selective_eval(["."], out=tmp_path / "from-dot")
    assert results[0].report["run_dir"] == str(tmp_path / "runs" / "~")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")
    _, written, _ = selective_eval([tmp_path / "runs" / "~"], out=".")
    assert written[0]["json"] == tmp_path / "out" / "~" / "selective_max_softmax.json" and written[0]["json"].exists()
    assert not list((tmp_path / "home").rglob("selective_*"))


def test_the_csv_thresholds_read_back_as_the_thresholds_the_report_applies():
    # abstain probabilities near 1 (a model that mostly abstains, as an early Deep Gamblers model): thresholds that
    # differ in their 12th digit, which a rounded CSV writes all alike, so that no threshold read from it accepts what
    # the report's threshold accepts
    from satlearn.evaluation.selective import risk_coverage_curve
    from satlearn.selective import coverage_table_csv, curve_csv

    rng = np.random.default_rng(3)
    scores = 1.0 - rng.random(400) * 1e-10
    correct = rng.random(400) > 0.5
    protocol = selective_protocol(scores, correct)
    rows = list(csv.DictReader(coverage_table_csv(protocol).splitlines()))
    assert len(rows) == len(protocol["coverages"]) == len(PAPER_COVERAGES)  # zip over no rows would check nothing
    for row, reported in zip(rows, protocol["coverages"]):
        for column, part in (("val_threshold", "validation"), ("test_threshold", "test")):
            assert float(row[column]) == reported[part]["threshold"], column
    curve = risk_coverage_curve(scores, correct)
    written = [float(row["threshold"]) for row in csv.DictReader(curve_csv(curve).splitlines())]
    assert written == curve.threshold.tolist()


def test_the_printed_line_names_every_file_written_for_the_run(runs, tmp_path, capsys):
    assert main(["selective-eval", str(runs["erm"]), "--out", str(tmp_path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(str(runs["erm"])))
    written = sorted(path.name for path in (tmp_path / "erm").iterdir())
    assert written and all(name in line for name in written), (written, line)


def test_a_run_folder_it_cannot_write_in_is_refused_with_where_else_the_outputs_may_go(runs, tmp_path, capsys,
                                                                                        monkeypatch):
    import satlearn.engine.checkpoint as checkpoint

    read_only = Path(runs["erm"]).resolve()
    real_access = os.access
    # (tests run as root, to whom every folder is writable: the check's answer for the run's folder is replaced)
    monkeypatch.setattr(checkpoint.os, "access",
                        lambda path, mode: real_access(path, mode) and Path(path).resolve() != read_only)
    assert main(["selective-eval", str(runs["erm"])]) == 2
    assert capsys.readouterr().err.strip() == (f"satlearn: error: output directory {runs['erm']}: {runs['erm']} is "
                                               "not writable (--out writes the outputs elsewhere)")
    assert main(["selective-eval", str(runs["erm"]), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "risk_coverage.png").exists()


def test_a_selective_report_stopped_while_written_leaves_the_earlier_files_all_as_they_were(tmp_path, monkeypatch):
    # a full disk (or Ctrl-C) at the last of the three files must not leave the first two new beside an older third
    import satlearn.selective as selective
    from satlearn.selective import RunScores, evaluate_scores, write_result

    rng = np.random.default_rng(0)

    def result(n):
        return evaluate_scores(RunScores(run_dir=tmp_path / "run", method="erm", score="max_softmax", epoch=1,
                                         epochs=1, scores=rng.random(n), predictions=rng.integers(0, 2, n),
                                         labels=np.zeros(n, dtype=int)))

    write_result(result(40), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert len(before) == 3

    def full_disk(curve):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(selective, "curve_csv", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_result(result(50), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # and no temporary file left


def test_the_risk_coverage_curves_of_a_run_with_no_error_are_drawn_above_the_frame(tmp_path, monkeypatch):
    # every prediction right: both curves lie at 0 %, which stood on the axes' bottom line, where they did not show
    from satlearn.selective import RunScores, evaluate_scores, plot_risk_coverage

    rng = np.random.default_rng(0)
    perfect = evaluate_scores(RunScores(run_dir=tmp_path / "perfect", method="erm", score="max_softmax", epoch=1,
                                        epochs=1, scores=rng.random(40), predictions=np.zeros(40, dtype=int),
                                        labels=np.zeros(40, dtype=int)))
    drawn = drawn_figures(monkeypatch)
    plot_risk_coverage([perfect], tmp_path / "risk_coverage.png")
    for ax in drawn[0].axes:
        (line,) = ax.lines
        assert set(line.get_ydata()) == {0.0}
        low, high = ax.get_ylim()
        assert low < 0 and -low < (high - low) / 10 and high - low >= 1 - 1e-9  # clear of the frame, a point wide


def test_a_split_note_that_every_run_shares_is_printed_once(runs, tmp_path, capsys):
    # a 120-example test split is halved for its validation part: the same note for each run, said once after them
    named = [str(runs[name]) for name in ("gamblers", "erm")]
    assert main(["selective-eval", *named, "--out", str(tmp_path / "two")]) == 0
    lines = capsys.readouterr().out.splitlines()
    note = evaluate_run(runs["erm"]).report["split"]["note"]
    assert note and not any(line == f"  note: {note}" for line in lines)
    assert lines[-2:] == [f"note (each of the 2 runs): {note}", lines[-1]] and lines[-1].startswith("risk-coverage")
    assert main(["selective-eval", named[0], "--out", str(tmp_path / "one")]) == 0
    assert f"  note: {note}" in capsys.readouterr().out.splitlines()  # one run: under it, as before


def test_the_risk_coverage_plot_removes_what_a_selective_eval_killed_as_it_wrote_the_plot_left(tmp_path):
    from satlearn.engine.checkpoint import temporary_name
    from satlearn.selective import RunScores, evaluate_scores, plot_risk_coverage

    # kill -9 between the plot's temporary file and its rename: nothing else ever removed that hidden file
    left = tmp_path / temporary_name("risk_coverage.png")
    left.write_bytes(b"half a png")
    other = tmp_path / temporary_name("compare.png")  # another command's, perhaps still being written
    other.write_bytes(b"")
    rng = np.random.default_rng(0)
    result = evaluate_scores(RunScores(run_dir=tmp_path / "run", method="erm", score="max_softmax", epoch=1,
                                       epochs=1, scores=rng.random(40), predictions=rng.integers(0, 2, 40),
                                       labels=np.zeros(40, dtype=int)))
    plot_risk_coverage([result], tmp_path / "risk_coverage.png")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["risk_coverage.png", other.name])


def best_epoch_run(run_dir, accuracies, *extra):
    """A selective SAT run that keeps its best epoch's weights, its test accuracy in training scripted as
    ``accuracies`` (one per epoch), so that which epoch is the best is known."""
    from satlearn.engine import trainer

    script = iter(accuracies)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "evaluate", lambda method, loader, amp=None: {"loss": 1.0, "accuracy": next(script)})
        config = load_config(None, tiny_overrides(run_dir.parent, "method.name=selective_sat", "data.num_samples=600",
                                                  f"run.epochs={len(accuracies)}", "run.keep_best=true", *extra))
        return fit(config, run_dir, log=lambda m: None).run_dir


def test_selective_eval_best_scores_the_best_epochs_weights_beside_the_latest_ones(tmp_path, capsys):
    from satlearn.engine import evaluate_run as score_run

    run = best_epoch_run(tmp_path / "kept", [0.2, 0.5, 0.3, 0.1])  # best: epoch 2, after method.start_epoch 1
    assert main(["selective-eval", str(run)]) == 0
    latest = {name: (run / name).read_bytes() for name in ("selective_abstain.json", "selective_abstain.csv",
                                                           "selective_abstain_curve.csv", "risk_coverage.png")}
    capsys.readouterr()
    assert main(["selective-eval", str(run), "--best"]) == 0
    printed = capsys.readouterr().out
    assert f"{run} [selective_sat, score abstain, best epoch 2]: test error" in printed
    assert "an unfinished run" not in printed  # (the best epoch is not the last; the run finished)
    assert f"files {run / 'selective_abstain_best.json'}, selective_abstain_best.csv, " \
           "selective_abstain_best_curve.csv" in printed
    assert f"risk-coverage plot: {run / 'risk_coverage_best.png'}" in printed
    # the latest weights' files are as they were, the best epoch's beside them
    assert {name: (run / name).read_bytes() for name in latest} == latest
    report = json.loads((run / "selective_abstain_best.json").read_text())
    assert (report["best"], report["epoch"], report["latest_epoch"], report["epochs"]) == (True, 2, 4, 4)
    assert "best" not in json.loads(latest["selective_abstain.json"])
    # scored with those weights: the accuracy eval --best measures (the scripted figures were training's only)
    assert report["test_accuracy"] == score_run(run, best=True, out=tmp_path / "e.json")["test_accuracy"]
    assert (run / "selective_abstain_best.csv").exists() and (run / "selective_abstain_best_curve.csv").exists()
    # the plot's legend says which epoch; another score's plot has a name of its own
    results, written, plot = selective_eval([run], score="max_softmax", out=tmp_path / "out", best=True)
    assert results[0].label == "kept: selective_sat (max_softmax, best epoch 2)"
    assert (plot.name, written[0]["json"].name) == ("risk_coverage_max_softmax_best.png",
                                                     "selective_max_softmax_best.json")
    assert "epoch=2/4 (best)" in repr(results[0])


def test_a_predictor_of_the_best_epoch_scores_with_its_weights_and_says_which_epoch(tmp_path):
    run = best_epoch_run(tmp_path / "kept", [0.2, 0.5, 0.3, 0.1])
    predictor = SelectivePredictor.from_run(run, coverage=0.6, best=True)
    assert (predictor.epoch, predictor.best) == (2, True) and repr(predictor).endswith(", best epoch 2)")
    _, _, noisy, _ = load_run(run)
    _, scores = predictor.scores(noisy.data.x_test)
    assert np.array_equal(scores.numpy(), run_scores(run, best=True).scores)
    assert not np.array_equal(scores.numpy(), run_scores(run).scores)  # not the latest weights'
    latest = SelectivePredictor.from_run(run, coverage=0.6)
    assert (latest.epoch, latest.best) == (4, False)


def test_best_of_a_run_that_kept_no_best_weights_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    run = runs["selective_sat"]
    before = sorted(path.name for path in run.iterdir())
    assert main(["selective-eval", str(run), "--best"]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {run}: the run kept no best epoch's weights (it trained with "
                                       "run.keep_best false); a run started with --set run.keep_best=true keeps them "
                                       "in best_model.pt\n")
    assert sorted(path.name for path in run.iterdir()) == before
    with pytest.raises(SatlearnError, match="the run kept no best epoch's weights"):
        SelectivePredictor.from_run(run, best=True)


def test_best_of_a_folder_scores_its_runs_that_kept_their_weights_and_names_the_others_in_one_line(tmp_path,
                                                                                                    capsys):
    folder = tmp_path / "runs"
    kept = best_epoch_run(folder / "kept", [0.2, 0.5, 0.3, 0.1])
    plain = best_epoch_run(folder / "plain", [0.2, 0.5, 0.3, 0.1], "run.keep_best=false")
    assert main(["selective-eval", str(folder), "--best"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{kept} [selective_sat, score abstain, best epoch 2]: test error")
    # named after the runs scored, as compare names the runs it cannot show; the plot where the folder's goes
    assert printed.splitlines()[-2:] == ["not scored, as no best epoch's weights were kept (run.keep_best false): "
                                         "plain", f"risk-coverage plot: {folder / 'risk_coverage_best.png'}"]
    assert not [path.name for path in plain.iterdir() if path.name.startswith("selective_")]
    # a run named on its own is meant to be scored: one line, before any run is
    assert main(["selective-eval", str(folder), str(plain), "--best"]) == 2
    assert capsys.readouterr().err.startswith(f"satlearn: error: {plain}: the run kept no best epoch's weights")
    lines = []
    results, _, _ = selective_eval([folder], best=True, out=tmp_path / "sel", log=lines.append)
    assert [result.report["run_dir"] for result in results] == [str(kept)]
    assert lines == ["not scored, as no best epoch's weights were kept (run.keep_best false): plain"]
    # a folder none of whose runs kept them
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "plain").symlink_to(plain, target_is_directory=True)
    assert main(["selective-eval", str(alone), "--best"]) == 2
    assert capsys.readouterr().err == ("satlearn: error: no run kept its best epoch's weights (run.keep_best false: "
                                       "plain); a run started with --set run.keep_best=true keeps them in "
                                       "best_model.pt\n")


def test_a_folders_run_lacking_both_best_weights_and_a_validation_split_is_named_once_and_printed_by_default(
        tmp_path, capsys):
    folder = tmp_path / "runs"
    config = load_config(None, tiny_overrides(folder, "method.name=selective_sat", "data.num_samples=600",
                                              "run.epochs=2", "run.keep_best=true", "data.val_size=60"))
    both = fit(config, folder / "both", log=lambda m: None).run_dir
    best_epoch_run(folder / "neither", [0.2, 0.5, 0.3, 0.1], "run.keep_best=false")
    best_epoch_run(folder / "no-split", [0.2, 0.5, 0.3, 0.1])
    capsys.readouterr()
    results, _, _ = selective_eval([folder], best=True, calibrate_on="val", out=tmp_path / "sel")
    assert [result.report["run_dir"] for result in results] == [str(both)]
    # a run named for the first thing it lacks alone, on stdout where no log is given
    assert capsys.readouterr().out.splitlines() == [
        "not scored, as no best epoch's weights were kept (run.keep_best false): neither",
        "not scored, as no validation split was held out to fit the thresholds on (data.val_size 0): no-split"]


def test_best_of_a_folder_leaves_out_a_run_started_before_run_keep_best_was_kept(tmp_path):
    folder = tmp_path / "runs"
    kept = best_epoch_run(folder / "kept", [0.2, 0.5, 0.3, 0.1])
    old = best_epoch_run(folder / "old", [0.2, 0.5, 0.3, 0.1], "run.keep_best=false")
    checkpoint = torch.load(old / "checkpoint.pt", weights_only=False)
    del checkpoint["config"]["run"]["keep_best"]  # as a checkpoint written before the key existed
    torch.save(checkpoint, old / "checkpoint.pt")
    lines = []
    results, _, _ = selective_eval([folder], best=True, out=tmp_path / "sel", log=lines.append)
    assert [result.report["run_dir"] for result in results] == [str(kept)]
    assert lines == ["not scored, as no best epoch's weights were kept (run.keep_best false): old"]


def test_the_best_epochs_abstain_output_must_have_trained_and_an_unfinished_run_says_its_best_so_far(tmp_path,
                                                                                                        capsys):
    # the best epoch came before the abstain output's phase: its weights never trained it, however long the run went
    early = best_epoch_run(tmp_path / "early", [0.5, 0.2, 0.1])
    assert main(["selective-eval", str(early), "--best"]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {early}: the abstain output was never trained (best epoch "
                                       "1, method.start_epoch=1); use score max_softmax\n")
    assert main(["selective-eval", str(early), "--best", "--score", "max_softmax"]) == 0
    assert main(["selective-eval", str(early)]) == 0  # the latest weights' did
    capsys.readouterr()
    # a run stopped in training: its best epoch so far, and how far it trained
    stopped = tmp_path / "stopped"
    config = load_config(None, tiny_overrides(tmp_path, "method.name=selective_sat", "run.epochs=4",
                                              "run.keep_best=true"))
    fit(config, stopped, stop_after_epoch=3, log=lambda m: None)
    assert main(["selective-eval", str(stopped), "--best", "--score", "max_softmax"]) == 0
    best = json.loads((stopped / "selective_max_softmax_best.json").read_text())["epoch"]
    assert f"note: an unfinished run, evaluated at its best epoch so far (epoch {best}; 3 of 4 trained)" in \
        capsys.readouterr().out
    with pytest.warns(UserWarning, match=re.escape(f"an unfinished run, its best epoch so far (epoch {best}; 3 of 4 "
                                                   "trained)")):
        SelectivePredictor.from_run(stopped, score="max_softmax", coverage=0.9, best=True)


def test_selective_eval_best_of_a_run_with_a_validation_split_scores_the_epoch_validation_picked(tmp_path, capsys):
    from satlearn.engine import trainer

    # each epoch scores the test split, then the validation split: test accuracies would pick epoch 2, the
    # validation split's pick epoch 3, whose weights are the ones kept
    script = iter([0.2, 0.1, 0.5, 0.2, 0.3, 0.6, 0.1, 0.3])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "evaluate", lambda method, loader, amp=None, clean_labels=None: {
            "loss": 1.0, "accuracy": next(script)})
        config = load_config(None, tiny_overrides(tmp_path, "method.name=selective_sat", "data.num_samples=600",
                                                  "run.epochs=4", "run.keep_best=true", "data.val_size=60",
                                                  "data.noise.kind=none"))
        run = fit(config, tmp_path / "val", log=lambda m: None).run_dir
    assert main(["selective-eval", str(run), "--best"]) == 0
    assert f"{run} [selective_sat, score abstain, best epoch 3]: test error" in capsys.readouterr().out
    report = json.loads((run / "selective_abstain_best.json").read_text())
    assert (report["epoch"], report["best_by"], report["latest_epoch"]) == (3, "val", 4)
    predictor = SelectivePredictor.from_run(run, coverage=0.6, best=True)
    assert predictor.epoch == 3
    assert evaluate_run(run, best=True).report["best_by"] == "val"


@pytest.fixture(scope="module")
def val_run(tmp_path_factory):
    """A tiny selective SAT run with noisy labels and 60 of its 480 training examples held out as a validation
    split (MNIST-1D, 600 examples → a 120-example test split)."""
    root = tmp_path_factory.mktemp("selective-val-run")
    config = load_config(None, tiny_overrides(root, "method.name=selective_sat", "data.num_samples=600",
                                              "run.epochs=4", "data.val_size=60", "data.noise.kind=symmetric",
                                              "data.noise.rate=0.4"))
    return fit(config, root / "val", log=lambda m: None).run_dir


def held_out_scores(predictor, run_dir):
    """The predictor's scores and correctness (against the labels given) on the run's validation split."""
    _, _, noisy, _ = load_run(run_dir)
    classes, scores = predictor.scores(noisy.data.x_train[noisy.val_index])
    given = noisy.labels[noisy.val_index]
    assert not torch.equal(given, noisy.clean_labels[noisy.val_index])  # noisy labels: the ones fitted on
    return scores.numpy(), (classes == given).numpy()


def test_a_predictor_calibrated_on_the_runs_validation_split_fits_its_threshold_there(val_run):
    predictor = SelectivePredictor.from_run(val_run, coverage=0.7, calibrate_on="val")
    scores, _ = held_out_scores(predictor, val_run)
    fitted = protocol_threshold(scores, 0.7, tolerance=TOLERANCE)
    assert predictor.calibrated_on == "val" and len(scores) == 60
    assert (predictor.threshold, predictor.validation_coverage) == (fitted.threshold, fitted.coverage)
    assert "calibrated_on='val'" in repr(predictor)
    paper = SelectivePredictor.from_run(val_run, coverage=0.7)  # the default is the paper's protocol, as before
    test_scores = run_scores(val_run).scores
    val_idx, _, _ = paper_split(len(test_scores))
    assert paper.calibrated_on == "test" and "calibrated_on" not in repr(paper)
    assert paper.threshold == protocol_threshold(test_scores[val_idx], 0.7, tolerance=TOLERANCE).threshold
    with pytest.raises(ConfigError, match=r"^calibrate_on='train'; expected one of: test, val$"):
        SelectivePredictor.from_run(val_run, calibrate_on="train")


def test_selective_eval_calibrated_on_val_reports_on_the_whole_test_split_beside_the_paper_files(val_run, capsys):
    assert main(["selective-eval", str(val_run)]) == 0
    paper_files = sorted(p for p in val_run.iterdir() if p.name.startswith(("selective_", "risk_coverage")))
    before = {p.name: p.read_bytes() for p in paper_files}
    capsys.readouterr()
    assert main(["selective-eval", str(val_run), "--calibrate-on", "val"]) == 0
    out = capsys.readouterr().out
    assert f"{val_run} [selective_sat, score abstain, thresholds fitted on its validation split]: test error" in out
    for name, content in before.items():  # the paper protocol's files are left as they were
        assert (val_run / name).read_bytes() == content, name
    written = {p.name for p in val_run.iterdir() if p.name.startswith(("selective_", "risk_coverage"))} - set(before)
    assert written == {"selective_abstain_calibrated_val.json", "selective_abstain_calibrated_val.csv",
                       "selective_abstain_calibrated_val_curve.csv", "risk_coverage_calibrated_val.png"}
    report = json.loads((val_run / "selective_abstain_calibrated_val.json").read_text())
    assert report["calibrated_on"] == "val"
    assert (report["split"]["validation"], report["split"]["test"]) == (60, 120)
    scored = run_scores(val_run)
    for row in report["coverages"]:  # each threshold, fitted on the validation split, applied to the whole test split
        accepted = scored.scores <= row["validation"]["threshold"]
        assert row["deployed"]["coverage"] == accepted.mean()
        assert row["deployed"]["error"] == pytest.approx((~scored.correct[accepted]).mean())
    rows = {row["target"]: row for row in report["coverages"]}
    for coverage in (0.9, 0.7):  # the predictor for a coverage of the report has its threshold
        predictor = SelectivePredictor.from_run(val_run, coverage=coverage, calibrate_on="val")
        assert predictor.threshold == rows[coverage]["validation"]["threshold"]
    scores, correct = held_out_scores(predictor, val_run)
    assert report["metrics"]["validation"]["error"] == pytest.approx(1 - correct.mean())  # against the given labels
    assert report["metrics"]["test"]["num_examples"] == 120
    with open(val_run / "selective_abstain_calibrated_val.csv", newline="") as table:
        lines = list(csv.DictReader(table))
    assert list(lines[0]) == ["target_coverage", "val_coverage", "val_error", "val_threshold", "test_coverage",
                              "test_error", "val_within_tolerance"]
    assert [float(line["val_threshold"]) for line in lines] == [row["validation"]["threshold"]
                                                                for row in report["coverages"]]
    result = evaluate_run(val_run, calibrate_on="val")
    assert result.report == report and "whole test split (120 examples)" in repr(result)
    curve = (val_run / "selective_abstain_calibrated_val_curve.csv").read_text().splitlines()
    assert len(curve) - 1 == len(result.curve) and result.curve.coverage[-1] == 1.0  # the whole split's curve


def test_the_paper_protocols_files_are_the_same_whether_or_not_calibrated_on_val_files_are_written(val_run,
                                                                                                      tmp_path):
    # the same run evaluated both ways, into two folders: the paper protocol's files are byte for byte the ones a
    # plain selective-eval writes, and best=True names the other files apart too
    assert main(["selective-eval", str(val_run), "--out", str(tmp_path / "plain")]) == 0
    assert main(["selective-eval", str(val_run), "--out", str(tmp_path / "both")]) == 0
    assert main(["selective-eval", str(val_run), "--out", str(tmp_path / "both"), "--calibrate-on", "val"]) == 0
    plain = {p.relative_to(tmp_path / "plain"): p.read_bytes() for p in (tmp_path / "plain").rglob("*")
             if p.suffix in (".csv", ".json")}
    assert len(plain) == 3 and all((tmp_path / "both" / name).read_bytes() == content
                                   for name, content in plain.items())
    paper = evaluate_run(val_run).report
    assert "calibrated_on" not in paper and paper["split"]["seed"] == 10


def test_calibrating_on_val_a_run_without_a_validation_split_is_one_line_before_its_data_load(runs, val_run,
                                                                                              tmp_path, capsys,
                                                                                              monkeypatch):
    import satlearn.engine

    def no_data(*args, **kwargs):
        raise AssertionError("the run's data were loaded")

    erm = runs["erm"]
    message = (f"{erm}: the run held out no validation split to fit the threshold on (it trained with "
               "data.val_size 0); a run started with --set data.val_size=N holds out N training examples, else "
               "calibrate on the test split as the paper does")
    with monkeypatch.context() as patch:
        patch.setattr(satlearn.engine, "load_run", no_data)
        with pytest.raises(SatlearnError, match=f"^{re.escape(message)}$"):
            SelectivePredictor.from_run(erm, calibrate_on="val")
        with pytest.raises(SatlearnError, match=f"^{re.escape(message)}$"):
            evaluate_run(erm, calibrate_on="val")
        # every run is checked before any is scored: the run with a split gets no files either
        assert main(["selective-eval", str(val_run), str(erm), "--calibrate-on", "val",
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert not list(erm.glob("*calibrated_val*"))


def test_calibrating_on_val_a_folder_scores_its_runs_with_a_validation_split_and_names_the_others_in_one_line(
        runs, val_run, tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "val").symlink_to(val_run, target_is_directory=True)
    (folder / "erm").symlink_to(runs["erm"], target_is_directory=True)
    out = tmp_path / "out"
    assert main(["selective-eval", str(folder), "--calibrate-on", "val", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{folder / 'val'} [selective_sat, score abstain, thresholds fitted on its validation "
                              "split]: test error")
    # named after the runs scored, as with --best; the plot where the folder's goes
    assert printed.splitlines()[-2:] == ["not scored, as no validation split was held out to fit the thresholds on "
                                         "(data.val_size 0): erm",
                                         f"risk-coverage plot: {out / 'risk_coverage_calibrated_val.png'}"]
    assert sorted(path.name for path in out.iterdir()) == ["risk_coverage_calibrated_val.png", "val"]
    lines = []
    results, _, _ = selective_eval([folder], calibrate_on="val", out=tmp_path / "sel", log=lines.append)
    assert [result.report["run_dir"] for result in results] == [str(folder / "val")]
    assert lines == ["not scored, as no validation split was held out to fit the thresholds on (data.val_size 0): "
                     "erm"]
    # a run named on its own is meant to be scored: one line
    assert main(["selective-eval", str(folder), str(folder / "erm"), "--calibrate-on", "val"]) == 2
    assert capsys.readouterr().err.startswith(f"satlearn: error: {folder / 'erm'}: the run held out no validation "
                                              "split")
    # a folder none of whose runs held one out
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "erm").symlink_to(runs["erm"], target_is_directory=True)
    assert main(["selective-eval", str(alone), "--calibrate-on", "val"]) == 2
    assert capsys.readouterr().err == ("satlearn: error: no run held out a validation split to fit the thresholds on "
                                       "(data.val_size 0: erm); a run started with --set data.val_size=N holds out N "
                                       "training examples, else calibrate on the test split as the paper does\n")
