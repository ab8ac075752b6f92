"""What a run leaves behind: metrics tables, summary, curves, refined labels."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satlearn.data.noise import knows_true_labels
from satlearn.engine.checkpoint import atomic_write_bytes, atomic_write_text, save_npy
from satlearn.evaluation.detection import precision_recall_f1
from satlearn.methods import METHODS


def _clean(v: Any) -> Any:
    """``v`` as strict JSON can hold it: NaN and infinities as null, numpy scalars as Python numbers."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return _clean(float(v))
    return v


def to_json(value: Any) -> str:
    return json.dumps(_clean(value), indent=2) + "\n"


class MetricsTables:
    """The text of ``metrics.jsonl`` and ``metrics.csv`` for a history that only grows (rows are appended, never
    changed), each row rendered once: rendering every row again after each epoch made a run's per-epoch cost grow
    with its length (about 20 ms at epoch 500 of a tiny model, most of its epoch). A row's CSV line is rendered
    again only when a later row brings a new column."""

    def __init__(self) -> None:
        self._json_lines: list[str] = []
        self._columns: list[str] = []
        self._csv_lines: list[str] = []
        self._csv_columns: list[str] = []  # the columns the CSV lines were rendered with

    def text(self, history: list[dict[str, Any]]) -> tuple[str, str]:
        """``(jsonl, csv)`` for ``history``, whose first rows are those given before."""
        new = history[len(self._json_lines):]
        self._json_lines.extend(json.dumps(_clean(row)) + "\n" for row in new)
        _merge_columns(self._columns, new)
        if self._columns != self._csv_columns:
            self._csv_columns, self._csv_lines = list(self._columns), []
        self._csv_lines.extend(_csv_line(self._csv_columns, row) for row in history[len(self._csv_lines):])
        return "".join(self._json_lines), _csv_line(self._csv_columns, None) + "".join(self._csv_lines)


def _csv_line(columns: list[str], row: dict[str, Any] | None) -> str:
    """One line of ``metrics.csv``: ``row``'s values under ``columns`` (blank where it has none), or the header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    if row is None:
        writer.writeheader()
    else:
        writer.writerow(row)
    return buffer.getvalue()


def write_metrics(run_dir: Path, history: list[dict[str, Any]], *, tables: MetricsTables | None = None) -> None:
    """Rewrites ``metrics.jsonl`` and ``metrics.csv`` from the full history (so a resumed run has no duplicates).
    ``tables``: the same object at each call of a growing history, so that each row is rendered once."""
    jsonl, table = (tables or MetricsTables()).text(history)
    atomic_write_text(run_dir / "metrics.jsonl", jsonl)
    atomic_write_text(run_dir / "metrics.csv", table)


def _merge_columns(columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Adds every key of ``rows`` not in ``columns`` where the rows put it: a key that first appears in a later row
    (the test columns of the first evaluation with ``run.eval_every`` > 1, SAT's confidence once its targets start)
    goes after the key that precedes it there, not at the end."""
    for row in rows:
        previous = None
        for key in row:
            if key not in columns:
                columns.insert(columns.index(previous) + 1 if previous is not None else 0, key)
            previous = key


def flag_statistics(flagged: np.ndarray, truly_wrong: np.ndarray) -> dict[str, Any]:
    """Counts and precision/recall of a boolean ``flagged`` set against the boolean ``truly_wrong`` mask, as
    :func:`satlearn.evaluation.detection.precision_recall_f1` scores them (None where undefined)."""
    scores = precision_recall_f1(flagged, truly_wrong)
    return {"flagged": scores["flagged"], "truly_wrong": scores["positives"], "precision": scores["precision"],
            "recall": scores["recall"]}


def _noise_settings(noise, actual_rate: float | None) -> dict[str, Any]:
    """The noise a run trained with: only the settings its kind reads (a recipe's `rate` stays in the config when
    `kind: file` replaces its noise, and would read as the rate of the file's labels), with the file and key."""
    kind = noise.kind
    return {"kind": kind, "rate": noise.rate if kind in ("symmetric", "pair") else None,
            "mode": noise.mode if kind == "symmetric" else None,
            "file": noise.file if kind == "file" else None, "key": noise.key if kind == "file" else None,
            "actual_rate": actual_rate}


def noise_description(noise) -> str:
    """The label noise a run trained with, in words for a plot's title: "40% symmetric label noise (paper mode)",
    "labels from noisy.npz (key)", "no label noise"."""
    if noise.kind == "none":
        return "no label noise"
    if noise.kind == "file":
        return f"labels from {Path(noise.file).name}" + (f" ({noise.key})" if noise.key else "")
    mode = f" ({noise.mode} mode)" if noise.kind == "symmetric" else ""
    # the rate as set (12.5%, 0.4%), not rounded to a whole percent, which would call 0.004 no noise at all;
    # :g also drops the float's tail (100 * 0.4 is 40.00000000000001)
    return f"{100 * noise.rate:g}% {noise.kind} label noise{mode}"


def curves_title(config, *, data: str | None = None) -> str:
    """``curves.png``'s title: the method (and its loss), the data and the label noise, with its rate. ``data``: the
    name of the data the run trained on where it is not ``data.source`` (splits given to ``fit(dataset=...)``, whose
    config still names a source it did not load), as the summary's ``data`` names them."""
    method = f"{config.method.name} ({config.method.loss})"
    return f"{method} on {data or config.data.source}, {noise_description(config.data.noise)}"


def phase_start_epoch(config) -> int | None:
    """The 0-based epoch at which the second phase of ``config``'s method starts (SAT's soft targets, the gamblers
    loss): ``method.start_epoch``; None for a method without such a phase, which ignores that setting. Kept in the
    summary, so that compare marks the phase of a run whose ``config.yaml`` is gone."""
    return config.method.start_epoch if METHODS.get(config.method.name).phase_name is not None else None


def run_phase(config) -> tuple[int, str] | None:
    """The 0-based epoch at which ``config``'s second phase starts and what starts then, in the method's words ("SAT",
    "the gamblers loss"); None for a method without such a phase."""
    start = phase_start_epoch(config)
    return None if start is None else (start, METHODS.get(config.method.name).phase_name)


def summarize(config, history, *, best, noisy, method, wall_seconds: float, device,
              best_val: dict[str, Any] | None = None) -> dict[str, Any]:
    """``summary.json``'s figures. ``best``: the epoch of best test accuracy; ``best_val``: with a validation split,
    the epoch of best validation accuracy, which ``run.keep_best`` keeps (``best_by`` says which split chose the
    kept epoch)."""
    final = history[-1]
    known = knows_true_labels(config.data.noise.kind)
    summary: dict[str, Any] = {
        "method": config.method.name,
        "loss": config.method.loss,
        "data": config.data.source,
        "model": config.model.name,
        "epochs": config.run.epochs,
        "start_epoch": phase_start_epoch(config),
        "seed": config.run.seed,
        "device": str(device),
        "noise": _noise_settings(config.data.noise, noisy.actual_noise_rate if known else None),
        "final_test_accuracy": final.get("test_accuracy"),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "best_by": "test" if best_val is None else "val",
        "final_train_loss": final.get("train_loss"),
        "wall_seconds": wall_seconds,
        "train_seconds": sum(row["epoch_seconds"] for row in history),
    }
    if best_val is not None:
        evaluated = [row for row in history if "val_accuracy" in row]
        summary["validation"] = {
            "size": len(noisy.val_index), "pick": config.data.val_pick,
            "final_loss": evaluated[-1]["val_loss"] if evaluated else None,
            "final_accuracy": evaluated[-1]["val_accuracy"] if evaluated else None,
            "final_clean_accuracy": evaluated[-1].get("val_clean_accuracy") if evaluated else None,
            "best_accuracy": best_val["val_accuracy"] if best_val["epoch"] else None,
            "best_epoch": best_val["epoch"],
            "test_accuracy_at_best_epoch": best_val["test_accuracy"],
        }
    targets = method.soft_targets
    if targets is not None:  # (its table covers the examples trained on, a validation split's aside)
        given = noisy.trained_labels
        refined, _ = targets.refined_labels()
        flagged = (refined.cpu() != given).numpy()
        if known:
            summary["label_issues"] = flag_statistics(flagged, (given != noisy.trained_clean_labels).numpy())
        else:
            summary["label_issues"] = {"flagged": int(flagged.sum()), "truly_wrong": None, "precision": None,
                                       "recall": None}
    return summary


def fit_timing(history: list[dict[str, Any]], *, setup_seconds: float, between_epochs_seconds: float,
               checkpoint_wait_seconds: float, finish_seconds: float, resumed: bool) -> dict[str, Any]:
    """Where a run's wall time went. The per-epoch sums cover every epoch in ``history``; the other parts cover the
    last process only (``resumed``: the run was resumed from a checkpoint, so earlier processes' parts are missing).

    ``setup_seconds``: from the call to the first epoch (data, model, optimizer, loaders on the device);
    ``between_epochs_seconds``: the loop's time outside the epochs (metrics files queued for writing, checkpoint
    snapshots, the wait for the last writes), of which ``checkpoint_wait_seconds`` for checkpoints;
    ``finish_seconds``: summary, plot, refined labels and target table written."""
    return {
        "setup_seconds": setup_seconds,
        "epochs_seconds": sum(row["epoch_seconds"] for row in history),
        "train_pass_seconds": sum(row.get("train_pass_seconds", 0.0) for row in history),
        "eval_seconds": sum(row.get("eval_seconds", 0.0) for row in history),
        "between_epochs_seconds": between_epochs_seconds,
        "checkpoint_wait_seconds": checkpoint_wait_seconds,
        "finish_seconds": finish_seconds,
        "resumed": resumed,
    }


def refined_label_rows(targets, given: torch.Tensor, *,
                       positions: np.ndarray | torch.Tensor | None = None) -> list[tuple[int, int, int, float, bool]]:
    """(index, given, refined, confidence, flagged) per row of ``targets``; ``positions``: each row's position in
    the training split, its index (default: the row's number)."""
    refined, confidence = targets.refined_labels()
    refined, confidence = refined.cpu().numpy(), confidence.cpu().numpy()
    given_np = given.cpu().numpy()
    where = range(len(given_np)) if positions is None else np.asarray(positions).tolist()
    return [(where[i], int(given_np[i]), int(refined[i]), float(confidence[i]), bool(refined[i] != given_np[i]))
            for i in range(len(given_np))]


def write_refined_labels(run_dir: Path, targets, given: torch.Tensor, *, class_names: list[str] | None = None,
                         origin: tuple[str, np.ndarray] | None = None,
                         positions: np.ndarray | torch.Tensor | None = None) -> None:
    """``refined_labels.csv`` (index, given_label, refined_label, confidence, flagged; with ``class_names`` the
    two classes' names, given_class and refined_class; with ``origin`` the example's place in the user's data,
    see :func:`satlearn.data.base.origin_column`) and ``soft_targets.npy``. ``positions``: where a validation
    split was held out, the training-split position of each row of ``targets`` (the index column, and the entry of
    ``origin``, which has one per example of the whole split)."""
    from satlearn.label_issues import extra_columns, extra_values

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["index", "given_label", "refined_label", "confidence", "flagged",
                     *extra_columns(("given_class", "refined_class"), class_names, origin)])
    for index, given_label, refined, confidence, flagged in refined_label_rows(targets, given, positions=positions):
        writer.writerow([index, given_label, refined, f"{confidence:.6f}", int(flagged),
                         *extra_values(index, (given_label, refined), class_names, origin)])
    atomic_write_text(run_dir / "refined_labels.csv", buffer.getvalue())
    table = targets.table().cpu().numpy()
    atomic_write_bytes(run_dir / "soft_targets.npy", lambda f: save_npy(f, table))


def history_counted_repr(result: Any) -> str:
    """The repr of the dataclass ``result`` with its ``history`` (a row an epoch) given as its length: what a
    notebook cell ending in ``fit(...)`` or ``compare_runs(...)`` shows, where every row of a 200-epoch run would be
    a page of numbers."""
    shown = (f"history=<{len(result.history)} epochs>" if field.name == "history"
             else f"{field.name}={getattr(result, field.name)!r}" for field in dataclasses.fields(result))
    return f"{type(result).__name__}({', '.join(shown)})"


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **subplots):
    """A figure and its ``nrows`` × ``ncols`` axes (as ``Figure.subplots`` returns them), whose lines take the
    :func:`palette`'s colours in turn, drawn by Agg outside pyplot: a script's or notebook's pyplot backend (an inline
    one, say) and its open figures are left as they are, and nothing is left open for pyplot to show or to close."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)  # the canvas sets itself on the figure: its renderer measures the legends
    axes = fig.subplots(nrows, ncols, **subplots)
    for ax in np.atleast_1d(axes).flat:  # the palette here, not in matplotlib's settings, which are the caller's
        ax.set_prop_cycle(color=palette())
    return fig, axes


def mark_epoch_axis(ax) -> None:
    """Labels ``ax``'s x axis as epochs, ticked at whole epochs: left to itself, matplotlib ticks a run of 20 epochs
    at 2.5, 7.5, ..., epochs no run has. One whole epoch in view is enough: by default the locator wants two, and
    an axis of one epoch's figures (a run after its first epoch) went back to ticks at 0.945, 0.96, ..."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


# the narrowest y range, in percentage points, of an axis of percentages: a run's targets' share of labels right, a
# float32, stands 0.0000015 points from the share of given labels right while the targets have not moved, and such a
# gap, left to matplotlib, filled the axes under ticks in millionths of a point
MIN_PERCENT_SPAN = 1.0


def fit_percent_axis(ax) -> None:
    """Limits the y axis of ``ax``, whose curves (all drawn by now) are percentages, to what percentages can be: no
    further beyond 0 % and 100 % than the margin matplotlib leaves beyond the data, too little for a tick (curves
    flat at 100 % were drawn under ticks up to 104 %), enough to keep a line there clear of the frame and of a legend
    in a corner; and at least :data:`MIN_PERCENT_SPAN` wide, so that figures equal to within rounding draw as one
    level."""
    low, high = ax.get_ylim()
    if high - low < MIN_PERCENT_SPAN:
        middle = (low + high) / 2
        low, high = middle - MIN_PERCENT_SPAN / 2, middle + MIN_PERCENT_SPAN / 2
    sliver = (high - low) / 20
    low, high = max(low, -sliver), min(high, 100 + sliver)
    if high - low < MIN_PERCENT_SPAN:  # cut at 0 % or at 100 %: widened away from it
        low, high = (high - MIN_PERCENT_SPAN, high) if high > 50 else (low, low + MIN_PERCENT_SPAN)
    ax.set_ylim(low, high)


def plain_text(text: str) -> str:
    """``text`` (a run's name, a title given) as matplotlib is to draw it, as written: it reads what stands between
    two `$` as TeX maths, so that "cost $5 per run, $3 per eval" lost its spaces to italics and "$\\frac{1}{2$" stopped
    the plot with a parser's traceback; a `\\$` it draws as a `$`."""
    return text.replace("$", r"\$")


def point_style(xs: list[Any], style: dict[str, Any] | None = None) -> dict[str, Any]:
    """How to draw a series of the epochs ``xs`` in ``style`` (``Axes.plot`` keywords, such as :func:`line_styles`
    gives): a line of one point draws nothing, so a lone point (the first evaluation of a run with
    ``run.eval_every`` > 1, a one-epoch run) is drawn as a marker, the style's own, at that point (a ``markevery``
    spaced along the axes would mark none on a line of no length)."""
    if len(xs) != 1:
        return dict(style or {})
    return {"marker": "o", **(style or {}), "markevery": None}


# the line colours of satlearn's figures: each at least 3:1 against white, the contrast WCAG asks of graphics (six of
# the ten of matplotlib's tableau-colorblind10, taken before, stand at 1.6 to 2.9:1: a figure's second, third, fifth
# and eighth to tenth runs were drawn faint on white), and each far from the others to normal sight and in
# simulations of protan, deutan and tritan colour blindness (matplotlib's default red and green are one colour to a
# red-green colour-blind reader). Blue, orange, grey, dark red, steel blue, violet, plum, dark green, tan,
# ultramarine: in that order the first runs of a figure get the colours furthest apart; the first two, a CE and a
# SAT run's in the demo, are tableau-colorblind10's blue and dark orange
PALETTE = ("#006BA4", "#C85200", "#6E6E6E", "#960A00", "#649BBE", "#966EFF", "#782D64", "#14553C", "#CD825F",
           "#2800F0")


def palette() -> list[str]:
    """The line colours of satlearn's figures (:data:`PALETTE`): ten colours that read on white, and that readers
    with the common kinds of colour blindness tell apart."""
    return list(PALETTE)


# a marker for each line of a figure of several runs, which tells them apart in greyscale too: one more than the
# palette has colours, so that past ten lines a colour comes back with a marker it has not had
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "*", "h")


def line_styles(count: int) -> list[dict[str, Any]]:
    """``count`` ways to draw a line (keywords for ``Axes.plot``), no two alike: the :func:`palette`'s colours in
    turn, each line with its own marker; past ten lines the colours come round again, each with another marker, up to
    110 lines. Markers go about a tenth of the axes apart (a curve of 200 epochs would be a row of them), each line's
    a little further along than the one before, so that lines on top of each other show both."""
    colours = palette()
    return [{"color": colours[i % len(colours)], "marker": MARKERS[i % len(MARKERS)], "markersize": 4,
             "markevery": (0.01 * (i % len(colours)), 0.1)} for i in range(count)]


# a legend of more entries than this, drawn inside its axes, covers the curves it names (a folder of runs scored)
LEGEND_ENTRIES_INSIDE = 10
# a figure of at most this many runs whose legends are not all asked below keeps them inside its axes, however many
# lines each run names
RUNS_WITH_LEGENDS_INSIDE = 10


def place_legends(fig, axes, *, runs: int, fontsize: float, loc: str = "best", below: bool = False,
                  title: str | None = None) -> bool:
    """Draws each of ``axes``' legends and lays ``fig`` out (``tight_layout``), for a figure of ``runs`` runs.
    ``below``: every legend goes below the figure, under its axes, where it can cover no curve (a legend inside,
    even at matplotlib's "best", sits on a curve where no corner is free of them). Else a legend goes inside its axes
    (at ``loc``) before the layout, which makes room for it, unless the figure has more than
    :data:`RUNS_WITH_LEGENDS_INSIDE` runs and the legend more than :data:`LEGEND_ENTRIES_INSIDE` entries, or the
    legend is wider than its axes once laid out (long run names: it reached out over the axes' tick labels and the
    curves beside them), and goes below then. A legend below is drawn once the figure is laid out without it (a
    layout made with it would warn that it cannot fit): in as many columns as fit the axes' width, so that the
    legends of axes side by side stay apart, and where even one column is wider, under the legends it would cover.
    ``title``: each legend's title, if any. Returns whether a legend went below, which ``savefig`` then takes in with
    ``bbox_inches="tight"``."""
    under = []
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles and (below or runs > RUNS_WITH_LEGENDS_INSIDE and len(handles) > LEGEND_ENTRIES_INSIDE):
            under.append(ax)
        elif handles:
            ax.legend(handles, labels, fontsize=fontsize, loc=loc, title=title)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    too_wide = [ax for ax in axes if ax.get_legend() is not None
                and ax.get_legend().get_window_extent(renderer).width > ax.get_window_extent(renderer).width]
    if too_wide:
        for ax in too_wide:
            ax.get_legend().remove()
        under = [ax for ax in axes if ax in under or ax in too_wide]
        fig.tight_layout()
    placed: list = []  # the extents of the legends below so far
    for ax in under:
        handles, labels = ax.get_legend_handles_labels()
        box = ax.get_position()
        centre = (box.x0 + box.x1) / 2
        legend = _legend_under(fig, ax, handles, labels, anchor=(centre, 0), fontsize=fontsize, title=title,
                               renderer=renderer)
        extent = legend.get_window_extent(renderer)
        if any(extent.overlaps(other) for other in placed):
            top = fig.transFigure.inverted().transform((0, min(other.y0 for other in placed)))[1]
            legend.set_bbox_to_anchor((centre, top), transform=fig.transFigure)
            extent = legend.get_window_extent(renderer)
        placed.append(extent)
    return bool(under)


def _legend_under(fig, ax, handles, labels, *, anchor: tuple[float, float], fontsize: float, title: str | None,
                  renderer):
    """``fig``'s legend of ``handles``, its top centre at ``anchor`` (figure coordinates), in as many columns as fit
    ``ax``'s width (one, where even one is wider). Columns lie further apart than a legend's frame is padded, so a
    legend of n columns is wider than n legends of one: the count that one column's width suggests is tried first,
    then fewer."""
    under = dict(fontsize=fontsize, loc="upper center", bbox_to_anchor=anchor, title=title)
    room = ax.get_window_extent(renderer).width
    one_column = fig.legend(handles, labels, **under)
    for columns in range(int(room // one_column.get_window_extent(renderer).width), 1, -1):
        legend = fig.legend(handles, labels, ncols=columns, **under)
        if legend.get_window_extent(renderer).width <= room:
            one_column.remove()
            return legend
        legend.remove()
    return one_column


# curves.png's colours, by place in the :func:`palette`: the curves against given labels (training, validation) in
# blues, those against clean labels (test, the validation split's clean accuracy) in orange and tan, the refined
# labels in the grey of the phase's line; in the palette's order, the validation curve would take that grey
CURVE_COLOURS = {"train": 0, "test": 1, "validation": 4, "validation (clean labels)": 8, "refined": 2, "phase": 2}


def kept_epoch(summary: dict[str, Any]) -> tuple[int, str]:
    """The epoch whose weights ``run.keep_best`` keeps and the split that picked it (``val``, ``test``), as a run's
    ``summary.json`` records them: ``validation.best_epoch`` where ``best_by`` is ``val``, else ``best_epoch`` (a
    summary written before ``best_by`` was kept is of a run picked on the test split)."""
    if summary.get("best_by") == "val":
        return summary["validation"]["best_epoch"], "val"
    return summary["best_epoch"], "test"


def kept_label(epoch: int, by: str) -> str:
    """The legend entry of the mark at the epoch a run keeps: "kept epoch 24 (best val acc)"."""
    return f"kept epoch {epoch} (best {by} acc)"


def mark_kept(ax, epoch: int, accuracy: float, *, color: str, label: str | None) -> None:
    """Rings the point (``epoch``, ``accuracy``) of the curve that picked the epoch a run keeps (``run.keep_best``),
    in that curve's colour: a hollow ring larger than any line's marker, which hides none of the curve under it."""
    ax.plot([epoch], [accuracy], linestyle="none", marker="o", markersize=11, markerfacecolor="none",
            markeredgecolor=color, markeredgewidth=2, label=label, zorder=3, clip_on=False)


def plot_curves(history: list[dict[str, Any]], path: Path, *, title: str = "",
                phase: tuple[int, str] | None = None, kept: tuple[int, str] | None = None) -> None:
    """Accuracy (train on given labels, test, and a validation split's where the run held one out) and loss against
    epoch, side by side, each with its legend below it. ``phase``: the 0-based epoch at
    which the run's second phase starts and its name (as :func:`run_phase` gives them), marked by a dotted line once
    the run has got there, as compare marks it. ``kept``: the epoch whose weights the run keeps and the split that
    picked it (as :func:`kept_epoch` gives them), ringed on that split's accuracy curve."""
    def percent(value):  # in percent, as compare's plot and the printed figures give accuracies
        return None if value is None else 100 * value

    colours = {name: palette()[index] for name, index in CURVE_COLOURS.items()}
    epochs = [row["epoch"] for row in history]
    fig, (ax_acc, ax_loss) = new_figure(1, 2, figsize=(10, 4))
    # a method of one's own need not report a training accuracy: no legend entry then for a curve with no points
    if any("train_accuracy" in row for row in history):
        ax_acc.plot(epochs, [percent(row.get("train_accuracy")) for row in history], label="train (given labels)",
                    color=colours["train"], **point_style(epochs))
    test_rows = [row for row in history if "test_accuracy" in row]
    test_epochs = [r["epoch"] for r in test_rows]
    ax_acc.plot(test_epochs, [percent(r["test_accuracy"]) for r in test_rows], label="test", color=colours["test"],
                **point_style(test_epochs))
    val_rows = [row for row in history if "val_accuracy" in row]  # a run with a validation split
    val_epochs = [r["epoch"] for r in val_rows]
    if val_rows:
        ax_acc.plot(val_epochs, [percent(r["val_accuracy"]) for r in val_rows], label="validation (given labels)",
                    color=colours["validation"], **point_style(val_epochs))
    if any("val_clean_accuracy" in r for r in val_rows):
        ax_acc.plot(val_epochs, [percent(r.get("val_clean_accuracy")) for r in val_rows],
                    label="validation (clean labels)", linestyle="-.", color=colours["validation (clean labels)"],
                    **point_style(val_epochs))
    if any("refined_label_accuracy" in row for row in history):
        ax_acc.plot(epochs, [percent(row.get("refined_label_accuracy")) for row in history],
                    label="refined labels vs clean", linestyle="--", color=colours["refined"], **point_style(epochs))
    picked = {row["epoch"]: row for row in (val_rows if kept and kept[1] == "val" else test_rows)}
    if kept is not None and kept[0] in picked:
        mark_kept(ax_acc, kept[0], percent(picked[kept[0]][f"{kept[1]}_accuracy"]), label=kept_label(*kept),
                  color=colours["validation" if kept[1] == "val" else "test"])
    mark_epoch_axis(ax_acc)
    fit_percent_axis(ax_acc)
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.grid(alpha=0.3)
    ax_loss.plot(epochs, [row.get("train_loss") for row in history], label="train", color=colours["train"],
                 **point_style(epochs))
    ax_loss.plot(test_epochs, [r["test_loss"] for r in test_rows], label="test", color=colours["test"],
                 **point_style(test_epochs))
    if val_rows:
        ax_loss.plot(val_epochs, [r["val_loss"] for r in val_rows], label="validation (given labels)",
                     color=colours["validation"], **point_style(val_epochs))
    mark_epoch_axis(ax_loss)
    ax_loss.set_ylabel("loss")
    if phase is not None and phase[0] + 1 <= epochs[-1]:  # epochs are 1-based in the metrics
        for ax in (ax_acc, ax_loss):
            ax.axvline(phase[0] + 1, color=colours["phase"], linestyle=":", linewidth=1,
                       label=f"start of {phase[1]}" if ax is ax_acc else None)
    ax_loss.grid(alpha=0.3)
    if title:
        fig.suptitle(plain_text(title))
    place_legends(fig, (ax_acc, ax_loss), runs=1, fontsize=8, below=True)  # and lays the figure out
    atomic_write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))


def write_outputs(run_dir: Path, config, history, summary, *, method, noisy) -> None:
    plot_curves(history, run_dir / "curves.png", title=curves_title(config, data=summary["data"]),
                phase=run_phase(config), kept=kept_epoch(summary) if config.run.keep_best else None)
    if method.soft_targets is not None:
        from satlearn.errors import DataError
        from satlearn.label_issues import read_origin

        # as the run kept it when it started, which find-issues reads too (a run started before it was kept has
        # none); a labels.npz damaged since must not keep a trained run from its outputs
        try:
            origin = read_origin(run_dir / "labels.npz")
        except DataError:
            origin = None
        write_refined_labels(run_dir, method.soft_targets, noisy.trained_labels, class_names=noisy.data.class_names,
                             origin=origin, positions=noisy.train_index)
