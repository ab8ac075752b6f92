"""benchmarks/curves.py draws the learning curves of the recorded label-noise cells from their runs' metrics."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import drawn_figures, legends_cover_no_axes, load_benchmark, run_script_here

BENCH = Path(__file__).parents[2] / "benchmarks"


def write_cell(results, runs, method, noise, *, epochs=6, start=3, beside_result=False):
    cell = {"recipe": "paper", "method": method, "noise": noise, "actual_noise_rate": 0.36}
    (results / "label_noise" / "paper").mkdir(parents=True, exist_ok=True)
    (results / "label_noise" / "paper" / f"{method}-{noise}.json").write_text(json.dumps(cell))
    if runs is None:
        return
    rows = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "test_accuracy": 0.1 * epoch, "epoch_seconds": 1.0}
        if method != "ce":
            row["refined_label_accuracy"] = 0.64 if epoch < start else 0.9
            if epoch >= start:
                row["train_confidence"] = 0.8
        rows.append(row)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if beside_result:  # as label_noise.py records it
        (results / "label_noise" / "paper" / f"{method}-{noise}.metrics.jsonl").write_text(text)
    else:  # only in the run directory
        (runs / "paper" / f"{method}-{noise}").mkdir(parents=True)
        (runs / "paper" / f"{method}-{noise}" / "metrics.jsonl").write_text(text)


def test_one_figure_per_recipe_and_cells_without_metrics_are_named(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    write_cell(results, runs, "ce", "sym40")
    write_cell(results, runs, "sat", "sym40")
    write_cell(results, runs, "sat", "sym80", beside_result=True)
    write_cell(results, None, "ce", "sym80")  # recorded, but its run's metrics are not at hand
    done = run_script_here(str(BENCH / "curves.py"), "--results-dir", str(results), "--runs-dir",
                           str(runs), "--out-dir", str(tmp_path / "figures"))
    assert "left out paper/ce-sym80" in done.stdout and "left out paper/sat" not in done.stdout
    assert "recipe fast: no recorded cell" in done.stdout
    figure = tmp_path / "figures" / "label_noise_paper.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "figures" / "label_noise_fast.png").exists()


def test_a_noise_with_only_its_ce_cell_is_drawn_without_a_warning(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    write_cell(results, runs, "ce", "sym60")  # no SAT cell yet, so no target curves in its lower panel
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", str(BENCH / "curves.py"), "--results-dir",
                           str(results), "--runs-dir", str(runs)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # without --out-dir, figures/ beside the results directory: never the checkout's for other results
    assert (tmp_path / "figures" / "label_noise_paper.png").exists()


def test_sat_start_is_the_first_epoch_trained_on_soft_targets():
    curves = load_benchmark("curves")
    history = [{"epoch": 1}, {"epoch": 2}, {"epoch": 3, "train_confidence": 0.9}, {"epoch": 4, "train_confidence": 1}]
    assert curves.sat_start_epoch(history) == 3
    assert curves.sat_start_epoch([{"epoch": 1}]) is None


def test_a_mistyped_results_directory_is_an_error_and_the_report_is_left_alone(tmp_path):
    report = tmp_path / "RESULTS.md"
    report.write_text("# the real report\n")
    for script, out in (("report.py", ["--out", str(report)]), ("curves.py", ["--out-dir", str(tmp_path / "f")])):
        result = subprocess.run([sys.executable, str(BENCH / script), "--results-dir", str(tmp_path / "nowhere"),
                                 *out], capture_output=True, text=True)
        assert result.returncode == 2 and "nowhere: no such directory" in result.stderr, script
    assert report.read_text() == "# the real report\n" and not (tmp_path / "f").exists()
    result = subprocess.run([sys.executable, str(BENCH / "selective.py"), "--report-only", "--results-dir",
                             str(tmp_path / "nowhere"), "--out", str(report)], capture_output=True, text=True)
    assert result.returncode == 2 and "no selective/ folder of results there" in result.stderr
    assert report.read_text() == "# the real report\n"


def test_a_file_given_for_a_folder_is_named_a_file_not_a_missing_folder(tmp_path):
    a_file = tmp_path / "results.json"
    a_file.write_text("{}")
    for script, option, other in (("report.py", "--results-dir", ["--out", str(tmp_path / "R.md")]),
                                  ("curves.py", "--results-dir", ["--out-dir", str(tmp_path / "f")]),
                                  ("checkpoint_cost.py", "--dir", ["--results-dir", str(tmp_path / "r")])):
        result = subprocess.run([sys.executable, str(BENCH / script), option, str(a_file), *other],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines()[-1] == (f"{script}: error: {option} {a_file}: is a file, not a "
                                                          "directory"), script
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # nothing written


def test_a_mistyped_recipe_or_an_out_dir_under_a_file_is_an_error_before_any_figure(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    write_cell(results, None, "sat", "sym40")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    common = [sys.executable, str(BENCH / "curves.py"), "--results-dir", str(results)]
    typo = subprocess.run([*common, "--out-dir", str(figures), "--recipes", "fast", "fsat"], capture_output=True,
                          text=True)
    assert typo.returncode == 2 and "--recipes fsat: no such recipe" in typo.stderr and "(paper)" in typo.stderr
    assert typo.stderr.strip().splitlines()[-1].startswith("curves.py: error:") and not figures.exists()
    under = subprocess.run([*common, "--out-dir", str(a_file / "f")], capture_output=True, text=True)
    assert under.returncode == 2 and f"{a_file} is not a directory" in under.stderr, under.stderr


def test_the_figure_draws_each_cells_recorded_values_where_its_labels_say(tmp_path, monkeypatch):
    # the other tests look at the PNG's first bytes only: these are the plotted numbers, panel by panel
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = load_benchmark("curves")
    grid = tmp_path / "results" / "label_noise" / "paper"
    grid.mkdir(parents=True)
    ce = [(1, 0.2), (2, 0.5), (3, 0.4), (4, 0.3)]  # (epoch, test accuracy)
    sat = [(1, 0.25, 0.7), (2, 0.45, 0.7), (3, 0.55, 0.8), (4, 0.6, 0.85)]  # and refined-label accuracy
    cells = {"ce": [{"epoch": e, "test_accuracy": a, "epoch_seconds": 1.0} for e, a in ce],
             "sat": [{"epoch": e, "test_accuracy": a, "epoch_seconds": 1.0, "refined_label_accuracy": r,
                      **({"train_confidence": 0.9} if e >= 3 else {})} for e, a, r in sat]}  # soft targets from 3
    for method, rows in cells.items():
        (grid / f"{method}-sym40.json").write_text(json.dumps(
            {"recipe": "paper", "method": method, "noise": "sym40", "actual_noise_rate": 0.3}))
        (grid / f"{method}-sym40.metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded, missing = curves.load_curves(tmp_path / "results", tmp_path / "runs", "paper")
    assert missing == []
    closed = []
    monkeypatch.setattr(plt, "close", closed.append)  # keep the figure to read it back
    curves.plot_recipe(loaded, tmp_path / "figures" / "label_noise_paper.png", recipe="paper")
    top, bottom = closed[0].axes

    def drawn(ax):
        return {line.get_label(): ([float(x) for x in line.get_xdata()], [float(y) for y in line.get_ydata()])
                for line in ax.lines}

    assert top.get_title() == "sym40 (actual noise 30.0 %)"
    upper = drawn(top)
    assert upper["ce"] == ([1, 2, 3, 4], [20, 50, 40, 30])
    assert upper["sat"][0] == [1, 2, 3, 4] and upper["sat"][1] == pytest.approx([25, 45, 55, 60])
    assert upper["sat: start of soft targets"][0] == [3, 3]  # dotted at the first epoch on soft targets
    lower = drawn(bottom)
    assert lower["sat targets"] == ([1, 2, 3, 4], pytest.approx([70, 70, 80, 85]))
    assert lower["sat given labels"][1] == pytest.approx([70, 70])  # 1 − actual noise, not the noise
    assert [line.get_xdata() for line in bottom.lines if line.get_linestyle() == ":"] == [[3, 3]]
    assert "ce targets" not in lower  # CE keeps no targets


def test_the_noise_columns_run_from_symmetric_to_pair_to_the_human_label_sets(tmp_path, monkeypatch):
    # the cells' files come in name order (c10n-… before pair40 before sym…): the figure orders its columns itself
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = load_benchmark("curves")
    results = tmp_path / "results"
    for noise in ("c10n-worst", "pair40", "sym80", "sym20"):
        write_cell(results, None, "ce", noise)
        (results / "label_noise" / "paper" / f"ce-{noise}.metrics.jsonl").write_text(
            json.dumps({"epoch": 1, "test_accuracy": 0.5, "epoch_seconds": 1.0}) + "\n")
    loaded, _ = curves.load_curves(results, tmp_path / "runs", "paper")
    closed = []
    monkeypatch.setattr(plt, "close", closed.append)
    monkeypatch.setattr(curves, "atomic_write_bytes", lambda path, write: None)  # the drawing, not the PNG
    curves.plot_recipe(loaded, tmp_path / "figure.png", recipe="paper")
    columns = len(loaded)
    titles = [ax.get_title().split(" ")[0] for ax in closed[0].axes[:columns]]
    assert titles == ["sym20", "sym80", "pair40", "c10n-worst"]


def test_a_cell_whose_targets_have_not_moved_draws_them_at_the_given_labels_level_not_a_rounding_gap(tmp_path,
                                                                                                   monkeypatch):
    from satlearn.compare import RunCurves

    curves = load_benchmark("curves")
    # the targets' share right, a float32 (0.6381999850...), beside the given labels' 0.6382: left to matplotlib, two
    # such cells drew that gap across the axes, ticked in millionths of a point under an offset
    history = [{"epoch": e, "test_accuracy": 0.1 * e, "refined_label_accuracy": 0.6381999850273132} for e in (1, 2, 3)]
    cells = {"sym40": {m: RunCurves(name=m, run_dir=tmp_path, method="sat", history=history, epochs=3, start_epoch=1,
                                    summary=None, actual_noise_rate=0.3618) for m in ("sat", "sat_sce")}}
    drawn = drawn_figures(monkeypatch)
    curves.plot_recipe(cells, tmp_path / "figure.png", recipe="paper")
    bottom = drawn[0].axes[1]
    low, high = bottom.get_ylim()
    assert high - low >= 1 and low < 63.82 < high and bottom.yaxis.get_offset_text().get_text() == ""


def eight_noise_cells(tmp_path):
    """The fast recipe's grid: CE, SAT and SAT+SCE cells at each of its eight noises."""
    curves = load_benchmark("curves")
    results = tmp_path / "results"
    for noise in curves.NOISE_ORDER:
        for method in curves.METHOD_ORDER:
            write_cell(results, None, method, noise)
            rows = [{"epoch": e, "test_accuracy": 0.1 * e, "epoch_seconds": 1.0,
                     **({} if method == "ce" else {"refined_label_accuracy": 0.7,
                                                   **({"train_confidence": 0.9} if e >= 2 else {})})}
                    for e in (1, 2, 3)]
            (results / "label_noise" / "paper" / f"{method}-{noise}.metrics.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows))
    loaded, missing = curves.load_curves(results, tmp_path / "runs", "paper")
    assert missing == []
    return curves, loaded


def recipe_figure(monkeypatch, curves, cells, tmp_path):
    """The figure ``plot_recipe`` draws of ``cells``, kept to be read back (no PNG written)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    closed = []
    monkeypatch.setattr(plt, "close", closed.append)
    monkeypatch.setattr(curves, "atomic_write_bytes", lambda path, write: None)
    curves.plot_recipe(cells, tmp_path / "figure.png", recipe="fast")
    (fig,) = closed
    return fig


def test_eight_noises_are_laid_out_in_two_rows_of_four_each_panel_titled_without_markdown(tmp_path, monkeypatch):
    # one row of eight columns was 3360 × 660 px: unreadable at a page's width
    curves, loaded = eight_noise_cells(tmp_path)
    fig = recipe_figure(monkeypatch, curves, loaded, tmp_path)
    assert fig.get_size_inches() == pytest.approx([4.2 * 4, 6.6 * 2])
    tops = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(" ")[0] for ax in tops] == list(curves.NOISE_ORDER)
    renderer = fig.canvas.get_renderer()
    lefts = sorted({round(ax.get_window_extent(renderer).x0) for ax in tops})
    assert len(tops) == 8 and len(fig.axes) == 16 and len(lefts) == 4  # four columns, two rows of noises
    assert "`" not in fig.get_suptitle() and fig.get_suptitle().startswith("CIFAR-10, recipe fast\n")


def test_a_grid_that_does_not_fill_its_rows_leaves_no_empty_panels(tmp_path, monkeypatch):
    curves, loaded = eight_noise_cells(tmp_path)
    five = {noise: loaded[noise] for noise in curves.NOISE_ORDER[:5]}
    fig = recipe_figure(monkeypatch, curves, five, tmp_path)
    assert len(fig.axes) == 10 and all(ax.lines for ax in fig.axes)  # 3 + 2 noises, two panels each


def test_each_method_keeps_one_colour_blind_safe_colour_and_marker_in_every_panel(tmp_path, monkeypatch):
    # CE was red and SAT+SCE green, both solid: one colour to a red-green colour-blind reader
    from matplotlib.colors import to_hex

    from satlearn.engine.reporting import palette

    curves, loaded = eight_noise_cells(tmp_path)
    styles = {}
    for ax in recipe_figure(monkeypatch, curves, loaded, tmp_path).axes:
        for line in ax.lines:
            method = line.get_label().removesuffix(" targets")
            if method in curves.METHOD_ORDER:
                styles.setdefault(method, set()).add((to_hex(line.get_color()), line.get_marker()))
    assert all(len(drawn) == 1 for drawn in styles.values()), styles  # one style a method, everywhere
    (ce,), (sat,), (sce,) = styles["ce"], styles["sat"], styles["sat_sce"]
    assert len({ce[0], sat[0], sce[0]}) == 3 and len({ce[1], sat[1], sce[1]}) == 3
    assert {ce[0], sat[0], sce[0]} <= {colour.lower() for colour in palette()}


def test_one_legend_below_every_panel_names_each_line_once_and_covers_no_curve(tmp_path, monkeypatch):
    # a legend inside each panel, at matplotlib's "best" place, lay over the pair40 column's target curves
    curves, loaded = eight_noise_cells(tmp_path)
    fig = recipe_figure(monkeypatch, curves, loaded, tmp_path)
    assert [ax.get_legend() for ax in fig.axes] == [None] * 16
    (legend,) = fig.legends
    assert legends_cover_no_axes(fig)
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).width <= fig.get_window_extent(renderer).width
    texts = [text.get_text() for text in legend.get_texts()]
    named = {line.get_label() for ax in fig.axes for line in ax.lines if not line.get_label().startswith("_")}
    assert sorted(texts) == sorted(named)  # each once
    assert len(texts) == 9  # three methods; the two SATs' starts, targets and given labels


def test_the_shared_legend_of_a_figure_too_narrow_for_one_row_takes_fewer_columns_to_fit_it():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = load_benchmark("curves")
    fig, ax = plt.subplots(figsize=(4, 3))
    for i in range(6):
        ax.plot([0, 1], [i, i], label=f"a method of a long name {i}")
    curves.shared_legend(fig, [ax])
    (legend,) = fig.legends
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).width <= fig.get_window_extent(renderer).width
    plt.close(fig)
