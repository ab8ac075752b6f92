"""Finding wrong labels from one SAT run.

SAT's accumulated target ``t_i`` starts at the given label and moves towards what the model predicts for example
``i`` over the epochs. Where it has moved away from the given label, that label is probably wrong. Scores:

- ``score_i = 1 − t_{i,y_i}``: how much of the target's mass has left the given label (the ranking);
- ``margin_i = max_{j≠y_i} t_ij − t_{i,y_i}``: how far the best other class is ahead of the given label.

Default flag rule: ``margin_i > 0`` — another class holds more of the target than the given label, i.e. the
refined label differs from the given one. ``num_issues`` (top K by score), ``fraction`` (top fraction of N) or
``margin_threshold`` replace it. The suggested label is the target's argmax (ties go to the given label).
"""

from __future__ import annotations

import csv
import io
import numbers
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS, origin_column, printable
from satlearn.data.noise import knows_true_labels
from satlearn.errors import ConfigError, ConfigTypeError, DataError, not_a_directory
from satlearn.label_issue_examples import DEFAULT_EXAMPLES
from satlearn.paths import pasteable_path, user_path

if TYPE_CHECKING:
    from satlearn.engine.checkpoint import FilesWrittenTogether


def extra_columns(name_columns: tuple[str, str], class_names: list[str] | None,
                  origin: tuple[str, np.ndarray] | None) -> list[str]:
    """The columns a per-example CSV adds to its class indices: the two classes' names (with ``class_names``) and
    the example's place in the user's data (with ``origin``, see :func:`satlearn.data.base.origin_column`)."""
    return [*(name_columns if class_names is not None else ()), *((origin[0],) if origin is not None else ())]


def extra_values(index: int, labels: tuple[int, int], class_names: list[str] | None,
                 origin: tuple[str, np.ndarray] | None) -> list:
    """Example ``index``'s values of :func:`extra_columns`, for its two class indices ``labels``."""
    return [*((class_names[label] for label in labels) if class_names is not None else ()),
            *((origin[1][index],) if origin is not None else ())]


def read_origin(labels_path: Path) -> tuple[str, np.ndarray] | None:
    """The origin column a run's ``labels.npz`` keeps (see :func:`satlearn.data.base.origin_column`)."""
    try:
        with np.load(labels_path, allow_pickle=False) as archive:
            return _printable_origin(origin_column(archive))
    except (ValueError, KeyError, *DAMAGED_ARCHIVE_ERRORS) as exc:
        raise DataError(f"{labels_path}: cannot read it ({type(exc).__name__}: {exc})") from None


def _printable_origin(origin: tuple[str, np.ndarray] | None) -> tuple[str, np.ndarray] | None:
    if origin is not None and origin[1].dtype.kind == "U":  # names kept before they were made printable
        origin = (origin[0], np.array([printable(name) for name in origin[1]]))
    return origin


@dataclass
class LabelIssues:
    """Per-example results, all of length N (rows in training-set order)."""

    given_labels: np.ndarray  # (N,) int64
    suggested_labels: np.ndarray  # (N,) int64
    scores: np.ndarray  # (N,) 1 − t_{i,given}; higher = more likely wrong
    margins: np.ndarray  # (N,) best other class minus given label
    flagged: np.ndarray  # (N,) bool
    ranks: np.ndarray  # (N,) 1 = most likely wrong
    probs: np.ndarray  # (N, C) the soft targets
    # (N,) each row's position in the training split, where that is not the row's number: a run that held out a
    # validation split has targets for the other examples only
    index: np.ndarray | None = None

    def positions(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The training-split positions of ``rows`` (default: of every row), as the CSV's ``index`` gives them."""
        rows = np.arange(len(self.given_labels)) if rows is None else np.asarray(rows)
        return rows if self.index is None else self.index[rows]

    @property
    def ranked_indices(self) -> np.ndarray:
        """Indices of the flagged examples, most likely wrong first (cleanlab's ``return_indices_ranked_by``)."""
        order = np.argsort(self.ranks, kind="stable")
        return order[self.flagged[order]]

    @property
    def num_flagged(self) -> int:
        return int(self.flagged.sum())

    def _check_names(self, class_names: list[str] | None) -> None:
        if class_names is not None and len(class_names) != self.probs.shape[1]:
            raise DataError(f"{len(class_names)} class_names for the {self.probs.shape[1]} classes of the soft "
                            "targets")

    def _check_per_example(self, *, true_labels: Any = None, origin: tuple[str, np.ndarray] | None = None) -> None:
        if true_labels is not None and np.shape(true_labels) != self.given_labels.shape:
            raise DataError(f"true_labels of shape {np.shape(true_labels)}; expected {self.given_labels.shape}, one "
                            "per example")
        if origin is not None and len(origin[1]) != len(self.given_labels):
            raise DataError(f"origin holds {len(origin[1])} entries for {len(self.given_labels)} examples")

    def to_csv(self, *, class_names: list[str] | None = None, origin: tuple[str, np.ndarray] | None = None) -> str:
        """The CSV as text, written nowhere (:func:`write_label_issues` writes the files). One row per example:
        ``index`` (position in the training set, a held-out validation split's examples counted too),
        ``given_label`` and ``suggested_label`` (class indices), ``score``, ``flagged``, ``rank``; with
        ``class_names``, the two classes' names (``given_class``, ``suggested_class``); with ``origin`` (a run's
        :func:`satlearn.data.base.origin_column`, one entry per row), the example's place in the user's data
        (``source_row`` or ``file``)."""
        self._check_names(class_names)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["index", "given_label", "suggested_label", "score", "flagged", "rank",
                         *extra_columns(("given_class", "suggested_class"), class_names, origin)])
        positions = self.positions()
        for i in range(len(self.given_labels)):
            given, suggested = int(self.given_labels[i]), int(self.suggested_labels[i])
            writer.writerow([int(positions[i]), given, suggested, f"{self.scores[i]:.6f}", int(self.flagged[i]),
                             int(self.ranks[i]), *extra_values(i, (given, suggested), class_names, origin)])
        return buffer.getvalue()

    def summary(self, class_names: list[str] | None = None, *, top_pairs: int = 10) -> dict[str, Any]:
        """Counts: flagged in all, per given class, and the most frequent (given → suggested) pairs.

        A label flagged by count (``num_issues``, ``fraction``) may still hold the most target mass; it then
        suggests no other class and is counted as flagged but in no pair."""
        num_classes = self.probs.shape[1]
        self._check_names(class_names)
        names = class_names or [str(c) for c in range(num_classes)]
        flagged_given = self.given_labels[self.flagged]
        flagged_suggested = self.suggested_labels[self.flagged]
        per_class = np.bincount(flagged_given, minlength=num_classes)
        moved = flagged_given != flagged_suggested
        pairs = Counter(zip(flagged_given[moved].tolist(), flagged_suggested[moved].tolist())).most_common(top_pairs)
        return {
            "num_examples": int(len(self.given_labels)),
            "num_flagged": self.num_flagged,
            "fraction_flagged": self.num_flagged / max(len(self.given_labels), 1),
            "flagged_per_given_class": {names[c]: int(per_class[c]) for c in range(num_classes)},
            "flagged_keeping_given_label": int((~moved).sum()),
            "most_confused_pairs": [{"given": names[g], "suggested": names[s], "count": n} for (g, s), n in pairs],
        }


def _validate(labels: np.ndarray, probs: np.ndarray) -> None:
    if probs.ndim != 2:
        raise DataError(f"soft targets must be an (N, C) array, got shape {probs.shape}")
    if labels.ndim != 1 or len(labels) != len(probs):
        raise DataError(f"labels have shape {labels.shape} but the soft targets cover {len(probs)} examples")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be integers, got {labels.dtype}")
    bad = (labels < 0) | (labels >= probs.shape[1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"label {int(labels[i])} at index {i} is outside [0, {probs.shape[1]})")
    sums = probs.sum(axis=1)
    bad_rows = ~np.isfinite(probs).all(axis=1) | (probs < -1e-6).any(axis=1) | ~np.isclose(sums, 1.0, rtol=0, atol=1e-2)
    if bad_rows.any():  # the first such row and what is wrong with it, as the labels' check names its label
        i = int(np.flatnonzero(bad_rows)[0])
        row = probs[i]
        problem = ("holds a non-finite value" if not np.isfinite(row).all() else
                   f"holds a negative value {row.min():.4g}" if (row < -1e-6).any() else f"sums to {sums[i]:.4g}")
        raise DataError(f"soft targets row {i} {problem} ({int(bad_rows.sum())} of {len(probs)} rows are not "
                        "probability vectors); expected finite rows ≥ 0 summing to 1 (softmax outputs, not logits)")


def _as_number(name: str, value: Any) -> Any:
    """``value`` as a plain number (a 0-d array is one), or None; anything else, a bool included, is a
    :class:`ConfigTypeError` (also a ``TypeError``)."""
    if value is None:
        return None
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # a 0-d numpy array or tensor
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigTypeError(f"{name}={value!r}; expected a number")
    return value


def find_label_issues(labels: Any, soft_targets: Any, *, num_issues: int | None = None,
                      fraction: float | None = None, margin_threshold: float | None = None,
                      index: Any = None) -> LabelIssues:
    """Scores, ranks and flags the labels that SAT's targets moved away from.

    Args:
        labels: ``(N,)`` given labels in ``[0, C)``.
        soft_targets: ``(N, C)`` accumulated targets (numpy array, tensor, or a :class:`satlearn.targets.SoftTargets`).
        num_issues: flag exactly the K highest-scoring examples.
        fraction: flag the top ``round(fraction * N)`` examples.
        margin_threshold: flag examples whose margin exceeds this value (default rule: ``0``).
        index: ``(N,)`` each row's position in the training split, where that is not its number (a run's
            :attr:`RunTargets.positions`); the CSV's ``index`` and the ranked indices give these.
    Only one of ``num_issues``, ``fraction`` and ``margin_threshold`` may be given; one that is not a number is a
    :class:`ConfigTypeError` (also a ``TypeError``), one out of range a :class:`ConfigError`, and labels or targets
    that do not fit together a :class:`DataError`.
    """
    from satlearn.targets import SoftTargets

    if isinstance(soft_targets, SoftTargets):
        soft_targets = soft_targets.table().cpu().numpy()
    # always a copy of our own: the best other class is found in place below, never in the caller's data; a tensor
    # read in float64 as a NumPy array is, so that a float64 tensor is not rounded to float32 first (a margin of 1e-9
    # would become a tie, and the two inputs flag different labels)
    probs = np.array(soft_targets.detach().cpu().double().numpy() if hasattr(soft_targets, "detach") else soft_targets,
                     dtype=np.float64)
    labels = np.asarray(labels.cpu().numpy() if hasattr(labels, "cpu") else labels)
    _validate(labels, probs)
    labels = labels.astype(np.int64)
    if index is not None:
        index = np.asarray(index)
        if index.shape != labels.shape or not np.issubdtype(index.dtype, np.integer):
            raise DataError(f"index of {index.dtype} of shape {index.shape}; expected {labels.shape} integer "
                            "positions, one per label")
        index = index.astype(np.int64)
    chosen = [name for name, v in (("num_issues", num_issues), ("fraction", fraction),
                                   ("margin_threshold", margin_threshold)) if v is not None]
    if len(chosen) > 1:
        raise ConfigError(f"give at most one of num_issues, fraction, margin_threshold (got {', '.join(chosen)})")
    num_issues, fraction, margin_threshold = (_as_number(name, value) for name, value in (
        ("num_issues", num_issues), ("fraction", fraction), ("margin_threshold", margin_threshold)))
    if margin_threshold is not None and not -1.0 <= margin_threshold <= 1.0:  # also refuses nan, which flags nothing
        raise ConfigError(f"margin_threshold={margin_threshold}: expected a margin in [-1, 1]")
    if num_issues is not None and not float(num_issues).is_integer():  # (3.0 is fine; nan and inf are not)
        raise ConfigError(f"num_issues={num_issues!r} must be a whole number of examples")

    n = len(labels)
    rows = np.arange(n)
    given_mass = probs[rows, labels]  # (a copy: fancy indexing)
    # the best other class, with the given one masked in place and put back: no second (N, C) array
    probs[rows, labels] = -np.inf
    best_other = probs.argmax(axis=1)
    margins = probs[rows, best_other] - given_mass
    probs[rows, labels] = given_mass
    scores = 1.0 - given_mass
    suggested = np.where(margins > 0, best_other, labels)

    # most likely wrong first: higher score, then larger margin, then lower index
    order = np.lexsort((rows, -margins, -scores))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)

    if num_issues is not None or fraction is not None:
        if fraction is not None:
            if not 0.0 <= fraction <= 1.0:
                raise ConfigError(f"fraction={fraction} must lie in [0, 1]")
            num_issues = int(round(fraction * n))
        if not 0 <= num_issues <= n:
            raise ConfigError(f"num_issues={num_issues} must lie in [0, {n}]")
        flagged = ranks <= num_issues
    else:
        flagged = margins > (0.0 if margin_threshold is None else margin_threshold)
    return LabelIssues(given_labels=labels, suggested_labels=suggested.astype(np.int64), scores=scores,
                       margins=margins, flagged=flagged, ranks=ranks, probs=probs, index=index)


@dataclass
class RunTargets:
    """What a finished SAT (or selective SAT) run directory says about its labels, per example trained on: all N
    of the training split, or, where the run held out a validation split, the others (``positions``)."""

    labels: np.ndarray  # (N,) labels the learner was given
    soft_targets: np.ndarray  # (N, C)
    true_labels: np.ndarray | None  # (N,) when the run added noise to the source's labels, else None
    class_names: list[str] | None
    # (column, (N,) values): each example's place in the user's data (source_row or file); None where the
    # training order is the source's own, or for a run saved before it was kept
    origin: tuple[str, np.ndarray] | None = None
    # (N,) each example's position in the training split (labels.npz's train_index), where the run held out a
    # validation split; None where the examples are the whole split, in its order
    positions: np.ndarray | None = None


# where a finished run's summary.json keeps the settings read here (see satlearn.engine.reporting.summarize)
_SUMMARY_KEYS = {("method", "name"): ("method",), ("data", "noise", "kind"): ("noise", "kind")}


def _setting_in(values: Any, keys: tuple[str, ...] | None):
    """``values[keys[0]][keys[1]]...``, or None where ``values`` holds no such setting."""
    try:
        for key in keys:
            values = values[key]
        return values
    except (KeyError, TypeError):  # TypeError: no values (None), or no keys
        return None


def _read_config_file(run_dir: Path) -> dict[str, Any] | None:
    """A run's ``config.yaml`` as compare reads it, or None where it is gone or cannot be read (not UTF-8, not YAML
    that satlearn takes, not a mapping of sections, a key no config holds, a value of the wrong type)."""
    from satlearn.config import to_dict
    from satlearn.engine.checkpoint import saved_config
    from satlearn.errors import ConfigError

    try:
        config = saved_config(run_dir)
    except ConfigError:
        return None
    return None if config is None else to_dict(config)


def _read_json_file(path: Path) -> Any:
    """A JSON file's content, or None where it cannot be read (gone, not UTF-8, not JSON)."""
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_kept_config(run_dir: Path) -> dict[str, Any] | None:
    """The config a run's checkpoint keeps, or None where there is no readable checkpoint."""
    from satlearn.engine.checkpoint import kept_config
    from satlearn.errors import TrainingError

    try:
        return kept_config(run_dir)
    except TrainingError:
        return None


def _run_setting(run_dir: Path, *keys: str):
    """A setting of a run's config (say ``"data", "noise", "kind"``): its ``config.yaml``'s; where that file is
    gone or cannot be read (not YAML, a key given twice, a key no config holds), what its ``summary.json`` or else
    its checkpoint keeps; None where none of them can be read."""
    config = _read_config_file(run_dir)
    if config is not None:  # a damaged file is no config: the run's other files still know its settings
        return _setting_in(config, keys)
    from_summary = _setting_in(_read_json_file(run_dir / "summary.json"), _SUMMARY_KEYS.get(keys))
    if from_summary is not None:
        return from_summary
    return _setting_in(_read_kept_config(run_dir), keys)  # an unfinished run's, or one whose summary is damaged


def _targets_missing(run_dir: Path, method: str, *, finished: bool) -> str:
    """Why a run of a method that keeps soft targets has no ``soft_targets.npy``: a run writes it once it has
    trained all its epochs (before its ``summary.json``; ``finished``: whether that was there before the targets
    were looked for)."""
    if finished:
        return (f"{run_dir}: no soft_targets.npy — the finished {method} run wrote one, which is gone since; "
                f"satlearn train --resume {pasteable_path(run_dir)} writes it again from the run's checkpoint")
    # (one still training, in another terminal say, is not resumed: train --resume would be refused while it trains)
    return (f"{run_dir}: no soft_targets.npy yet — an unfinished {method} run, which writes them once it has trained "
            f"all its epochs; wait for it to finish, or, if it was stopped, resume it (satlearn train --resume "
            f"{pasteable_path(run_dir)})")


# the first bytes np.save and np.savez write
_NUMPY_FILE_STARTS = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _load_run_array(path: Path):
    """A run's ``soft_targets.npy`` or ``labels.npz``, a DataError naming the file where it cannot be read."""
    expected_start = _NUMPY_FILE_STARTS[path.suffix]
    try:
        with open(path, "rb") as f:
            loaded = np.load(path, allow_pickle=False) if f.read(len(expected_start)) == expected_start else None
    except (ValueError, *DAMAGED_ARCHIVE_ERRORS) as exc:
        raise DataError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from None
    if loaded is None:  # np.load reads any other start as a pickle, and its error speaks of pickled data, allow_pickle
        raise DataError(f"{path}: not a {path.suffix} file as numpy writes it; the run's file was damaged or replaced")
    return loaded


def load_run_targets(run_dir: str | Path) -> RunTargets:
    """Reads ``soft_targets.npy``, ``labels.npz`` and ``config.yaml`` of a finished SAT (or selective SAT) run
    directory; where ``config.yaml`` is gone or cannot be read, its ``summary.json`` (else its checkpoint) tells the
    run's noise."""
    run_dir = user_path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: {not_a_directory(run_dir, 'run directory')}")
    targets_path, labels_path = run_dir / "soft_targets.npy", run_dir / "labels.npz"
    # looked at before the targets, which a run writes before its summary: a run seen finishing at this moment
    # (find-issues in a second terminal) is not taken for a finished run whose targets are gone
    finished = (run_dir / "summary.json").exists()
    if not targets_path.exists() and not labels_path.exists() and not (run_dir / "config.yaml").exists():
        from satlearn.engine.checkpoint import runs_held

        # a folder of runs, say (compare takes those, find-issues one run): named by the runs it could read
        held = runs_held(run_dir, usable=targets_path.name)
        if held:
            raise DataError(f"{run_dir}: {held}")
        from satlearn.engine.trainer import started_elsewhere

        raise DataError(started_elsewhere(run_dir) or f"{run_dir}: not a satlearn run directory (no labels.npz, "
                        "config.yaml or soft_targets.npy); expected one run's directory")
    if not targets_path.exists():
        from satlearn.methods import methods_with_soft_targets

        method, with_targets = _run_setting(run_dir, "method", "name"), methods_with_soft_targets()
        if isinstance(method, str) and method not in with_targets:
            raise DataError(f"{run_dir}: trained with method.name={method}, which keeps no soft targets "
                            f"({' and '.join(with_targets)} do)")
        if isinstance(method, str):  # a method that keeps them: a run that has not written them, or lost them
            raise DataError(_targets_missing(run_dir, method, finished=finished))
        raise DataError(f"{run_dir}: no soft_targets.npy — the run is unfinished or was not trained with a method "
                        f"that keeps soft targets (method.name={' or '.join(with_targets)})")
    if not labels_path.exists():
        raise DataError(f"{run_dir}: no labels.npz — not a satlearn run directory")
    probs, archive = _load_run_array(targets_path), _load_run_array(labels_path)
    try:
        with archive:
            labels, clean = archive["labels"], archive["clean_labels"]
            names = [printable(str(n)) for n in archive["class_names"]] if "class_names" in archive.files else None
            origin = _printable_origin(origin_column(archive))
            positions = archive["train_index"] if "train_index" in archive.files else None
    except (ValueError, KeyError, *DAMAGED_ARCHIVE_ERRORS) as exc:  # the archive's arrays are read lazily
        raise DataError(f"{labels_path}: cannot read it ({type(exc).__name__}: {exc})") from None
    if origin is not None and len(origin[1]) != len(labels):
        raise DataError(f"{run_dir}: labels.npz has {len(origin[1])} {origin[0]} entries for {len(labels)} labels")
    if positions is not None:  # a validation split held out: the targets cover the examples trained on
        if positions.ndim != 1 or not np.issubdtype(positions.dtype, np.integer) or \
                (len(positions) and (positions.min() < 0 or positions.max() >= len(labels))):
            raise DataError(f"{labels_path}: its train_index is not positions among its {len(labels)} labels")
        labels, clean = labels[positions], clean[positions]
        origin = None if origin is None else (origin[0], origin[1][positions])
    if len(probs) != len(labels):
        held = " trained on (the rest are the validation split)" if positions is not None else ""
        raise DataError(f"{run_dir}: soft_targets.npy has {len(probs)} rows but labels.npz {len(labels)} "
                        f"labels{held}")
    noise_kind = _run_setting(run_dir, "data", "noise", "kind")
    return RunTargets(labels=labels, soft_targets=probs, class_names=names, origin=origin, positions=positions,
                      true_labels=clean if knows_true_labels(noise_kind) else None)


def plot_precision_recall(issues: LabelIssues, truly_wrong: np.ndarray, path: Path, *,
                          files: FilesWrittenTogether | None = None) -> None:
    """Precision–recall curve of the score ranking, with the flagged set marked, the legend below the axes.
    ``files``: the set of files it is written with (:func:`write_label_issues`'); by default it is written alone."""
    from satlearn.engine.checkpoint import atomic_write_bytes
    from satlearn.engine.reporting import new_figure, palette, place_legends
    from satlearn.evaluation.detection import (
        average_precision, format_measure, precision_recall_curve, precision_recall_f1,
    )

    precision, recall, _ = precision_recall_curve(issues.scores, truly_wrong)
    flagged = precision_recall_f1(issues.flagged, truly_wrong)
    fig, ax = new_figure(figsize=(5.5, 4.5))
    ax.step(recall, precision, where="post",
            label=f"ranking by score (AP {format_measure(average_precision(issues.scores, truly_wrong))})")
    # a flagged set with no precision (nothing flagged) or recall (nothing wrong) has no point, and no legend entry,
    # whose marker would stand for one: the legend's title says so
    defined = flagged["precision"] is not None and flagged["recall"] is not None
    if defined:
        ax.scatter([flagged["recall"]], [flagged["precision"]], color=palette()[1], marker="D", zorder=3,
                   label=f"flagged: {flagged['flagged']} (F1 {format_measure(flagged['f1'])})")
    ax.set_xlabel("recall (share of wrong labels found)")
    ax.set_ylabel("precision (share of flagged that are wrong)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("Label issues against the known true labels")
    # below the axes: in their lower left corner, the legend covered the curve of a poor ranking, whose precision
    # stays low, near the share of labels that are wrong
    place_legends(fig, (ax,), runs=1, fontsize=10, below=True,
                  title=None if defined else "nothing flagged" if flagged["flagged"] == 0
                  else f"flagged: {flagged['flagged']}, of no wrong labels")  # and lays the figure out
    write = files.write_bytes if files is not None else atomic_write_bytes
    write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))


def write_label_issues(issues: LabelIssues, out_dir: str | Path, *, true_labels: np.ndarray | None = None,
                       class_names: list[str] | None = None,
                       origin: tuple[str, np.ndarray] | None = None, inputs: Any = None,
                       examples: int = DEFAULT_EXAMPLES, mean: Any = None, std: Any = None) -> dict[str, Any]:
    """Writes the CSV, cleanlab-style arrays, a summary JSON, (with ``true_labels``) a precision–recall PNG and
    (with ``inputs``) a picture of the flagged examples. ``class_names`` and ``origin`` (see
    :meth:`LabelIssues.to_csv`) add columns to the CSV.

    Files: ``label_issues.csv``, ``label_issues_mask.npy`` (bool N), ``label_issues_ranked.npy`` (flagged indices,
    most likely wrong first, as the CSV's ``index`` gives them), ``pred_probs.npy`` (N × C),
    ``label_issues_summary.json``, ``label_issues_pr.png``, ``label_issues_examples.png``. The mask and the
    probabilities have a row per row of ``issues`` (where it has an ``index``, that row's example is at that position
    of the training split).
    Without a curve to draw (no ``true_labels``, or none or all of them wrong), a ``label_issues_pr.png`` already in
    ``out_dir`` is removed. ``inputs``, ``mean``, ``std``: the whole training split's inputs, as
    :func:`satlearn.label_issue_examples.plot_label_issue_examples` takes them, which draws the ``examples``
    flagged examples most likely wrong (in [0, 100]) into ``label_issues_examples.png``; without a picture (no
    ``inputs``, ``examples`` 0, nothing flagged) one already in ``out_dir`` is removed. The files are written
    together: a failure or an interrupt before all are written leaves those of an earlier call as they were. Returns
    the summary; with ``true_labels`` its ``against_true_labels`` is
    :func:`satlearn.evaluation.detection.detection_report`'s, None (null in the JSON) where a measure is undefined.
    """
    from satlearn.engine.checkpoint import FilesWrittenTogether, make_output_dir, save_npy
    from satlearn.engine.reporting import to_json
    from satlearn.evaluation.detection import detection_report
    from satlearn.label_issue_examples import EXAMPLES_NAME, checked_count, plot_label_issue_examples

    examples = checked_count(examples, name="examples")

    issues._check_per_example(true_labels=true_labels, origin=origin)
    issues._check_names(class_names)
    out_dir = make_output_dir(out_dir)
    plot_path = out_dir / "label_issues_pr.png"
    truly_wrong = None if true_labels is None else np.asarray(true_labels) != issues.given_labels
    drawn = truly_wrong is not None and truly_wrong.any() and not truly_wrong.all()
    # all of them, or (stopped, a full disk) none: an earlier call's files beside these would read as theirs; and
    # all of this call's, not some of another find-issues writing here at the same time (the summary, last, marks
    # them whole)
    with FilesWrittenTogether(folder=out_dir) as files:
        files.write_text(out_dir / "label_issues.csv", issues.to_csv(class_names=class_names, origin=origin))
        for name, array in (("label_issues_mask.npy", issues.flagged),
                            ("label_issues_ranked.npy", issues.positions(issues.ranked_indices)),
                            ("pred_probs.npy", issues.probs.astype(np.float32))):
            files.write_bytes(out_dir / name, lambda f, a=array: save_npy(f, a))
        summary = issues.summary(class_names)
        if truly_wrong is not None:
            summary["against_true_labels"] = detection_report(issues.scores, issues.flagged, truly_wrong)
        if drawn:
            plot_precision_recall(issues, truly_wrong, plot_path, files=files)
        else:  # an earlier call's plot in this folder would stand beside these files as theirs
            files.remove(plot_path)
        pictured = inputs is not None and plot_label_issue_examples(
            issues, inputs, out_dir / EXAMPLES_NAME, count=examples, class_names=class_names,
            true_labels=true_labels, origin=origin, mean=mean, std=std, files=files)
        if not pictured:  # as for the plot: an earlier call's picture would be taken for these labels'
            files.remove(out_dir / EXAMPLES_NAME)
        files.write_text(out_dir / "label_issues_summary.json", to_json(summary))
    return summary
