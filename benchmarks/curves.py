"""Learning curves of the recorded label-noise cells: one figure per recipe, two panels per noise, one above the other,
at most four noises side by side (the fast recipe's eight in two rows of four).

Top panel: test accuracy per epoch of every method — cross-entropy peaks early and then falls as it memorises the
wrong labels; SAT does not. Bottom panel (methods with soft targets): how many training labels the targets get right
(`refined_label_accuracy`, the argmax of each example's target against the clean label), beside the share of
given labels that are right (1 − actual noise). A dotted line marks the epoch where SAT starts. One legend,
below every panel, names each line once.

It reads the cells recorded in `benchmarks/results/label_noise/<recipe>/` and, for each, the per-epoch metrics that
`label_noise.py` records beside it (`<cell>.metrics.jsonl`) or else those of its run
(`<runs-dir>/<recipe>/<cell>/metrics.jsonl`); a recorded cell whose metrics are not at hand is named and left out.

    python benchmarks/curves.py                    # → benchmarks/figures/label_noise_<recipe>.png
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS, ROOT, missing_dir_problem, path_option, read_result, run_main, writable_dir_problem,
)

from satlearn.compare import RunCurves, draw_runs, read_metrics  # noqa: E402
from satlearn.compare import first_soft_target_epoch as sat_start_epoch  # noqa: E402
from satlearn.engine.checkpoint import atomic_write_bytes  # noqa: E402
from satlearn.engine.reporting import fit_percent_axis, line_styles, mark_epoch_axis  # noqa: E402

METHOD_ORDER = ("ce", "sat", "sat_sce")
# each method's line in every panel (a colour-blind-safe colour and a marker), by its place in line_styles: CE and SAT
# as compare draws the demo's two runs (blue circles, orange squares), SAT+SCE grey triangles; a method not named
# here dark red
METHOD_STYLES = {"ce": 0, "sat": 1, "sat_sce": 2}
OTHER_METHOD_STYLE = 3
# at most this many noise columns side by side: the eight of the fast recipe in one row made a figure 3360 px wide,
# unreadable at the width a page shows it; more go in a second row of columns below
MAX_COLUMNS = 4
NOISE_ORDER = ("sym20", "sym40", "sym60", "sym80", "pair40", "c10n-aggre", "c10n-random1", "c10n-worst")


def _rank(value: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def load_curves(results_dir: Path, runs_dir: Path,
                recipe: str) -> tuple[dict[str, dict[str, RunCurves]], list[str]]:
    """``{noise: {method: its curves}}`` and the cells left out (why)."""
    curves: dict[str, dict[str, RunCurves]] = {}
    missing = []
    for path in sorted((results_dir / "label_noise" / recipe).glob("*.json")):
        cell = read_result(path)
        metrics = path.with_suffix(".metrics.jsonl")  # recorded with the cell; else the run's own, where at hand
        if not metrics.exists():
            metrics = runs_dir / recipe / path.stem / "metrics.jsonl"
        if not metrics.exists():
            missing.append(f"{recipe}/{path.stem} (no {path.with_suffix('.metrics.jsonl').name}, no {metrics})")
            continue
        history = read_metrics(metrics)
        first = sat_start_epoch(history)
        curves.setdefault(cell["noise"], {})[cell["method"]] = RunCurves(
            name=cell["method"], run_dir=metrics.parent, method=cell["method"], history=history,
            epochs=cell.get("epochs"), start_epoch=None if first is None else first - 1, summary=None,
            actual_noise_rate=cell["actual_noise_rate"])
    return curves, missing


def plot_recipe(curves: dict[str, dict[str, RunCurves]], path: Path, *, recipe: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = sorted(curves, key=lambda n: _rank(n, NOISE_ORDER))
    columns = math.ceil(len(noises) / math.ceil(len(noises) / MAX_COLUMNS))  # rows as full as they can be alike
    rows = math.ceil(len(noises) / columns)
    # a row of noises is a figure of its own within the figure: a noise's two panels stay close, one epoch axis
    # under both, while the rows keep apart for the titles and axis labels between them
    fig = plt.figure(figsize=(max(6.5, 4.2 * columns), 6.6 * rows), layout="constrained")
    panels = [row.subplots(2, columns, squeeze=False, sharex="col") for row in np.atleast_1d(fig.subfigures(rows, 1))]
    for empty in range(len(noises), rows * columns):  # a last row that is not full
        for ax in panels[-1][:, empty % columns]:
            ax.remove()
    styles = line_styles(OTHER_METHOD_STYLE + 1)
    for place, noise in enumerate(noises):
        top, bottom = panels[place // columns][:, place % columns]
        runs = [curves[noise][m] for m in sorted(curves[noise], key=lambda m: _rank(m, METHOD_ORDER))]
        actual = runs[0].actual_noise_rate
        draw_runs(runs, top, bottom,
                  styles={run.name: styles[METHOD_STYLES.get(run.name, OTHER_METHOD_STYLE)] for run in runs})
        top.set_title(f"{noise} (actual noise {100 * actual:.1f} %)")
        top.set_ylabel("test accuracy (%)")
        bottom.set_ylabel("training labels right (%)")
        mark_epoch_axis(bottom)
        for ax in (top, bottom):
            fit_percent_axis(ax)
            ax.grid(alpha=0.3)
            if not ax.get_legend_handles_labels()[0]:  # a column with only its CE cell so far: CE keeps no targets
                ax.text(0.5, 0.5, "no SAT cell recorded", ha="center", va="center", transform=ax.transAxes,
                        color="gray")
    shared_legend(fig, [ax for row in panels for ax in row.flat if ax.figure is not None])
    fig.suptitle(f"CIFAR-10, recipe {recipe}\ntest accuracy and target quality per epoch (dotted: SAT starts)",
                 fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def shared_legend(fig, axes) -> None:
    """One legend for all of ``axes``, below them: each method keeps one style in every panel, so an entry reads the
    same in each, and a legend inside a panel, wherever it stood, lay over some noise's curves (pair40's targets). In as
    many columns as fit the figure's width."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        return
    renderer = fig.canvas.get_renderer()
    room = fig.get_window_extent(renderer).width
    for columns in range(len(entries), 0, -1):
        legend = fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=columns,
                            fontsize=8)
        if columns == 1 or legend.get_window_extent(renderer).width <= room:
            return
        legend.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", type=path_option, default=RESULTS,
                        help="the recorded results, whose label_noise/<recipe>/ cells are drawn "
                             "(default: benchmarks/results/)")
    parser.add_argument("--runs-dir", type=path_option, default=ROOT / "benchmarks" / "runs",
                        help="the grid's run directories, for a cell with no per-epoch metrics recorded beside it "
                             "(default: benchmarks/runs/)")
    parser.add_argument("--out-dir", type=path_option, default=None,
                        help="where the figures go (default: figures/ beside the results directory, so "
                             "benchmarks/figures/ for the default one)")
    parser.add_argument("--recipes", nargs="+", default=["paper", "fast"],
                        help="recipes to draw, one figure each: paper, fast, or a set of cells recorded apart in "
                             "<results-dir>/label_noise/ (say fast_seed1) (default: paper fast)")
    args = parser.parse_args()
    problem = missing_dir_problem(args.results_dir)
    if problem:
        parser.error(f"--results-dir {args.results_dir}: {problem}")
    # other results never overwrite the committed figures unless asked to
    args.out_dir = args.out_dir or args.results_dir.resolve().parent / "figures"
    problem = writable_dir_problem(args.out_dir)
    if problem:
        parser.error(f"--out-dir {args.out_dir}: {problem}; expected a directory for the figures")
    recorded = sorted(path.name for path in (args.results_dir / "label_noise").glob("*") if path.is_dir())
    unknown = [recipe for recipe in args.recipes if recipe not in {"paper", "fast", *recorded}]
    if unknown:
        parser.error(f"--recipes {' '.join(unknown)}: no such recipe; expected paper, fast or one recorded in "
                     f"{args.results_dir / 'label_noise'} ({', '.join(recorded) or 'none'})")

    for recipe in args.recipes:
        curves, missing = load_curves(args.results_dir, args.runs_dir, recipe)
        for cell in missing:
            print(f"left out {cell}")
        if not curves:
            print(f"recipe {recipe}: no recorded cell with its metrics at hand; no figure")
            continue
        path = args.out_dir / f"label_noise_{recipe}.png"
        plot_recipe(curves, path, recipe=recipe)
        print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
