import itertools
from pathlib import Path

import numpy as np
import pytest

from fixtures import contrast_on_white, drawn_figures, legends_cover_no_axes, tiny_overrides
from satlearn.cli import main
from satlearn.errors import ConfigError, ConfigTypeError, DataError
from satlearn.label_issue_examples import MAX_EXAMPLES, plot_label_issue_examples, why_no_pictures
from satlearn.label_issues import find_label_issues, write_label_issues

MNIST1D_SAT = str(Path(__file__).parents[1] / "configs" / "mnist1d_sat.yaml")


def sets(overrides):
    return [word for override in overrides for word in ("--set", override)]


def issues_of(n: int = 10, classes: int = 3, *, index=None, seed: int = 0):
    """n labels, every one flagged (its target on another class), scores falling with the row."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    moved = (labels + 1) % classes
    targets = np.eye(classes)[moved] * np.linspace(0.9, 0.6, n)[:, None]
    targets[np.arange(n), labels] += 1 - targets.sum(axis=1)
    return find_label_issues(labels, targets, index=index)


def examples_figure(drawn):
    (fig,) = [fig for fig in drawn if fig._suptitle is not None and "most likely wrong" in fig._suptitle.get_text()]
    return fig


def title_lines(ax) -> list[str]:
    return ax.get_title().split("\n")


def test_images_are_drawn_by_rank_as_a_person_sees_them(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 3, 4, 5), dtype=np.uint8)
    issues = issues_of(10)
    drawn = drawn_figures(monkeypatch)
    assert plot_label_issue_examples(issues, images, tmp_path / "x.png", count=4, class_names=["a", "b", "c"]) == 4
    fig = examples_figure(drawn)
    assert len(fig.axes) == 4 and (tmp_path / "x.png").exists()
    for ax, row in zip(fig.axes, issues.ranked_indices[:4]):
        (image,) = ax.get_images()
        np.testing.assert_allclose(image.get_array(), images[row].transpose(1, 2, 0) / 255.0, atol=1e-6)
        given, suggested = "abc"[issues.given_labels[row]], "abc"[issues.suggested_labels[row]]
        assert title_lines(ax) == [f"index {row}", f"given {given}", f"→ suggested {suggested}",
                                   f"score {issues.scores[row]:.3f}"]


def test_normalised_float_images_are_drawn_unnormalised_and_clipped(tmp_path, monkeypatch):
    raw = np.random.default_rng(2).random((4, 3, 2, 2)).astype(np.float32)
    mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])
    normalised = (raw - mean[None, :, None, None]) / std[None, :, None, None]
    normalised[0, 0, 0, 0] = 100.0  # beyond what [0, 1] holds
    drawn = drawn_figures(monkeypatch)
    issues = issues_of(4)
    plot_label_issue_examples(issues, normalised, tmp_path / "x.png", mean=mean, std=std)
    first = issues.ranked_indices[0]
    drawn_image = examples_figure(drawn).axes[0].get_images()[0].get_array()
    expected = raw[first].transpose(1, 2, 0)
    if first == 0:
        expected[0, 0, 0] = 1.0
    np.testing.assert_allclose(drawn_image, expected, atol=1e-5)


def test_a_grey_image_is_drawn_in_grey(tmp_path, monkeypatch):
    drawn = drawn_figures(monkeypatch)
    plot_label_issue_examples(issues_of(3), np.full((3, 1, 4, 4), 255, np.uint8), tmp_path / "x.png")
    (image,) = examples_figure(drawn).axes[0].get_images()
    assert image.get_array().shape == (4, 4) and image.get_cmap().name == "gray"


def test_a_validation_split_held_out_leaves_each_row_its_place_in_the_whole_training_split(tmp_path, monkeypatch):
    # 6 examples trained on, at positions 1, 2, 4, 5, 7, 9 of a training split of 10 (the others held out): the
    # picture of a row is the input at its position, and its title names that position, as the CSV's index does
    index = np.array([1, 2, 4, 5, 7, 9])
    signals = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 8), np.float32)  # row p: the value p
    issues = issues_of(6, index=index)
    drawn = drawn_figures(monkeypatch)
    plot_label_issue_examples(issues, signals, tmp_path / "x.png")
    fig = examples_figure(drawn)
    for ax, row in zip(fig.axes, issues.ranked_indices):
        (line,) = ax.get_lines()
        assert set(line.get_ydata()) == {index[row]}
        assert title_lines(ax)[0] == f"index {index[row]}"
    with pytest.raises(DataError, match="inputs hold 9 examples, but the issues name position 9"):
        plot_label_issue_examples(issues, signals[:9], tmp_path / "y.png")


def test_true_labels_say_whether_each_label_is_wrong_in_words_and_colour(tmp_path, monkeypatch):
    from satlearn.engine.reporting import PALETTE

    issues = issues_of(6)
    truth = issues.given_labels.copy()
    truth[issues.ranked_indices[:3]] = issues.suggested_labels[issues.ranked_indices[:3]]  # the first three wrong
    drawn = drawn_figures(monkeypatch)
    plot_label_issue_examples(issues, np.zeros((6, 5), np.float32), tmp_path / "x.png", true_labels=truth,
                              origin=("source_row", np.arange(6) + 100))
    fig = examples_figure(drawn)
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours == [PALETTE[3]] * 3 + [PALETTE[0]] * 3
    assert all(contrast_on_white(colour) >= 4.5 for colour in colours)  # WCAG's contrast for text
    for ax, row in zip(fig.axes, issues.ranked_indices):
        assert title_lines(ax)[0] == f"source_row {row + 100}"
        assert title_lines(ax)[-1] == f"true: {truth[row]}"
    assert "red: the given label is wrong" in fig._suptitle.get_text()


def test_titles_of_long_names_overlap_no_other_panel(tmp_path, monkeypatch):
    names = ["aquarium_fish_of_the_deep_sea", "sweet_pepper_from_the_garden", "W" * 40]  # (W: the widest letter)
    issues = issues_of(14, index=np.arange(14) * 3)
    files = np.array([f"train/{'WWW_long_folder_name' * 3}/IMAGE_{i:06d}.jpeg" for i in range(14)])  # wide letters
    drawn = drawn_figures(monkeypatch)
    plot_label_issue_examples(issues, np.zeros((42, 3, 32, 32), np.uint8), tmp_path / "x.png", class_names=names,
                              true_labels=issues.suggested_labels, origin=("file", files))
    fig = examples_figure(drawn)
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    assert len(boxes) == 14
    assert not [(i, j) for i, j in itertools.combinations(range(14), 2) if boxes[i].overlaps(boxes[j])]
    heading = fig._suptitle.get_window_extent(renderer)
    assert not any(heading.overlaps(box) for box in boxes) and legends_cover_no_axes(fig)
    assert title_lines(fig.axes[0])[0].startswith("file …") and title_lines(fig.axes[0])[0].endswith(".jpeg")


@pytest.mark.parametrize("count", [1, 3, 6, 12])
@pytest.mark.parametrize("side", [8, 32])
@pytest.mark.parametrize("truth", [False, True])
def test_the_heading_covers_no_title_of_a_row_of_images(tmp_path, monkeypatch, count, side, truth):
    # a square image takes its column's width, taller than a row was given: one row's titles went up into the heading
    issues = issues_of(12)
    files = np.array([f"train/dog/img_{i:03d}_with_a_long_file_name.png" for i in range(12)])
    drawn = drawn_figures(monkeypatch)
    plot_label_issue_examples(issues, np.zeros((12, 3, side, side), np.uint8), tmp_path / "x.png", count=count,
                              true_labels=issues.suggested_labels if truth else None, origin=("file", files))
    fig = examples_figure(drawn)
    renderer = fig.canvas.get_renderer()
    heading = fig._suptitle.get_window_extent(renderer)
    assert not [ax for ax in fig.axes if heading.overlaps(ax.get_tightbbox(renderer))]


@pytest.mark.parametrize("count, error, message", [
    (-1, ConfigError, r"count=-1: expected a number of examples in \[0, 100\]"),
    (MAX_EXAMPLES + 1, ConfigError, "count=101"),
    (2.5, ConfigTypeError, "count=2.5; expected a whole number of examples"),
    (True, ConfigTypeError, "count=True"),
])
def test_a_count_out_of_range_or_not_whole_is_refused(tmp_path, count, error, message):
    with pytest.raises(error, match=message):
        plot_label_issue_examples(issues_of(3), np.zeros((3, 4), np.float32), tmp_path / "x.png", count=count)
    assert not (tmp_path / "x.png").exists()


def test_inputs_of_no_drawable_shape_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"inputs of shape \(3, 2, 2\); expected"):
        plot_label_issue_examples(issues_of(3), np.zeros((3, 2, 2)), tmp_path / "x.png")
    with pytest.raises(DataError, match="1, 3 or 4 channels"):
        plot_label_issue_examples(issues_of(3), np.zeros((3, 2, 4, 4), np.uint8), tmp_path / "x.png")


def test_nothing_flagged_draws_nothing(tmp_path):
    labels = np.array([0, 1, 2])
    assert plot_label_issue_examples(find_label_issues(labels, np.eye(3)[labels]), np.zeros((3, 4)),
                                     tmp_path / "x.png") == 0
    assert not (tmp_path / "x.png").exists()


def test_why_no_pictures():
    assert why_no_pictures("image", (3, 32, 32)) is None and why_no_pictures("sequence", (40,)) is None
    assert why_no_pictures("tabular", (5,)).startswith("rows of tabular features have no picture")
    assert "not grey, RGB or RGBA" in why_no_pictures("image", (2, 8, 8))


@pytest.mark.parametrize("second", ["no inputs", "examples 0", "nothing flagged"])
def test_a_folder_written_again_without_a_picture_keeps_none_of_an_earlier_call(tmp_path, second):
    issues = issues_of(5)
    signals = np.zeros((5, 4), np.float32)
    write_label_issues(issues, tmp_path, inputs=signals)
    assert (tmp_path / "label_issues_examples.png").exists()
    if second == "nothing flagged":
        labels = issues.given_labels
        write_label_issues(find_label_issues(labels, np.eye(3)[labels]), tmp_path, inputs=signals)
    else:
        write_label_issues(issues, tmp_path, inputs=None if second == "no inputs" else signals,
                           examples=0 if second == "examples 0" else 24)
    assert not (tmp_path / "label_issues_examples.png").exists()
    assert (tmp_path / "label_issues_summary.json").exists()


def test_a_bad_count_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="examples=500"):
        write_label_issues(issues_of(5), tmp_path, inputs=np.zeros((5, 4), np.float32), examples=500)
    assert list(tmp_path.iterdir()) == []


def test_cli_pictures_a_validation_split_runs_examples_at_their_place_in_the_training_split(tmp_path, capsys,
                                                                                            monkeypatch):
    import satlearn.data as data_module
    from satlearn.config import load_config

    loads = []
    load_dataset = data_module.load_dataset

    def counted(*args, **kwargs):
        loads.append(1)
        return load_dataset(*args, **kwargs)

    monkeypatch.setattr(data_module, "load_dataset", counted)
    overrides = tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4", "run.name=r",
                               "data.val_size=40")
    drawn = drawn_figures(monkeypatch)
    assert main(["find-issues", "--config", MNIST1D_SAT, "--num-issues", "30", "--examples", "7",
                 *sets(overrides)]) == 0
    assert len(loads) == 1  # the data trained on are the data pictured: loaded once
    run = tmp_path / "r"
    out = capsys.readouterr().out
    picture = run / "label_issues_examples.png"
    assert out.splitlines()[-1] == f"the 7 flagged labels most likely wrong, pictured: {picture}"
    ranked = np.load(run / "label_issues_ranked.npy")
    x_train = load_dataset(load_config(MNIST1D_SAT, overrides).data).x_train.numpy()
    fig = examples_figure(drawn)
    assert len(fig.axes) == 7
    assert [title_lines(ax)[0] for ax in fig.axes] == [f"index {i}" for i in ranked[:7]]
    kept = np.load(run / "labels.npz")["train_index"]  # rows of the targets are not positions in the split
    assert len(kept) == 280 and not np.array_equal(kept, np.arange(280))
    for ax, position in zip(fig.axes, ranked):
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), x_train[position])

    # the run reused: its data read again as eval reads them, the same examples pictured
    drawn.clear()
    assert main(["find-issues", str(run), "--num-issues", "30", "--examples", "3", "--out", str(tmp_path / "o")]) == 0
    fig = examples_figure(drawn)
    assert [title_lines(ax)[0] for ax in fig.axes] == [f"index {i}" for i in ranked[:3]]
    for ax, position in zip(fig.axes, ranked):
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), x_train[position])
    assert capsys.readouterr().out.splitlines()[-1].startswith("the 3 flagged labels most likely wrong, pictured")

    # --examples 0: no picture, and the earlier one in the folder is gone
    assert main(["find-issues", str(run), "--num-issues", "30", "--examples", "0", "--out", str(tmp_path / "o")]) == 0
    assert not (tmp_path / "o" / "label_issues_examples.png").exists()
    assert "label_issues_examples.png" not in capsys.readouterr().out


def npz_run(tmp_path, capsys, x_train, x_test):
    data = tmp_path / "data.npz"
    np.savez(data, x_train=x_train, y_train=np.arange(len(x_train)) % 2, x_test=x_test,
             y_test=np.arange(len(x_test)) % 2)
    overrides = tiny_overrides(tmp_path / "runs", "data.source=npz", f"data.root={data}", "model.name=mlp",
                               "run.name=r", "data.noise.kind=symmetric", "data.noise.rate=0.4")
    assert main(["find-issues", "--config", str(Path(__file__).parents[1] / "configs" / "mnist1d_sat.yaml"),
                 "--num-issues", "10", *sets(overrides)]) == 0
    return data, tmp_path / "runs" / "r", capsys.readouterr().out


def test_cli_pictures_no_rows_of_tabular_features_and_says_why(tmp_path, capsys):
    rng = np.random.default_rng(0)
    _, run, out = npz_run(tmp_path, capsys, rng.normal(size=(60, 5)), rng.normal(size=(20, 5)))
    assert out.splitlines()[-1] == ("no label_issues_examples.png: npz: rows of tabular features have no picture that "
                                    "says more than their numbers; the CSV's index (or source_row) leads to each row "
                                    "in your data")
    assert not (run / "label_issues_examples.png").exists() and (run / "label_issues.csv").exists()


def test_cli_reusing_a_run_whose_data_moved_writes_no_picture_says_why_and_succeeds(tmp_path, capsys, monkeypatch):
    import satlearn.engine.trainer as trainer

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 4, 4, 3), dtype=np.uint8)  # channels last, as a .npz keeps images
    data, run, out = npz_run(tmp_path, capsys, images, rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8))
    assert (run / "label_issues_examples.png").exists()
    moved = data.with_name("moved.npz")
    data.rename(moved)
    assert main(["find-issues", str(run), "--num-issues", "10"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("no label_issues_examples.png: the run's data are not at hand (") and \
        last.endswith("; give where they are now with --data-root PATH"), last
    assert not (run / "label_issues_examples.png").exists()  # the earlier picture gone with the labels it showed
    assert (run / "label_issues.csv").exists()
    asked, load_run_data = [], trainer.load_run_data

    def recorded(*args, **kwargs):
        asked.append(kwargs["progress"])
        return load_run_data(*args, **kwargs)

    monkeypatch.setattr(trainer, "load_run_data", recorded)
    assert main(["find-issues", str(run), "--num-issues", "10", "--data-root", str(moved), "--no-progress"]) == 0
    assert asked == [False]  # a long read of the data shows its bar, unless asked not to
    assert capsys.readouterr().out.splitlines()[-1].startswith("the 10 flagged labels most likely wrong, pictured")
    assert (run / "label_issues_examples.png").exists()
    # other data where the run's were: refused by the run's digest, in the same one line
    np.savez(data, x_train=images[::-1], y_train=np.arange(60) % 2, x_test=images[:20], y_test=np.arange(20) % 2)
    assert main(["find-issues", str(run), "--num-issues", "10"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("no label_issues_examples.png: the run's data cannot be read (") and "differ" in last, last


@pytest.mark.parametrize("value, expected", [
    ("101", "expected a number of examples in [0, 100], got 101"),
    ("-1", "expected a count of 0 or more, got -1"),
    ("2.5", "expected a whole number, got '2.5'"),
])
def test_cli_refuses_a_bad_examples_count_in_one_line(value, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["find-issues", "run", "--examples", value])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (f"satlearn find-issues: error: argument --examples: {expected} (options: "
                                       "satlearn find-issues --help)\n")


def test_cli_refuses_data_root_with_config(tmp_path, capsys):
    assert main(["find-issues", "--config", MNIST1D_SAT, "--data-root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"satlearn: error: --data-root {tmp_path}: find-issues --config loads")
