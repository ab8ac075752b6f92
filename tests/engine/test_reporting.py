"""satlearn.engine.reporting: what a run's summary says about its labels."""

import json

import numpy as np
import pytest
import torch

from fixtures import contrast_on_white, drawn_figures, legend_texts, legends_cover_no_axes, tiny_overrides
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
    # 20 epochs: matplotlib's own ticks would be 2.5, 7.5, ...
    history = [{"epoch": e, "train_accuracy": e / 20, "test_accuracy": e / 20, "train_loss": 1 / e, "test_loss": 1 / e}
               for e in range(1, 21)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    ticks = [tick for ax in drawn[0].axes for tick in ax.get_xticks()]
    assert len(drawn[0].axes) == 2 and ticks and all(float(tick).is_integer() for tick in ticks), ticks


def test_summary_json_holds_no_nan_or_infinity_and_no_numpy_scalars_anywhere():
    # strict JSON readers (JavaScript's, jq) refuse NaN and Infinity; numpy scalars are not JSON at all
    inf, nan = float("inf"), float("nan")
    value = {"rates": [nan, inf, -inf, 0.5], "count": np.int64(3), "loss": np.float32(nan), "mean": np.float64(0.25),
             "pair": (1.5, inf), 7: {"deep": [(nan,)]}}

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    assert json.loads(to_json(value), parse_constant=refuse) == {
        "rates": [None, None, None, 0.5], "count": 3, "loss": None, "mean": 0.25, "pair": [1.5, None],
        "7": {"deep": [[None]]}}


def test_the_summary_takes_final_figures_from_the_last_epoch_best_ones_from_best_and_sums_the_epochs_time():
    from types import SimpleNamespace

    from satlearn.engine.reporting import summarize

    config = load_config(None, ["run.seed=5", "run.epochs=3", "method.start_epoch=1", "data.noise.seed=9"])
    history = [{"epoch": 1, "train_loss": 2.0, "test_accuracy": 0.5, "epoch_seconds": 1.5},
               {"epoch": 2, "train_loss": 1.0, "test_accuracy": 0.7, "epoch_seconds": 2.0},
               {"epoch": 3, "train_loss": 0.5, "test_accuracy": 0.6, "epoch_seconds": 2.5}]
    summary = summarize(config, history, best={"test_accuracy": 0.7, "epoch": 2}, noisy=None,
                        method=SimpleNamespace(soft_targets=None), wall_seconds=7.0, device="cpu")
    assert summary == {"method": "sat", "loss": "ce", "data": "mnist1d", "model": "cnn1d", "epochs": 3,
                       "start_epoch": 1, "seed": 5,
                       "device": "cpu", "noise": {"kind": "none", "rate": None, "mode": None, "file": None, "key": None,
                                                  "actual_rate": None},
                       "final_test_accuracy": 0.6, "best_test_accuracy": 0.7, "best_epoch": 2, "best_by": "test",
                       "final_train_loss": 0.5, "wall_seconds": 7.0, "train_seconds": 6.0}


def test_the_timing_sums_each_part_over_every_epoch_and_an_epoch_without_evaluation_adds_none():
    from satlearn.engine.reporting import fit_timing

    history = [{"epoch": 1, "epoch_seconds": 3.0, "train_pass_seconds": 2.0, "eval_seconds": 0.5},
               {"epoch": 2, "epoch_seconds": 2.5, "train_pass_seconds": 2.25},  # not evaluated (run.eval_every=2)
               {"epoch": 3, "epoch_seconds": 4.0, "train_pass_seconds": 3.0, "eval_seconds": 0.75}]
    assert fit_timing(history, setup_seconds=1.0, between_epochs_seconds=0.25, checkpoint_wait_seconds=0.125,
                      finish_seconds=0.5, resumed=True) == {
        "setup_seconds": 1.0, "epochs_seconds": 9.5, "train_pass_seconds": 7.25, "eval_seconds": 1.25,
        "between_epochs_seconds": 0.25, "checkpoint_wait_seconds": 0.125, "finish_seconds": 0.5, "resumed": True}


class _Targets:
    """Soft targets whose refined labels and confidences are given outright."""

    def __init__(self, refined, confidence):
        self.refined, self.confidence = torch.tensor(refined), torch.tensor(confidence)

    def refined_labels(self):
        return self.refined, self.confidence

    def table(self):
        return torch.nn.functional.one_hot(self.refined, 4).float()


def test_the_summary_scores_flags_against_the_labels_the_noise_changed_not_against_the_refined_ones():
    from types import SimpleNamespace

    from satlearn.engine.reporting import summarize

    clean = torch.tensor([0, 1, 2, 3, 0, 1])
    given = torch.tensor([0, 1, 0, 3, 1, 1])  # the noise changed examples 2 and 4
    refined = [0, 1, 2, 3, 0, 0]  # flags 2, 4 (right) and 5 (a correct label wrongly flagged)
    noisy = SimpleNamespace(labels=given, clean_labels=clean, trained_labels=given, trained_clean_labels=clean,
                            actual_noise_rate=2 / 6)
    config = load_config(None, ["data.noise.kind=symmetric", "data.noise.rate=0.4"])
    summary = summarize(config, [{"epoch": 1, "test_accuracy": 0.5, "train_loss": 1.0, "epoch_seconds": 1.0}],
                        best={"test_accuracy": 0.5, "epoch": 1}, noisy=noisy,
                        method=SimpleNamespace(soft_targets=_Targets(refined, [0.9] * 6)), wall_seconds=1.0,
                        device="cpu")
    assert summary["label_issues"] == {"flagged": 3, "truly_wrong": 2, "precision": 2 / 3, "recall": 1.0}


def test_refined_labels_csv_keeps_each_confidence_to_a_millionth(tmp_path):
    import csv

    from satlearn.engine.reporting import write_refined_labels

    confidence = [0.123456, 0.5, 0.999999]
    write_refined_labels(tmp_path, _Targets([1, 2, 3], confidence), torch.tensor([1, 0, 3]))
    rows = list(csv.DictReader((tmp_path / "refined_labels.csv").open()))
    assert [float(row["confidence"]) for row in rows] == pytest.approx(confidence, abs=1e-7)
    assert [(row["given_label"], row["refined_label"], row["flagged"]) for row in rows] == [
        ("1", "1", "0"), ("0", "2", "1"), ("3", "3", "0")]


def test_the_summary_leaves_out_the_label_file_and_key_of_a_recipe_switched_to_generated_noise(tmp_path):
    from types import SimpleNamespace

    from satlearn.engine.reporting import summarize

    recipe = tmp_path / "human.yaml"
    recipe.write_text("data:\n  noise:\n    kind: file\n    file: human.npz\n    key: worst\n")
    config = load_config(recipe, ["data.noise.kind=symmetric", "data.noise.rate=0.2"])
    summary = summarize(config, [{"epoch": 1, "test_accuracy": 0.5, "train_loss": 1.0, "epoch_seconds": 1.0}],
                        best={"test_accuracy": 0.5, "epoch": 1}, noisy=SimpleNamespace(actual_noise_rate=0.18),
                        method=SimpleNamespace(soft_targets=None), wall_seconds=1.0, device="cpu")
    assert summary["noise"] == {"kind": "symmetric", "rate": 0.2, "mode": "paper", "file": None, "key": None,
                                "actual_rate": 0.18}


def test_the_test_curves_join_the_epochs_that_were_evaluated(tmp_path, monkeypatch):
    # run.eval_every=2: epochs 1 and 3 have no test figures, and a line through them would be broken into dots
    history = [{"epoch": e, "train_accuracy": 0.1 * e, "train_loss": 1 / e} for e in range(1, 5)]
    for row in history[1::2]:
        row.update(test_accuracy=0.1 * row["epoch"], test_loss=2 / row["epoch"])
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    test_lines = [line for ax in drawn[0].axes for line in ax.get_lines() if line.get_label() == "test"]
    assert [list(line.get_xdata()) for line in test_lines] == [[2, 4], [2, 4]]
    # accuracy in percent, as compare's plot and the printed figures give it; the loss as it is
    assert list(test_lines[0].get_ydata()) == [pytest.approx(20), pytest.approx(40)]
    assert list(test_lines[1].get_ydata()) == [1.0, 0.5]
    assert [ax.get_ylabel() for ax in drawn[0].axes] == ["accuracy (%)", "loss"]


def test_the_curves_of_a_run_with_a_validation_split_draw_its_accuracy_and_loss_beside_the_tests(tmp_path,
                                                                                                   monkeypatch):
    history = [{"epoch": e, "train_accuracy": 0.1 * e, "train_loss": 1 / e, "test_accuracy": 0.2, "test_loss": 2.0,
                "val_loss": 3 / e, "val_accuracy": 0.05 * e, "val_clean_accuracy": 0.06 * e} for e in range(1, 4)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    accuracy, loss = drawn[0].axes
    lines = {line.get_label(): line for line in accuracy.get_lines()}
    assert list(lines["validation (given labels)"].get_ydata()) == [pytest.approx(5 * e) for e in range(1, 4)]
    assert list(lines["validation (clean labels)"].get_ydata()) == [pytest.approx(6 * e) for e in range(1, 4)]
    (val_loss,) = [line for line in loss.get_lines() if line.get_label() == "validation (given labels)"]
    assert list(val_loss.get_ydata()) == [3.0, 1.5, 1.0]
    # a run without a split draws no such curve
    drawn.clear()
    plot_curves([{key: value for key, value in row.items() if not key.startswith("val_")} for row in history],
                tmp_path / "curves.png")
    assert not any(line.get_label().startswith("validation") for ax in drawn[0].axes for line in ax.get_lines())


def test_the_curves_legends_lie_below_their_axes_where_they_cover_no_curve(tmp_path, monkeypatch):
    from PIL import Image

    # a run with a validation split: its curve ran level under the legend "best" put in the lower right corner
    history = [{"epoch": e, "train_accuracy": 0.2 + 0.01 * e, "train_loss": 2 / e, "test_accuracy": 0.2 + 0.02 * e,
                "test_loss": 1 / e, "val_accuracy": 0.3, "val_loss": 2.0, "val_clean_accuracy": 0.2 + 0.02 * e,
                "refined_label_accuracy": 0.6} for e in range(1, 21)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png", phase=(5, "SAT"))
    (fig,) = drawn
    accuracy_ax, loss_ax = fig.axes
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 2
    assert legends_cover_no_axes(fig)
    assert len(legend_texts(accuracy_ax)) == 6 and legend_texts(loss_ax) == ["train", "test",
                                                                             "validation (given labels)"]
    assert Image.open(tmp_path / "curves.png").height > fig.get_figheight() * 110  # the image takes them in


@pytest.mark.parametrize("held_out", [False, True])
def test_each_curve_of_curves_png_has_a_colour_of_its_own_and_none_is_a_pale_grey(tmp_path, monkeypatch, held_out):
    from matplotlib.colors import to_hex, to_rgb

    # the third curve took the palette's pale grey in turn: the refined labels' of a run without a validation split,
    # the validation curve of one with a split
    history = [{"epoch": e, "train_accuracy": 0.1 * e, "train_loss": 1 / e, "test_accuracy": 0.2, "test_loss": 2.0,
                "refined_label_accuracy": 0.6, **({"val_loss": 3 / e, "val_accuracy": 0.05 * e,
                                                    "val_clean_accuracy": 0.06 * e} if held_out else {})}
               for e in range(1, 4)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png", phase=(1, "SAT"))
    accuracy_ax = drawn[0].axes[0]
    curves = [line for line in accuracy_ax.get_lines() if len(set(line.get_xdata())) > 1]
    assert len(curves) == (5 if held_out else 3)
    assert len({to_hex(line.get_color()) for line in curves}) == len(curves)
    greys = [line for line in accuracy_ax.get_lines() if max(to_rgb(line.get_color())) - min(to_rgb(line.get_color()))
             < 0.05]  # the refined labels' curve and the phase's line
    assert len(greys) == 2 and all(contrast_on_white(line.get_color()) >= 4.5 for line in greys)
    # the test curve was orange at 2.5:1 against white, the validation curve blue at 2.9:1
    lines = [line for ax in drawn[0].axes for line in ax.get_lines()]
    assert all(contrast_on_white(line.get_color()) >= 3 for line in lines), [
        (line.get_label(), line.get_color()) for line in lines if contrast_on_white(line.get_color()) < 3]


def test_curves_png_rings_the_epoch_a_run_keeps_on_the_curve_that_picked_it_and_none_where_it_keeps_none(
        tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    drawn = drawn_figures(monkeypatch)
    runs = {name: fit(load_config(None, tiny_overrides(tmp_path, "method.name=erm", "run.epochs=4", *extra)),
                      tmp_path / name, log=lambda message: None)
            for name, extra in (("val", ("run.keep_best=true", "data.val_size=100")),
                                ("test", ("run.keep_best=true",)), ("none", ("data.val_size=100",)))}
    for (name, result), fig in zip(runs.items(), drawn):
        accuracy_ax, loss_ax = fig.axes
        rings = [line for line in accuracy_ax.get_lines() if line.get_label().startswith("kept")]
        assert not [line for line in loss_ax.get_lines() if line.get_label().startswith("kept")]
        if name == "none":  # a run that keeps no weights has no epoch to mark
            assert rings == [] and not [text for text in legend_texts(accuracy_ax) if text.startswith("kept")]
            continue
        summary = result.summary
        epoch = summary["validation"]["best_epoch"] if name == "val" else summary["best_epoch"]
        row = result.history[epoch - 1]
        (ring,) = rings
        assert list(ring.get_xdata()) == [epoch]
        assert list(ring.get_ydata()) == [pytest.approx(100 * row[f"{name}_accuracy"])]
        # in the colour of the curve it lies on, which named the split that picked it
        (picker,) = [line for line in accuracy_ax.get_lines()
                     if line.get_label() == ("validation (given labels)" if name == "val" else "test")]
        assert to_hex(ring.get_markeredgecolor()) == to_hex(picker.get_color())
        assert f"kept epoch {epoch} (best {name} acc)" in legend_texts(accuracy_ax)
        assert torch.load(result.run_dir / "best_model.pt", weights_only=True)["epoch"] == epoch


def test_the_kept_epochs_ring_at_the_last_epoch_and_the_top_of_the_axis_is_drawn_whole_and_hollow(tmp_path,
                                                                                                   monkeypatch):
    # at the axes' corner: clipped to them, three quarters of the ring would be cut off
    history = [{"epoch": epoch, "train_loss": 1.0, "test_loss": 1.0, "test_accuracy": accuracy}
               for epoch, accuracy in ((1, 0.5), (2, 1.0))]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png", kept=(2, "test"))
    (ring,) = [line for line in drawn[0].axes[0].get_lines() if line.get_label().startswith("kept")]
    assert (list(ring.get_xdata()), list(ring.get_ydata())) == ([2], [100.0])
    assert ring.get_clip_on() is False
    assert ring.get_markerfacecolor() == "none"  # the curve's own point shows through


def test_a_summary_written_before_best_by_was_kept_is_of_a_run_picked_on_the_test_split():
    from satlearn.engine.reporting import kept_epoch

    assert kept_epoch({"best_epoch": 3}) == (3, "test")
    assert kept_epoch({"best_epoch": 3, "best_by": "test", "validation": {"best_epoch": 1}}) == (3, "test")
    assert kept_epoch({"best_epoch": 3, "best_by": "val", "validation": {"best_epoch": 1}}) == (1, "val")


def drawn_visibly(line) -> bool:
    """Whether a matplotlib line shows on the figure: a line through two points or more, or a marker."""
    joined = len(line.get_xdata()) > 1 and line.get_linestyle() not in ("None", "", " ")
    return joined or line.get_marker() not in ("None", "", " ", None)


def test_a_curve_of_one_epoch_is_drawn_as_a_point(tmp_path, monkeypatch):
    # a one-epoch run: every curve has one point, which a line alone would not show
    history = [{"epoch": 1, "train_accuracy": 0.3, "train_loss": 2.0, "test_accuracy": 0.25, "test_loss": 2.1,
                "refined_label_accuracy": 0.6}]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    lines = [line for ax in drawn[0].axes for line in ax.get_lines()]
    assert len(lines) == 5 and all(drawn_visibly(line) for line in lines), [line.get_label() for line in lines]


def test_a_method_that_reports_no_training_accuracy_gets_no_legend_entry_for_it(tmp_path, monkeypatch):
    # a method of one's own returns only its loss: the rows have no train_accuracy
    history = [{"epoch": e, "train_loss": 1 / e, "test_accuracy": 0.1 * e, "test_loss": 2 / e} for e in (1, 2)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    accuracy_ax = drawn[0].axes[0]
    assert legend_texts(accuracy_ax) == ["test"]
    assert [line.get_label() for line in accuracy_ax.get_lines()] == ["test"]


@pytest.mark.parametrize("count", [1, 10, 11, 20, 21, 60, 110])
def test_line_styles_stay_distinct_past_the_palettes_ten_colours(count):
    from matplotlib.colors import to_hex

    from satlearn.engine.reporting import line_styles

    styles = line_styles(count)
    assert len(styles) == count and len({(to_hex(s["color"]), s["marker"]) for s in styles}) == count


def test_lines_take_the_palette_each_with_its_own_marker_and_its_colours_come_round_again():
    from satlearn.engine.reporting import line_styles, palette

    colours = palette()
    styles = line_styles(12)
    assert len(colours) == 10 and [s["color"] for s in styles[:10]] == colours
    assert len({s["marker"] for s in styles[:10]}) == 10  # apart in greyscale too
    assert [s["color"] for s in styles[10:]] == colours[:2]  # past ten: a colour again, with another marker
    assert styles[10]["marker"] not in (styles[0]["marker"], styles[1]["marker"])


def test_every_colour_of_the_palette_reads_on_white():
    from satlearn.engine.reporting import palette

    # tableau-colorblind10's pale greys, light blues and light orange stood at 1.6 to 2.9:1: the third run faint
    assert {colour: round(contrast_on_white(colour), 2) for colour in palette()
            if contrast_on_white(colour) < 3} == {}  # WCAG's least contrast for graphics


# how each kind of colour blindness sees linear RGB, at full severity (Machado, Oliveira and Fernandes, 2009)
COLOUR_BLIND_SIGHT = {
    "protan": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deutan": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritan": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


def seen_in_lab(colour, sight=None) -> np.ndarray:
    """``colour`` in CIELAB (D65 white) as normal sight sees it, or as the colour blindness ``sight`` does."""
    from matplotlib.colors import to_rgb

    srgb = np.array(to_rgb(colour))
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    if sight is not None:
        linear = np.clip(np.array(COLOUR_BLIND_SIGHT[sight]) @ linear, 0, 1)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = to_xyz @ linear / to_xyz.sum(axis=1)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("sight", [None, *COLOUR_BLIND_SIGHT])
def test_the_palettes_colours_stay_apart_to_colour_blind_readers(sight):
    import itertools

    from satlearn.engine.reporting import palette

    # CIELAB distances: tableau-colorblind10's greys ABABAB and 898989 were 12.9 apart to every sight
    seen = {colour: seen_in_lab(colour, sight) for colour in palette()}
    close = {(a, b): round(float(np.linalg.norm(seen[a] - seen[b])), 1) for a, b in itertools.combinations(seen, 2)
             if np.linalg.norm(seen[a] - seen[b]) < 15}
    assert close == {}


def test_a_figures_lines_take_the_colour_blind_palette_in_turn():
    from matplotlib.colors import to_hex

    from satlearn.engine.reporting import new_figure, palette

    fig, (left, right) = new_figure(1, 2, figsize=(4, 2))
    for ax in (left, right):
        lines = [ax.plot([0, 1], [0, i])[0] for i in range(3)]
        assert [to_hex(line.get_color()) for line in lines] == [c.lower() for c in palette()[:3]]


def axes_with_lines(counts, *, labelled=True):
    """A figure of axes side by side, each with ``counts[i]`` lines (labelled ``line j`` where ``labelled``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(counts), figsize=(11, 4.5), squeeze=False)
    for ax, count in zip(axes[0], counts):
        for j in range(count):
            ax.plot([0, 1], [j, j + 1], label=f"line {j}" if labelled else None)
    fig.tight_layout()
    return fig, list(axes[0])


@pytest.mark.parametrize("entries, below", [(1, False), (10, False), (11, True), (30, True)])
def test_a_legend_of_more_than_ten_entries_goes_below_the_figure(entries, below):
    import matplotlib.pyplot as plt

    from satlearn.engine.reporting import place_legends

    fig, axes = axes_with_lines([entries, entries])
    assert place_legends(fig, axes, runs=entries, fontsize=7) is below
    assert [ax.get_legend() is None for ax in axes] == [below, below] and len(fig.legends) == (2 if below else 0)
    plt.close(fig)


def test_a_legend_inside_its_axes_is_where_it_is_asked_to_be_and_none_is_drawn_without_labels():
    import matplotlib.pyplot as plt

    from satlearn.engine.reporting import place_legends

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax in axes:  # curves in the upper left corner, where "best" would not put a legend
        for j in range(3):
            ax.plot([0, 0.2], [10 - j, 10 - j], label=f"line {j}")
        ax.plot([0, 1], [0, 0])
    fig.tight_layout()
    place_legends(fig, axes, runs=3, fontsize=7, loc="upper left")
    renderer = fig.canvas.get_renderer()
    for ax in axes:  # its top left corner at the axes', within the legend's padding
        box, inside = ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
        assert abs(inside.x0 - box.x0) < 20 and abs(inside.y1 - box.y1) < 20
    plt.close(fig)
    fig, axes = axes_with_lines([3, 3])  # a title asked for goes on each legend inside, as on those below
    place_legends(fig, axes, runs=3, fontsize=7, title="nothing flagged")
    assert [ax.get_legend().get_title().get_text() for ax in axes] == ["nothing flagged"] * 2
    plt.close(fig)
    fig, axes = axes_with_lines([3, 3], labelled=False)
    assert place_legends(fig, axes, runs=3, fontsize=7) is False
    assert [ax.get_legend() for ax in axes] == [None, None] and fig.legends == []
    plt.close(fig)


def test_legends_below_stay_under_their_own_axes_in_as_many_columns_as_fit():
    import matplotlib.pyplot as plt

    from satlearn.engine.reporting import place_legends

    fig, axes = axes_with_lines([24, 24])
    place_legends(fig, axes, runs=24, fontsize=7)
    renderer = fig.canvas.get_renderer()
    left, right = (legend.get_window_extent(renderer) for legend in fig.legends)
    assert left.x1 < right.x0  # apart, each under its own axes
    for ax, below in zip(axes, (left, right)):
        box = ax.get_window_extent(renderer)
        assert (below.x0 + below.x1) / 2 == pytest.approx((box.x0 + box.x1) / 2) and below.y1 <= box.y0
        handles, labels = ax.get_legend_handles_labels()
        one_column = fig.legend(handles, labels, fontsize=7).get_window_extent(renderer)
        assert below.height < one_column.height / 2  # several columns, not one long one
    plt.close(fig)


def test_a_legend_of_a_few_lines_stays_inside_its_axes_unless_it_is_wider_than_them():
    import matplotlib.pyplot as plt

    from satlearn.engine.reporting import place_legends

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, label in zip(axes, ("run {}", "a_rather_long_run_name_from_a_sweep_" * 2 + "{}")):
        for j in range(2):
            ax.plot([0, 1], [j, j + 1], label=label.format(j))
    assert place_legends(fig, axes, runs=2, fontsize=8)
    renderer = fig.canvas.get_renderer()
    short, long = axes
    assert short.get_legend() is not None and long.get_legend() is None and len(fig.legends) == 1
    (below,) = fig.legends
    assert below.get_window_extent(renderer).y1 <= long.get_tightbbox(renderer).y0  # under its tick labels
    assert not below.get_window_extent(renderer).overlaps(short.get_window_extent(renderer))
    plt.close(fig)


@pytest.mark.parametrize("axes_count, label", [(1, "r{}"), (2, "a_rather_long_run_name_" * 5 + "{}")])
def test_legends_below_the_axes_fit_their_width_and_cover_no_other_legend(axes_count, label):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from satlearn.engine.reporting import place_legends

    runs = 11  # past matplotlib's ten colours: the legends go below
    fig, axes = plt.subplots(1, axes_count, figsize=(6 * axes_count, 4.5), squeeze=False)
    for ax in axes[0]:
        for run in range(runs):
            ax.plot([1, 2], [run, run + 1], label=label.format(run))
    try:
        assert place_legends(fig, axes[0], runs=runs, fontsize=8)
        renderer = fig.canvas.get_renderer()
        legends = [legend.get_window_extent(renderer) for legend in fig.legends]
        widths = [ax.get_window_extent(renderer).width for ax in axes[0]]
        assert len(legends) == axes_count and all(len(legend.get_lines()) == runs for legend in fig.legends)
        if axes_count == 1:
            # short names: as many columns as fit the axes, no more (columns lie further apart than a frame is padded)
            assert legends[0].width <= widths[0]
        else:
            # long names: one column is wider than its axes, and goes under its neighbour's legend, not over it
            assert all(legend.width > width for legend, width in zip(legends, widths))
            assert not legends[1].overlaps(legends[0])
    finally:
        plt.close(fig)


@pytest.mark.parametrize("method, start", [("erm", None), ("sat", 2), ("selective_sat", 2), ("gamblers", 2)])
def test_the_summary_keeps_where_the_methods_second_phase_starts_and_null_for_a_method_without_one(method, start):
    from satlearn.engine.reporting import phase_start_epoch

    assert phase_start_epoch(load_config(None, [f"method.name={method}", "method.start_epoch=2"])) == start


def test_the_curves_title_names_the_noise_rate_and_says_so_where_there_is_no_noise(tmp_path):
    from satlearn.config import load_config
    from satlearn.engine.reporting import curves_title

    noisy = load_config(None, ["method.name=sat", "data.noise.kind=symmetric", "data.noise.rate=0.4"])
    assert curves_title(noisy) == "sat (ce) on mnist1d, 40% symmetric label noise (paper mode)"
    pair = load_config(None, ["method.name=erm", "data.noise.kind=pair", "data.noise.rate=0.2"])
    assert curves_title(pair) == "erm (ce) on mnist1d, 20% pair label noise"
    clean = load_config(None, ["method.name=gamblers", "data.noise.kind=none"])
    assert curves_title(clean) == "gamblers (ce) on mnist1d, no label noise"


def test_the_curves_title_gives_a_noise_rate_between_whole_percents_as_set_not_rounded_to_one():
    from satlearn.config import load_config
    from satlearn.engine.reporting import curves_title

    def title(rate):
        return curves_title(load_config(None, ["method.name=erm", "data.noise.kind=pair", f"data.noise.rate={rate}"]))

    # rounded to whole percents, 0.004 read as no noise at all and 0.995 as every label changed
    assert title(0.125) == "erm (ce) on mnist1d, 12.5% pair label noise"
    assert title(0.004) == "erm (ce) on mnist1d, 0.4% pair label noise"
    assert title(0.995) == "erm (ce) on mnist1d, 99.5% pair label noise"


def test_the_curves_of_a_run_on_splits_given_in_python_are_titled_with_their_name(tmp_path, monkeypatch):
    from satlearn.data import DatasetSplits
    from satlearn.engine import reporting

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 6, generator=generator), torch.arange(96) % 3
    splits = DatasetSplits(x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:], num_classes=3,
                           class_names=["a", "b", "c"], kind="tabular", name="my table")
    titles = []
    plot = reporting.plot_curves
    monkeypatch.setattr(reporting, "plot_curves", lambda history, path, *, title, **kwargs: (
        titles.append(title), plot(history, path, title=title, **kwargs)))
    config = load_config(None, tiny_overrides(tmp_path, "model.name=mlp", "data.batch_size=16", "run.epochs=2"))
    result = fit(config, tmp_path / "given", dataset=splits, log=lambda message: None)
    # the config still names mnist1d, which the run never loaded
    assert result.summary["data"] == "my table"
    assert titles == [reporting.curves_title(config).replace(" on mnist1d,", " on my table,")]


def test_metrics_csv_puts_a_column_first_seen_in_a_later_epoch_where_that_epoch_has_it(tmp_path):
    import csv

    from satlearn.engine.reporting import write_metrics

    # run.eval_every=2 with SAT from epoch 2: the test columns and the confidence first come with epoch 2
    first = {"epoch": 1, "lr": 0.1, "train_loss": 2.0, "train_accuracy": 0.5, "refined_label_accuracy": 0.6,
             "epoch_seconds": 1.0}
    second = {"epoch": 2, "lr": 0.1, "train_loss": 1.0, "train_accuracy": 0.6, "train_confidence": 0.9,
              "test_loss": 1.5, "test_accuracy": 0.7, "refined_label_accuracy": 0.7, "epoch_seconds": 1.0}
    write_metrics(tmp_path, [first, second])
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(second)
    assert [{key: value for key, value in row.items() if value != ""} for row in rows] == [
        {key: str(value) for key, value in row.items()} for row in (first, second)]


def test_the_plots_leave_pyplots_backend_and_the_callers_open_figures_alone(finished_sat_run, tmp_path):
    # a notebook draws inline through its own pyplot backend: a run, compare, find-issues or selective-eval that
    # switched it to Agg would leave the notebook's later plt.show() showing nothing
    import matplotlib
    import matplotlib.pyplot as plt

    from satlearn.compare import compare_runs
    from satlearn.label_issues import write_label_issues
    from satlearn.selective import selective_eval

    backend = matplotlib.get_backend()
    plt.switch_backend("pdf")  # any backend but Agg stands for the notebook's
    try:
        own = plt.figure()
        history = [{"epoch": e, "train_accuracy": 0.1 * e, "train_loss": 1 / e, "test_accuracy": 0.1 * e,
                    "test_loss": 1 / e} for e in (1, 2)]
        plot_curves(history, tmp_path / "curves.png")
        compare_runs([finished_sat_run], out=tmp_path / "compare.png")
        targets = load_run_targets(finished_sat_run)
        write_label_issues(find_label_issues(targets.labels, targets.soft_targets), tmp_path / "issues",
                           true_labels=targets.true_labels)
        selective_eval([finished_sat_run], out=tmp_path / "selective")
        assert (tmp_path / "issues" / "label_issues_pr.png").exists()  # each of the four plots was drawn
        assert matplotlib.get_backend() == "pdf"
        assert plt.get_fignums() == [own.number]
    finally:
        plt.close("all")
        plt.switch_backend(backend)


def test_the_accuracy_axes_of_a_run_at_100_percent_stop_there(tmp_path, monkeypatch):
    # data learnt at once, train and test: matplotlib's margins took the axes, and their ticks, up to 104 %
    history = [{"epoch": e, "train_accuracy": 1.0, "test_accuracy": 1.0, "train_loss": 1 / e, "test_loss": 1 / e}
               for e in range(1, 6)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png")
    accuracy_ax = drawn[0].axes[0]
    low, high = accuracy_ax.get_ylim()
    assert 100 < high < 101 and high - low >= 1
    assert max(tick for tick in accuracy_ax.get_yticks() if low <= tick <= high) == 100


def test_the_curves_title_is_drawn_as_written_where_the_data_are_named_with_dollar_signs(tmp_path, monkeypatch):
    from matplotlib.text import Text

    # splits given to fit(dataset=...) under a name of the user's: matplotlib read "$5 ... $" as TeX, in italics
    title = "sat (ce) on prices in $5 and $10 steps, no label noise"
    history = [{"epoch": e, "train_accuracy": 0.5, "test_accuracy": 0.5, "train_loss": 1.0, "test_loss": 1.0}
               for e in (1, 2)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "curves.png", title=title)
    (fig,) = drawn
    (suptitle,) = fig.texts
    plain = Text(text=title, parse_math=False, fontproperties=suptitle.get_fontproperties())
    plain.set_figure(fig)
    renderer = fig.canvas.get_renderer()
    assert suptitle.get_window_extent(renderer).width == pytest.approx(plain.get_window_extent(renderer).width)


def test_curves_png_marks_the_epoch_the_methods_second_phase_starts_as_compare_does(tmp_path, monkeypatch):
    drawn = drawn_figures(monkeypatch)
    result = fit(load_config(None, tiny_overrides(tmp_path, "method.name=sat", "method.start_epoch=1")),
                 tmp_path / "sat", log=lambda message: None)
    accuracy_ax, loss_ax = drawn[0].axes
    for ax in (accuracy_ax, loss_ax):  # 0-based start epoch 1: the first epoch on soft targets is epoch 2
        assert [list(line.get_xdata()) for line in ax.get_lines() if line.get_linestyle() == ":"] == [[2, 2]]
    assert legend_texts(accuracy_ax)[-1] == "start of SAT"
    assert "start of SAT" not in legend_texts(loss_ax)
    assert result.summary["start_epoch"] == 1


def test_curves_png_marks_no_phase_a_run_has_not_reached_nor_one_its_method_lacks(tmp_path, monkeypatch):
    history = [{"epoch": e, "train_accuracy": 0.1 * e, "train_loss": 1 / e, "test_accuracy": 0.1 * e,
                "test_loss": 2 / e} for e in (1, 2)]
    drawn = drawn_figures(monkeypatch)
    plot_curves(history, tmp_path / "later.png", phase=(2, "SAT"))  # starts at epoch 3; the run has done 2
    plot_curves(history, tmp_path / "none.png", phase=None)
    for fig in drawn:
        assert not [line for ax in fig.axes for line in ax.get_lines() if line.get_linestyle() == ":"]
    erm = fit(load_config(None, tiny_overrides(tmp_path, "method.name=erm", "run.epochs=2")), tmp_path / "erm",
              log=lambda message: None)
    assert erm.summary["start_epoch"] is None
    assert not [line for ax in drawn[-1].axes for line in ax.get_lines() if line.get_linestyle() == ":"]
