"""Runs side by side: a table of their results and one plot of their learning curves (``satlearn compare``).

Works on finished runs and on runs still training or interrupted (their latest epoch is shown), from the files
every run writes: ``metrics.jsonl`` (one row per epoch), ``config.yaml`` and, once finished, ``summary.json``; where
``config.yaml`` is gone or cannot be read, a finished run's ``summary.json`` and an unfinished run's checkpoint tell
what it holds.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS
from satlearn.data.noise import knows_true_labels
from satlearn.config import Config, to_dict
from satlearn.engine.checkpoint import (
    BEST_NAME, CHECKPOINT_NAME, FilesWrittenTogether, common_parent, kept_config, make_output_dir, output_file,
    saved_config,
)
from satlearn.engine.reporting import (
    fit_percent_axis, history_counted_repr, kept_epoch, kept_label, line_styles, mark_epoch_axis, mark_kept, new_figure,
    place_legends, plain_text, point_style,
)
from satlearn.engine.trainer import RESUME_FREE_KEYS, config_differences
from satlearn.errors import ConfigError, DataError, TrainingError, not_a_directory
from satlearn.paths import literal_path, user_path


class NotEvaluatedYet(DataError):
    """A run that has trained but not yet been evaluated (``run.eval_every`` > 1): nothing to draw or tabulate."""


@dataclass
class RunCurves:
    """One run's per-epoch metrics and what the table and plot need to know about it."""

    name: str
    run_dir: Path
    method: str
    history: list[dict[str, Any]]
    epochs: int | None  # planned epochs
    start_epoch: int | None  # 0-based epoch at which the method's second phase (soft targets, the gamblers loss)
    # starts; None: the method has no such phase
    summary: dict[str, Any] | None  # None while the run has not finished
    actual_noise_rate: float | None = None  # share of training labels that differ from the clean ones, when known
    phase_name: str = "soft targets"  # what starts at start_epoch, in the method's words (SAT, the gamblers loss)
    # the noise rate of the labels trained on, where a validation split leaves some out (the targets cover those
    # alone); None: actual_noise_rate's, every training label being trained on
    trained_noise_rate: float | None = None
    keeps_best: bool = False  # run.keep_best: the run keeps its best epoch's weights (best_model.pt)
    # its settings, from config.yaml or, where compare reads that from the checkpoint, the checkpoint's; None where
    # only the summary tells them (which makes a run a seed of no other: :func:`group_runs`)
    config: Config | None = field(default=None, repr=False)

    @property
    def last_epoch(self) -> int:
        """The last epoch the run has trained."""
        return self.history[-1]["epoch"]

    @property
    def test_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.history if "test_accuracy" in row]

    @property
    def val_rows(self) -> list[dict[str, Any]]:
        """The evaluated epochs' rows of a run that holds out a validation split (``data.val_size``); none else."""
        return [row for row in self.history if "val_accuracy" in row]

    @property
    def validation_pick(self) -> dict[str, Any] | None:
        """The epoch of best validation accuracy (given labels), the one a user picks without the test split, with
        its ``val_accuracy`` and ``test_accuracy``: a finished run's ``summary.json`` says which, an unfinished
        run's best so far is the first of its best (as the run keeps it); None for a run without a split."""
        validation = (self.summary or {}).get("validation") or {}
        if validation.get("best_epoch"):
            return {"epoch": validation["best_epoch"], "val_accuracy": validation["best_accuracy"],
                    "test_accuracy": validation["test_accuracy_at_best_epoch"]}
        rows = self.val_rows
        return max(rows, key=lambda row: row["val_accuracy"]) if rows else None

    @property
    def kept_epoch(self) -> tuple[int, str] | None:
        """The epoch whose weights the run keeps (``run.keep_best``) and the split that picked it (``val``,
        ``test``): as a finished run's ``summary.json`` says, the first best so far for one still training (as the run
        keeps it); None for a run that keeps none."""
        if not self.keeps_best:
            return None
        if self.summary is not None:
            return kept_epoch(self.summary)
        by = "val" if self.val_rows else "test"
        return max(self.val_rows or self.test_rows, key=lambda row: row[f"{by}_accuracy"])["epoch"], by

    def __repr__(self) -> str:
        return history_counted_repr(self)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``; a row that is not JSON is a :class:`DataError` naming its line."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (was the file overwritten?)") from None
    history = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{path}: line {number} is not JSON") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {number} is {type(row).__name__} JSON; expected an object per epoch")
        history.append(row)
    return history


def first_soft_target_epoch(history: list[dict[str, Any]]) -> int | None:
    """The first (1-based) epoch trained on soft targets: the first that reports a training confidence."""
    return next((row["epoch"] for row in history if "train_confidence" in row), None)


def read_run(run_dir: str | Path, *, name: str | None = None) -> RunCurves:
    """Reads ``run_dir``; raises :class:`DataError` naming the file when it is not a readable satlearn run."""
    run_dir = user_path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: {not_a_directory(run_dir, 'run directory')}")
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        if all((run_dir / name).exists() for name in ("config.yaml", "labels.npz")):  # a started run's first files
            raise DataError(f"{run_dir}: no epoch finished yet (no metrics.jsonl)")
        from satlearn.engine.trainer import started_elsewhere

        raise DataError(started_elsewhere(run_dir) or _runs_deeper(run_dir)
                        or f"{run_dir}: no metrics.jsonl — not a satlearn run directory")
    history = read_metrics(metrics)
    if not any("test_accuracy" in row for row in history):
        raise NotEvaluatedYet(f"{metrics}: no evaluated epoch yet")
    summary_file = run_dir / "summary.json"
    try:
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    except ValueError:
        raise DataError(f"{summary_file}: not JSON (was the run's writing cut off?)") from None
    try:
        config, unreadable = saved_config(run_dir), None
    except ConfigError as exc:  # a damaged config.yaml is no config: the run's other files still tell its settings
        config, unreadable = None, exc
    if config is None and summary is not None:  # results copied without a readable config: what they tell
        method, epochs, noise_kind = summary["method"], summary["epochs"], summary["noise"]["kind"]
        start_epoch = _summary_start_epoch(summary, history, summary_file)
    else:
        if config is None:
            config = _checkpoint_config(run_dir, unreadable)
        method, epochs, noise_kind = config.method.name, config.run.epochs, config.data.noise.kind
        start_epoch = config.method.start_epoch if _phase_of(method) else None
    phase = _phase_of(method)
    held_out = any("val_accuracy" in row for row in history)
    # (a run whose config is gone: the weights it kept tell)
    keeps_best = config.run.keep_best if config is not None else (run_dir / BEST_NAME).exists()
    return RunCurves(name=name or run_dir.name, run_dir=run_dir, method=method, history=history, epochs=epochs,
                     start_epoch=start_epoch, summary=summary,
                     actual_noise_rate=_actual_noise_rate(run_dir, noise_kind, summary),
                     trained_noise_rate=_trained_noise_rate(run_dir, noise_kind) if held_out else None,
                     config=config,
                     keeps_best=keeps_best,
                     **({"phase_name": phase} if phase else {}))


def _runs_deeper(folder: Path) -> str | None:
    """What :func:`read_run` says of a folder that holds no run, neither itself nor right inside it, but whose own
    folders do (a sweep named ``sweep/a0.6/s0``, ``sweep/a0.6/s1``, ...: ``sweep`` given); None where they hold none
    either (a folder's runs are looked for one level down only)."""
    try:
        holding = sorted((child.name for child in folder.iterdir()
                          if child.is_dir() and any((run / "metrics.jsonl").exists() for run in child.iterdir())),
                         key=name_order)
    except OSError:  # a folder that cannot be listed: the plain message
        return None
    if not holding:
        return None
    shown = ", ".join(holding[:3]) + (", ..." if len(holding) > 3 else "")
    return (f"{folder}: holds no run right inside it, but its folders {shown} hold runs; give those folders, "
            f"{folder / '*'}/ in a shell")


def _summary_start_epoch(summary: dict[str, Any], history: list[dict[str, Any]], path: Path) -> int | None:
    """The 0-based epoch at which a finished run's second phase starts, as its summary (``path``) keeps it; None
    where the method has none. A summary written before it kept that tells only SAT's start (the first epoch that
    logs a training confidence), and no other method's."""
    if "start_epoch" not in summary:
        first = first_soft_target_epoch(history)
        return None if first is None else first - 1
    start = summary["start_epoch"]
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
        raise DataError(f"{path}: start_epoch={start!r}; expected a 0-based epoch (a whole number from 0) or null")
    return start


def _phase_of(method: str) -> str | None:
    """What starts at ``method``'s start epoch, in its words; None for a method without such a phase, or one not
    registered here."""
    from satlearn.methods import METHODS

    return METHODS.get(method).phase_name if method in METHODS else None


def _checkpoint_config(run_dir: Path, unreadable: ConfigError | None) -> Config:
    """The config an unfinished run's checkpoint keeps, standing in for its ``config.yaml``, gone or (``unreadable``)
    damaged: a run copied without it, say. A :class:`DataError` naming the run where neither can be read."""
    from satlearn.config import from_dict_exact

    try:
        return from_dict_exact(kept_config(run_dir, unreadable=unreadable),
                               source=f"{run_dir / CHECKPOINT_NAME} (its config)")
    except (TrainingError, ConfigError) as exc:
        raise DataError(str(exc)) from None


def _actual_noise_rate(run_dir: Path, noise_kind: str | None, summary: dict[str, Any] | None) -> float | None:
    """The share of a run's training labels that its noise changed: from its summary, or from ``labels.npz`` while
    it trains; None where the run knows no true labels (where an older summary says 0.0 too)."""
    import numpy as np

    if not knows_true_labels(noise_kind):
        return None
    if summary is not None:
        return summary["noise"]["actual_rate"]
    try:
        with np.load(run_dir / "labels.npz", allow_pickle=False) as saved:
            return float((saved["labels"] != saved["clean_labels"]).mean())
    except (ValueError, KeyError, *DAMAGED_ARCHIVE_ERRORS):  # unreadable: the rate is unknown
        return None


def _trained_noise_rate(run_dir: Path, noise_kind: str | None) -> float | None:
    """The share of the labels a run with a validation split trained on that its noise changed, from
    ``labels.npz``'s ``train_index``; None where the true labels are unknown, or the file cannot tell."""
    import numpy as np

    if not knows_true_labels(noise_kind):
        return None
    try:
        with np.load(run_dir / "labels.npz", allow_pickle=False) as saved:
            trained = saved["train_index"]
            return float((saved["labels"][trained] != saved["clean_labels"][trained]).mean())
    except (ValueError, KeyError, IndexError, *DAMAGED_ARCHIVE_ERRORS):  # unreadable: the rate over all stands
        return None


def expand_run_dirs(path: Path) -> list[Path]:
    """``path`` itself when it is a run directory; else the run directories right inside it (a parent of runs, such
    as ``runs/`` or a demo's output directory), in the order of their names (:func:`name_order`); else ``[path]``,
    for :func:`read_run` to name the problem."""
    if (path / "metrics.jsonl").exists() or not path.is_dir():
        return [path]
    runs = sorted((child for child in path.iterdir() if (child / "metrics.jsonl").exists()),
                  key=lambda run: name_order(run.name))
    # a run ~x inside . is the path ~x to pathlib: kept the folder it is when read again (read_run, run_scores)
    return [literal_path(run) for run in runs] or [path]


# a number in a run's name, whole or with a fraction (the lr0.003 of a sweep's name); captured, so that splitting
# a name by it alternates text and numbers
_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]+)?)")


def name_order(name: str) -> tuple:
    """The key that sorts run names as a sweep names them: numbers in them by value (``es3`` before ``es10``,
    ``lr0.003`` before ``lr0.01``), the rest as text; names that tie so (``s01``, ``s1``) as text."""
    from decimal import Decimal

    parts = _NUMBER.split(name)
    # (Decimal, not float: exact however many digits, where floats of 17 digits or more tie, or overflow to inf)
    return [(part, Decimal(0)) if index % 2 == 0 else ("", Decimal(part)) for index, part in enumerate(parts)], name


def unique_run_dirs(run_dirs) -> list[Path]:
    """The runs ``run_dirs`` name, a folder of runs standing for them all (:func:`expand_run_dirs`), each once (the
    first spelling of a run given twice), in order. ``run_dirs`` is a list of paths: a lone path is refused with a
    ConfigError, as it would be read character by character."""
    if isinstance(run_dirs, (str, bytes, os.PathLike)):
        raise ConfigError(f"run_dirs={run_dirs!r}; expected a list of run directories, such as [{run_dirs!r}]")
    unique: dict[Path, Path] = {}
    for run in (run for d in run_dirs for run in expand_run_dirs(user_path(d))):
        unique.setdefault(run.resolve(), run)
    return list(unique.values())


def run_name(run_dir: Path) -> str:
    """A run's directory name, made absolute but not resolved: a run given as `.` is named, and a linked run keeps
    the name it was given by."""
    return Path(os.path.abspath(run_dir)).name


def run_names(run_dirs: list[Path]) -> list[str]:
    """Directory names, or paths below the runs' common parent where two names would be the same."""
    names = [run_name(d) for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath([d.resolve() for d in run_dirs]))
    relative = [d.resolve().relative_to(common) for d in run_dirs]
    return [name if part == Path(".") else str(part) for name, part in zip(names, relative)]


# The settings in which runs of one experiment differ from seed to seed: the training's own draws (model init,
# shuffling, augmentation) and which labels the noise changes. satlearn's benchmarks set both to draw another seed;
# data.data_seed is not one of them: it draws the data themselves (MNIST-1D's, a test or validation split).
SEED_KEYS = ("run.seed", "data.noise.seed")
# what such runs may differ in besides: where and how they ran, as a resumption may change it, except where their
# data lie. A resumption checks its data against the run's digest and keeps the labels it drew; nothing tells that
# two runs' data folders (the JPEG copy of CIFAR-10 beside the original) or label files hold the same.
_HOW_IT_RAN = RESUME_FREE_KEYS - {"data.root", "data.noise.file"}


def run_seeds(run: RunCurves) -> tuple[int, int]:
    """A run's ``(run.seed, data.noise.seed)``; its config must be known."""
    assert run.config is not None
    return run.config.run.seed, run.config.data.noise.seed


def seeds_of_one_experiment(a: RunCurves, b: RunCurves) -> bool:
    """Whether two runs' configs are equal but for the :data:`SEED_KEYS` and where and how they ran (the settings
    that ``train --resume`` lets change, less ``data.root`` and ``data.noise.file``). False where either run's config
    is unknown (a finished run whose ``config.yaml`` is gone or cannot be read)."""
    if a.config is None or b.config is None:
        return False
    return _one_experiment(to_dict(a.config), to_dict(b.config))


def _one_experiment(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not config_differences(a, b, free=_HOW_IT_RAN | set(SEED_KEYS))


@dataclass
class RunGroup:
    """Runs of one experiment trained with other seeds (:func:`group_runs`): ``compare`` gives them one row, each
    figure the mean ± sample standard deviation of the runs', and one curve, their mean, shaded from the lowest to
    the highest of them; all over the epochs that every run has reached (:attr:`last_epoch`)."""

    name: str  # from its runs' names (:func:`group_name`)
    runs: list[RunCurves]

    @property
    def seeds(self) -> list[tuple[int, int]]:
        """Each run's ``(run.seed, data.noise.seed)``, in the runs' order."""
        return [run_seeds(run) for run in self.runs]

    @property
    def label(self) -> str:
        """The name the table and the plot give the group: ``sat (seeds 0, 1, 2)``."""
        return f"{self.name} ({seed_words(self.seeds)})"

    @property
    def last_epoch(self) -> int:
        """The last epoch that every one of its runs has trained: its figures and curves stop there."""
        return min(run.last_epoch for run in self.runs)

    @property
    def uneven(self) -> bool:
        """Whether some of its runs have trained further than others (some unfinished, or stopped early)."""
        return len({run.last_epoch for run in self.runs}) > 1

    # what its runs share, their configs being one
    @property
    def method(self) -> str:
        return self.runs[0].method

    @property
    def epochs(self) -> int | None:
        return self.runs[0].epochs

    @property
    def start_epoch(self) -> int | None:
        return self.runs[0].start_epoch

    @property
    def phase_name(self) -> str:
        return self.runs[0].phase_name


# a run compared on its own, or a group of runs that differ only in their seeds
Compared = RunCurves | RunGroup


def group_runs(runs: list[RunCurves]) -> list[Compared]:
    """``runs`` with those that are seeds of one experiment (:func:`seeds_of_one_experiment`) made one
    :class:`RunGroup`, in the place of the first of them; the other runs stay as they are, in their order. Runs
    that would group but two of which have the same seeds (one experiment run twice, on another device, say) are
    not grouped: they are told apart as runs, not averaged."""
    sets: list[list[RunCurves]] = []
    settings = {id(run): to_dict(run.config) for run in runs if run.config is not None}  # (each read once)
    for run in runs:
        same = None if id(run) not in settings else next(
            (members for members in sets
             if id(members[0]) in settings and _one_experiment(settings[id(members[0])], settings[id(run)])), None)
        if same is None:
            sets.append([run])
        else:
            same.append(run)
    grouped = {id(members[0]): members for members in sets
               if len(members) > 1 and len({run_seeds(run) for run in members}) == len(members)
               # (runs of one config are evaluated at the same epochs, unless their metrics were edited by hand)
               and set.intersection(*({row["epoch"] for row in run.test_rows} for run in members))}
    in_group = {id(run) for members in grouped.values() for run in members}
    taken = {run.name for run in runs}
    out: list[Compared] = []
    for run in runs:
        if id(run) in grouped:
            members = grouped[id(run)]
            name = group_name([member.name for member in members], [run_seeds(member) for member in members])
            group, again = RunGroup(name=name, runs=members), 2
            while group.label in taken:  # the name of another group, or a run's: styles are drawn by name
                group.name, again = f"{name}-{again}", again + 1
            taken.add(group.label)
            out.append(group)
        elif id(run) not in in_group:
            out.append(run)
    return out


def seed_words(seeds: list[tuple[int, int]]) -> str:
    """``(run.seed, data.noise.seed)`` pairs in words: ``seeds 0, 1, 2`` where the noise seed is each run's seed, or
    one for all; ``noise seeds ...`` where the run seed is one for all; else ``run/noise seeds 0/5, 1/6``. Past five,
    their count."""
    ordered = sorted(seeds)
    if len(ordered) > 5:
        return f"{len(ordered)} seeds"
    run, noise = [r for r, _ in ordered], [n for _, n in ordered]
    if run == noise or len(set(noise)) == 1:
        return "seeds " + ", ".join(map(str, run))
    if len(set(run)) == 1:
        return "noise seeds " + ", ".join(map(str, noise))
    return "run/noise seeds " + ", ".join(f"{r}/{n}" for r, n in ordered)


# a separator in a run's name, such as "sat-s1" or "sat_seed1_lr0.1" hold
_SEPARATORS = "-_. "
# between the folders of a run's name where it is a path below the runs' common parent (:func:`run_names`)
_FOLDER_SEPARATORS = "/" + os.sep


def _without(name: str, seed: int) -> set[str]:
    """``name`` with one mention of ``seed`` dropped, in each way it can be: the number standing alone (not part of
    a larger one, nor of a word such as "cnn1d"), with ``seed`` or ``s`` before it and a separator before that."""
    pattern = rf"[{re.escape(_SEPARATORS)}]?(?:seed|s)?[-_=]?(?<![0-9]){re.escape(str(seed))}(?![0-9A-Za-z])"
    return {name[:found.start()] + name[found.end():] for found in re.finditer(pattern, name, flags=re.IGNORECASE)}


def group_name(names: list[str], seeds: list[tuple[int, int]]) -> str:
    """The name of a group of runs, by their names and ``(run.seed, data.noise.seed)`` pairs: the name that all of
    them have once the seeds that differ between them are dropped from it ("sat-s1", "sat-s2" → "sat";
    "sat_seed0_lr0.1", "sat_seed1_lr0.1" → "sat_lr0.1"), else their common beginning, cut at a separator
    ("sat-20261124-101500", "sat-20261124-112210" → "sat-20261124"), else the first one's name."""
    varying = [index for index in range(2) if len({pair[index] for pair in seeds}) > 1]
    common: set[str] | None = None
    for name, pair in zip(names, seeds):
        dropped = {name}
        for seed in dict.fromkeys(pair[index] for index in varying):  # a seed given to both keys is named once
            dropped = {shorter for each in dropped for shorter in _without(each, seed)}
        common = dropped if common is None else common & dropped
    # (a name that is a path below the runs' parent, "a0.6/s0", leaves its folder's separator at the end)
    common = {name.strip(_SEPARATORS + _FOLDER_SEPARATORS) for name in common or ()} - {""}
    if common:
        return min(common, key=lambda name: (-len(name), name))  # the one that drops least
    prefix = os.path.commonprefix(names)
    if not all(len(name) == len(prefix) or name[len(prefix)] in _SEPARATORS for name in names):
        prefix = _cut_at_separator(prefix)
    return prefix.strip(_SEPARATORS + _FOLDER_SEPARATORS) or names[0]


def _cut_at_separator(prefix: str) -> str:
    """``prefix`` up to its last separator: a common beginning that ends within a word ("sat-20261124-10")."""
    cut = max(prefix.rfind(separator) for separator in _SEPARATORS)
    return prefix[:cut] if cut >= 0 else ""


# settings that tell runs apart without making them other experiments (their seeds, where and how they ran), and
# those the table has columns of its own for (the method; the planned epochs, in the epochs column)
_NOT_SETTING_COLUMNS = _HOW_IT_RAN | set(SEED_KEYS) | {"method.name", "run.epochs"}
# past this many settings in which the runs differ, a column each would make the table too wide to read (runs of
# unrelated recipes, MNIST-1D beside CIFAR-10): lines under it name them instead (:func:`setting_notes`)
MAX_SETTING_COLUMNS = 4


def settings_of(entry: Compared) -> dict[str, Any] | None:
    """A run's or group's settings as ``{"method.momentum": 0.9, ...}``, in the config's order (a group's runs share
    theirs but for their seeds and how they ran); None where only a run's summary tells them."""
    config = (entry.runs[0] if isinstance(entry, RunGroup) else entry).config
    return None if config is None else _flat(to_dict(config))


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def setting_text(value: Any) -> str:
    """A setting's value as ``--set`` takes it (YAML): ``0.9``, ``null``, ``[30, 60]``."""
    from satlearn.yaml_text import write_yaml

    return write_yaml(value, default_flow_style=True, width=float("inf")).strip().removesuffix("...").strip()


def unread_settings(entry: Compared) -> set[str]:
    """The settings of ``entry``'s method that it does not read: the ``method.*`` options of another method
    (``method.momentum`` of ``erm``), and ``method.start_epoch`` where it has no second phase."""
    from satlearn.config import METHOD_OPTIONS
    from satlearn.methods import METHODS

    reads = METHODS.get(entry.method).options if entry.method in METHODS else METHOD_OPTIONS
    return {f"method.{option}" for option in METHOD_OPTIONS if option not in reads} | (
        {"method.start_epoch"} if entry.start_epoch is None else set())


def differing_settings(compared: list[Compared]) -> list[str]:
    """The settings, in the config's order, in which the runs and groups of ``compared`` differ: what a sweep
    varies, such as ``method.momentum``; not their seeds, nor where and how they ran, which a group's runs may
    differ in, nor the method and the planned epochs, which the table shows already. A setting counts only among
    the runs whose method reads it (:func:`unread_settings`: a CE run's ``method.momentum`` is none), and runs whose
    settings only their summary tells (:func:`settings_of`) count for none."""
    known = [(settings, unread_settings(entry)) for entry, settings in zip(compared, map(settings_of, compared))
             if settings is not None]
    keys = dict.fromkeys(key for settings, _ in known for key in settings if key not in _NOT_SETTING_COLUMNS)
    return [key for key in keys
            if len({setting_text(settings.get(key)) for settings, unread in known if key not in unread}) > 1]


def setting_columns(compared: list[Compared]) -> list[str]:
    """The settings that :func:`format_table` gives a column each: those in which ``compared`` differ, where they
    are at most :data:`MAX_SETTING_COLUMNS`; none else (:func:`setting_notes` names them then)."""
    keys = differing_settings(compared)
    return keys if len(keys) <= MAX_SETTING_COLUMNS else []


def setting_cells(entry: Compared, keys: list[str]) -> list[str]:
    """``entry``'s values of the settings ``keys``; ``—`` for one its method does not read (:func:`unread_settings`),
    and where only its summary tells its settings."""
    settings, unread = settings_of(entry), unread_settings(entry)
    return ["—" if settings is None or key in unread else setting_text(settings.get(key)) for key in keys]


def setting_notes(compared: list[Compared]) -> list[str]:
    """Lines for under the table where the runs differ in more settings than it has columns for: each run's or
    group's values of them; none where the table shows them (:func:`setting_columns`)."""
    keys = differing_settings(compared)
    if len(keys) <= MAX_SETTING_COLUMNS:
        return []
    lines = [f"settings in which the runs differ ({len(keys)}, too many for columns):"]
    for entry in compared:
        given = "settings unknown (no config)" if settings_of(entry) is None else ", ".join(
            f"{key}={value}" for key, value in zip(keys, setting_cells(entry, keys)))
        lines.append(f"  {shown_name(entry)}: {given}")
    return lines


def legend_settings(compared: list[Compared]) -> dict[str, str]:
    """What the plot's legend adds to the name of each run's or group's curves, by :func:`shown_name`: the settings
    of the table's columns (:func:`setting_columns`), ``": method.momentum=0.6"`` (``sat-a (seeds 0, 1):
    method.momentum=0.6``); nothing where the table has none. A setting the row's method does not read, or where only
    its summary tells its settings, is left out rather than given as ``—``, which a legend would read as its value."""
    keys = setting_columns(compared)
    told = {}
    for entry in compared:
        unknown = unread_settings(entry) if settings_of(entry) is not None else set(keys)
        given = [f"{key}={value}" for key, value in zip(keys, setting_cells(entry, keys)) if key not in unknown]
        told[shown_name(entry)] = f": {', '.join(given)}" if given else ""
    return told


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


# the cells of a run without a validation split, in a table where another run has one
_NO_SPLIT = ["no split", "—"]


def members(compared: list[Compared]) -> list[RunCurves]:
    """The runs of ``compared``, each group's in its place."""
    return [run for entry in compared for run in (entry.runs if isinstance(entry, RunGroup) else [entry])]


def shown_name(entry: Compared) -> str:
    """What the table and the plot call a run (its name) or a group (its :attr:`RunGroup.label`)."""
    return entry.label if isinstance(entry, RunGroup) else entry.name


def format_table(runs: list[Compared]) -> str:
    """A plain-text table: one row per run, test accuracy last and best, target quality, and the seconds of its
    epochs (training and evaluation; what a finished and an unfinished run both record, so the rows compare).
    After the method, a column for each setting in which the runs differ (:func:`setting_columns`), such as the
    ``method.momentum`` of a sweep. Where a run holds out a validation split, two columns after the best test
    accuracy: its best validation accuracy with that epoch, and the test accuracy there, the pick made without the
    test split; a run without one shows ``no split`` there. A :class:`RunGroup`'s row gives the mean ± sample
    standard deviation of its runs' figures, over the epochs that all of them have trained (:func:`group_cells`)."""
    with_val = any(run.val_rows for run in members(runs))
    keys = setting_columns(runs)
    header = ["run", "method", *keys, "noise (actual)", "epochs", "final test acc", "best test acc",
              *(["best val acc", "test acc at best val"] if with_val else []), "labels right", "epochs s"]
    rows = [header]
    for run in runs:
        cells = group_cells(run, with_val=with_val) if isinstance(run, RunGroup) else _run_cells(run, with_val=with_val)
        rows.append([*cells[:2], *setting_cells(run, keys), *cells[2:]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _run_cells(run: RunCurves, *, with_val: bool) -> list[str]:
    tests = run.test_rows
    best = max(tests, key=lambda row: row["test_accuracy"])
    refined = [row["refined_label_accuracy"] for row in run.history if "refined_label_accuracy" in row]
    s = run.summary
    done = run.history[-1]["epoch"]
    return [
        run.name,
        run.method,
        _pct(run.actual_noise_rate),
        f"{done}" if s else f"{done}/{run.epochs} (unfinished)",
        _pct(tests[-1]["test_accuracy"]),
        f"{_pct(best['test_accuracy'])} (ep {best['epoch']})",
        *(_validation_cells(run.validation_pick) if with_val else []),
        _pct(refined[-1]) if refined else "—",
        f"{sum(row.get('epoch_seconds', 0.0) for row in run.history):.1f}",
    ]


def _validation_cells(pick: dict[str, Any] | None) -> list[str]:
    if pick is None:
        return list(_NO_SPLIT)
    return [f"{_pct(pick['val_accuracy'])} (ep {pick['epoch']})", _pct(pick["test_accuracy"])]


def _spread(values: list[float], *, scale: float = 100, unit: str = "%") -> str:
    """The mean ± sample standard deviation of ``values`` (two or more), as percentages by default. Where one is
    NaN or infinite (a metrics file edited by hand), the mean is too, as a run's own cell shows it, and the deviation
    is NaN: ``statistics.stdev`` refuses such values rather than returning it."""
    mean = scale * statistics.fmean(values)
    if not all(math.isfinite(value) for value in values):
        return f"{mean:.1f} ± nan{unit}"
    return f"{mean:.1f} ± {scale * statistics.stdev(values):.1f}{unit}"


def _epoch_span(epochs: list[int]) -> str:
    low, high = min(epochs), max(epochs)
    return f"ep {low}" if low == high else f"ep {low}–{high}"


def _common(group: RunGroup, key: str) -> tuple[list[int], list[list[float]]]:
    """The epochs at which every run of ``group`` reports ``key``, and at each, the runs' values in their order."""
    per_run = [{row["epoch"]: row[key] for row in run.history if key in row} for run in group.runs]
    epochs = sorted(set.intersection(*(set(values) for values in per_run)))
    return epochs, [[values[epoch] for values in per_run] for epoch in epochs]


def _validation_pick_until(run: RunCurves, last: int) -> dict[str, Any] | None:
    """``run``'s :attr:`RunCurves.validation_pick` among its epochs up to ``last``: the first of its best there."""
    if run.last_epoch <= last:
        return run.validation_pick
    rows = [row for row in run.val_rows if row["epoch"] <= last]
    return max(rows, key=lambda row: row["val_accuracy"]) if rows else None


def group_cells(group: RunGroup, *, with_val: bool) -> list[str]:
    """A :class:`RunGroup`'s row of :func:`format_table`: the mean ± sample standard deviation of its runs' noise,
    final (last evaluated) and best test accuracy, validation pick, labels right and seconds, each over the epochs
    that all of them have trained, with the range of epochs at which their bests fell."""
    last = group.last_epoch
    tested, accuracies = _common(group, "test_accuracy")
    bests = [max(zip(tested, (at[i] for at in accuracies)), key=lambda pair: pair[1])
             for i in range(len(group.runs))]
    rates = [run.actual_noise_rate for run in group.runs]
    lasts = [run.last_epoch for run in group.runs]
    if group.uneven:
        done = f"{last}/{group.epochs} (runs at {min(lasts)}–{max(lasts)})"
    elif all(run.summary for run in group.runs):
        done = f"{last}"
    else:
        done = f"{last}/{group.epochs} (unfinished)"
    cells = [group.label, group.method, "—" if None in rates else _spread(rates), done, _spread(accuracies[-1]),
             f"{_spread([accuracy for _, accuracy in bests])} ({_epoch_span([epoch for epoch, _ in bests])})"]
    if with_val:
        picks = [_validation_pick_until(run, last) for run in group.runs]
        cells += list(_NO_SPLIT) if None in picks else [
            f"{_spread([pick['val_accuracy'] for pick in picks])} ({_epoch_span([pick['epoch'] for pick in picks])})",
            _spread([pick["test_accuracy"] for pick in picks])]
    refined = _common(group, "refined_label_accuracy")[1]
    seconds = [sum(row.get("epoch_seconds", 0.0) for row in run.history if row["epoch"] <= last)
               for run in group.runs]
    return [*cells, _spread(refined[-1]) if refined else "—", _spread(seconds, scale=1, unit="")]


def group_notes(compared: list[Compared]) -> list[str]:
    """Lines for under the table, one for each :class:`RunGroup` in ``compared``: the runs it stands for, and, where
    they have trained unequally far, the epochs its figures and curves are over; none without a group."""
    groups = [entry for entry in compared if isinstance(entry, RunGroup)]
    if not groups:
        return []
    lines = ["runs averaged over their seeds (mean ± sample standard deviation; plotted: the mean, shaded from the "
             "lowest to the highest run):"]
    for group in groups:
        line = f"  {group.label}: {', '.join(run.name for run in group.runs)}"
        if group.uneven:
            trained = ", ".join(f"{run.name} {run.last_epoch}" for run in group.runs)
            line += (f"; over the first {group.last_epoch} epochs, which all have trained ({trained} of "
                     f"{group.epochs})")
        lines.append(line)
    return lines


# how opaque the band between a group's lowest and highest run is drawn
_BAND_ALPHA = 0.2


def _draw_series(ax, entry: Compared, key: str, *, label: str, style: dict[str, Any]) -> None:
    """Draws ``key`` per epoch, in percent, onto ``ax``: a run's own; a group's mean over the epochs at which all its
    runs report it, shaded from the lowest to the highest of them."""
    if isinstance(entry, RunGroup):
        epochs, values = _common(entry, key)
        ax.plot(epochs, [100 * statistics.fmean(at) for at in values], label=label, **point_style(epochs, style))
        low, high = [100 * min(at) for at in values], [100 * max(at) for at in values]
        if len(epochs) == 1:  # a band over one epoch has no width, and would show no spread at all: a bar instead
            ax.vlines(epochs, low, high, color=style["color"], alpha=2 * _BAND_ALPHA, linewidth=8)
            return
        ax.fill_between(epochs, low, high, color=style["color"], alpha=_BAND_ALPHA, linewidth=0)
        for edge in (low, high):  # where two groups' bands overlap, their colours mix: the edges tell whose is whose
            ax.plot(epochs, edge, color=style["color"], linewidth=0.6, alpha=0.6)
        return
    rows = [row for row in entry.history if key in row]
    epochs = [row["epoch"] for row in rows]
    ax.plot(epochs, [100 * row[key] for row in rows], label=label, **point_style(epochs, style))


def _given_labels_rate(entry: Compared) -> float | None:
    """The noise rate of the labels a run's targets cover (a validation split's are not trained on); a group's
    mean, None where a run of it cannot tell."""
    if isinstance(entry, RunGroup):
        rates = [_given_labels_rate(run) for run in entry.runs]
        return None if None in rates else statistics.fmean(rates)
    return entry.actual_noise_rate if entry.trained_noise_rate is None else entry.trained_noise_rate


def draw_runs(runs: list[Compared], accuracy_ax, targets_ax=None, *, styles: dict[str, dict[str, Any]],
              settings: dict[str, str] | None = None) -> None:
    """Draws ``runs`` onto matplotlib axes: test accuracy per epoch; on ``targets_ax``, the share of training labels
    that a run's refined labels (the largest class of each target, the given label where it ties) get right, beside
    its given labels'; a dotted line where a run's second phase starts (its soft targets, or the gamblers loss), once
    the run has got there; a ring at the epoch a run keeps where the test split picked it (:func:`ring_kept`).
    ``styles``: each run's ``Axes.plot`` keywords, by name (:func:`line_styles`); its given labels' and phase's lines
    and its ring take its colour alone, as dashes, dots and the ring say what they are. A :class:`RunGroup` is
    drawn as its runs' mean, shaded from the lowest to the highest, up to the last epoch all have trained; its
    given labels' line at their mean; no ring, each of its runs having kept an epoch of its own. ``settings``: what
    the legend adds to the name of a run's curves, by :func:`shown_name` (:func:`legend_settings`)."""
    for run in runs:
        name, style = plain_text(shown_name(run)), styles[shown_name(run)]
        told = plain_text((settings or {}).get(shown_name(run), ""))
        colour = style["color"]
        # a group whose runs have trained unequally far ends where the shortest has got to: said, not left to guess
        shortest = f", to epoch {run.last_epoch} (its shortest run)" if isinstance(run, RunGroup) and run.uneven else ""
        _draw_series(accuracy_ax, run, "test_accuracy", label=name + shortest + told, style=style)
        with_refined = any("refined_label_accuracy" in r for one in members([run]) for r in one.history)
        ring_kept(run, accuracy_ax, "test", color=colour)
        drawn_on = [accuracy_ax]
        if targets_ax is not None and with_refined:
            drawn_on.append(targets_ax)
            _draw_series(targets_ax, run, "refined_label_accuracy", label=f"{name} targets{told}", style=style)
            rate = _given_labels_rate(run)
            if rate is not None:
                targets_ax.axhline(100 * (1 - rate), color=colour, linestyle="--", linewidth=0.8,
                                   label=f"{name} given labels")
        # epochs are 1-based in the metrics: the first epoch of the phase; not drawn past where a run has got to, nor
        # on the targets' axes for a run without curves there (gamblers, clean labels), where it would mark nothing
        if run.start_epoch is not None and run.start_epoch + 1 <= run.last_epoch:
            for ax in drawn_on:
                ax.axvline(run.start_epoch + 1, color=colour, linestyle=":", linewidth=1,
                           label=plain_text(phase_label(run)) if ax is accuracy_ax else None)
    if any(isinstance(run, RunGroup) for run in runs):  # what the bands are, once for the figure
        accuracy_ax.fill_between([], [], color="0.5", alpha=_BAND_ALPHA * 2, linewidth=0,
                                 label="shaded: lowest to highest run of a group")


def draw_validation(runs: list[Compared], ax, *, styles: dict[str, dict[str, Any]],
                    settings: dict[str, str] | None = None) -> None:
    """Draws onto ``ax`` the validation accuracy per epoch (against the given labels) of those of ``runs`` that hold
    out a validation split, in each run's style (:func:`line_styles`), with the dotted line where its second phase
    starts, as :func:`draw_runs` draws them beside it (``settings`` as there), and a ring at the epoch a run keeps,
    which this split picked."""
    for run in runs:
        if not any(one.val_rows for one in members([run])):
            continue
        style = styles[shown_name(run)]
        told = (settings or {}).get(shown_name(run), "")
        _draw_series(ax, run, "val_accuracy", label=plain_text(shown_name(run) + told), style=style)
        ring_kept(run, ax, "val", color=style["color"])
        if run.start_epoch is not None and run.start_epoch + 1 <= run.last_epoch:
            ax.axvline(run.start_epoch + 1, color=style["color"], linestyle=":", linewidth=1)


def ring_kept(run: Compared, ax, by: str, *, color: str) -> None:
    """Rings on ``ax``, on ``run``'s accuracy curve of the split ``by`` (``test``, ``val``), the epoch whose weights
    the run keeps, where that split picked it (:func:`satlearn.engine.reporting.mark_kept`): "sat: kept epoch 24
    (best val acc)" in the legend. A :class:`RunGroup` gets none: its curve is a mean, and each run kept an epoch
    of its own."""
    if isinstance(run, RunGroup):
        return
    kept = run.kept_epoch
    rows = {row["epoch"]: row for row in (run.val_rows if by == "val" else run.test_rows)}
    if kept is not None and kept[1] == by and kept[0] in rows:
        mark_kept(ax, kept[0], 100 * rows[kept[0]][f"{by}_accuracy"], color=color,
                  label=plain_text(f"{run.name}: {kept_label(*kept)}"))


def phase_label(run: Compared) -> str:
    """The legend entry of the line where ``run``'s second phase starts: "sat20: start of SAT", or "start of SAT"
    alone for a run named after its phase (the demo's "SAT"), which would otherwise read "SAT: start of SAT"."""
    start = f"start of {run.phase_name}"
    name = shown_name(run)
    return start if name.casefold() == run.phase_name.casefold() else f"{name}: {start}"


# the figure's width (inches) for its panels side by side
_FIGURE_WIDTHS = {1: 7, 2: 12, 3: 16}


def plot_runs(runs: list[Compared], path: Path, *, title: str = "") -> None:
    """Test accuracy per epoch of every run; beside it, where any run holds out a validation split, the validation
    accuracy (given labels) of those that do, in a panel of its own (its level under label noise is far from the
    test split's, which would squeeze both onto one scale); then, where any run has them, the share of training
    labels that its refined labels (the largest class of each target, the given label where it ties) get right. A
    dotted line marks where a run's second phase starts, a ring the epoch a run with ``run.keep_best`` keeps, on the
    curve of the split that picked it. Each panel's legend goes below it, each run's curves named with the settings
    in which the runs differ where the table has columns for them (:func:`legend_settings`). A :class:`RunGroup` is
    drawn as :func:`draw_runs` says."""
    with_val = any(run.val_rows for run in members(runs))
    with_targets = any("refined_label_accuracy" in row for run in members(runs) for row in run.history)
    panels = 1 + with_val + with_targets
    fig, axes = new_figure(1, panels, figsize=(_FIGURE_WIDTHS[panels], 4.5), squeeze=False)
    styles = dict(zip((shown_name(run) for run in runs), line_styles(len(runs))))
    settings = legend_settings(runs)
    draw_runs(runs, axes[0, 0], axes[0, -1] if with_targets else None, styles=styles, settings=settings)
    axes[0, 0].set_ylabel("test accuracy (%)")
    if with_val:
        draw_validation(runs, axes[0, 1], styles=styles, settings=settings)
        axes[0, 1].set_ylabel("validation accuracy, given labels (%)")
    if with_targets:
        axes[0, -1].set_ylabel("training labels right (%)")
    for ax in axes[0]:
        mark_epoch_axis(ax)
        fit_percent_axis(ax)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(plain_text(title), fontsize=11)
    legends_below = place_legends(fig, axes[0], runs=len(runs), fontsize=8, below=True)  # and lays the figure out
    make_output_dir(path.parent, what=f"plot {path}: its directory")
    image_format = plot_format(path, fig.canvas.get_supported_filetypes())
    with FilesWrittenTogether(folder=path.parent) as files:  # (which tidies what a killed compare left there)
        files.write_bytes(path, lambda f: fig.savefig(f, format=image_format, dpi=110,
                                                      bbox_inches="tight" if legends_below else None))


# formats matplotlib lists but writes only through an outside program (LaTeX)
_NEEDS_OTHER_PROGRAMS = {"pgf"}


def plot_format(path: Path, supported: dict[str, str]) -> str:
    """The image format ``path``'s suffix names, e.g. ``pdf`` or ``svg``; PNG for any other name (none, or one
    with a dot that is no image suffix, such as ``sat_vs_ce_noise0.4``)."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in supported and suffix not in _NEEDS_OTHER_PROGRAMS else "png"


# the columns of :func:`runs_csv` after the run's name, directory, method, seeds and settings
CSV_FIGURES = ("finished", "epochs", "last_epoch", "noise_actual", "final_test_accuracy", "best_test_accuracy",
               "best_epoch", "best_val_accuracy", "best_val_epoch", "test_accuracy_at_best_val", "labels_right",
               "epochs_seconds")


def runs_csv(runs: list[RunCurves]) -> str:
    """The runs as CSV, one row each (never a group's mean), for a sweep's analysis elsewhere (pandas): ``run`` (as
    the table names it), ``run_dir``, ``method``, their seeds (:data:`SEED_KEYS`), a column for each setting in which
    the runs differ (:func:`differing_settings`, each value as ``--set`` takes it; empty where the run's method does
    not read it or only its summary tells its settings), then :data:`CSV_FIGURES`: accuracies and rates as
    fractions, as the runs' own files give them, over the epochs each has trained; the validation columns empty for a
    run without a split, ``labels_right`` and ``noise_actual`` where unknown."""
    import csv
    import io

    keys = differing_settings(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "run_dir", "method", *SEED_KEYS, *keys, *CSV_FIGURES])
    for run in runs:
        settings, unread = settings_of(run), unread_settings(run)
        seeds = ["" if settings is None else settings[key] for key in SEED_KEYS]
        values = ["" if settings is None or key in unread else setting_text(settings.get(key)) for key in keys]
        tests = run.test_rows
        best = max(tests, key=lambda row: row["test_accuracy"])
        pick = run.validation_pick or {}
        refined = [row["refined_label_accuracy"] for row in run.history if "refined_label_accuracy" in row]
        figures = [str(run.summary is not None).lower(), run.epochs, run.last_epoch, run.actual_noise_rate,
                   tests[-1]["test_accuracy"], best["test_accuracy"], best["epoch"], pick.get("val_accuracy"),
                   pick.get("epoch"), pick.get("test_accuracy"), refined[-1] if refined else None,
                   sum(row.get("epoch_seconds", 0.0) for row in run.history)]
        writer.writerow([run.name, str(run.run_dir), run.method, *seeds, *values,
                         *("" if figure is None else figure for figure in figures)])
    return buffer.getvalue()


def compare_runs(run_dirs: list[str | Path], *, out: str | Path | None = None, title: str = "",
                 group: bool = True, csv: str | Path | None = None) -> tuple[list[RunCurves], str, Path]:
    """Reads every run, writes the plot (default: ``compare.png`` in the runs' common parent) and returns the runs,
    the table and the plot's path. A folder of runs stands for those of its runs that have an evaluated epoch; a line
    under the table names the others (``run.eval_every`` > 1, before their first evaluation). A run named on its
    own with no evaluated epoch yet is a DataError.

    With ``group`` (the default), runs that differ only in their seeds (:data:`SEED_KEYS`) and in where and how they
    ran are one row and one curve, their mean (:func:`group_runs`, :class:`RunGroup`), with lines under the table
    naming each group's runs; where no runs group, the table and plot are those of ``group=False``, a row and a
    curve for each run. The runs returned are every run read, grouped or not: ``group_runs(runs)`` gives the groups.
    ``csv``: a file (or a folder, for ``compare.csv``) to write them into as :func:`runs_csv`, a row each."""
    if not isinstance(run_dirs, (str, bytes, os.PathLike)):  # (a lone path is refused below, not read as letters)
        run_dirs = list(run_dirs)  # read twice: a generator would be used up by the first reading
    dirs = unique_run_dirs(run_dirs)
    if not dirs:
        raise DataError("compare needs at least one run directory")
    table_file = None if csv is None else output_file(csv, "compare.csv", what="--csv")  # checked before any work
    if table_file is not None:
        make_output_dir(table_file.parent, what=f"--csv {table_file}: its directory", create=False)
    named = {user_path(d).resolve() for d in run_dirs}
    runs, waiting = [], []
    for run_dir, name in zip(dirs, run_names(dirs)):
        try:
            runs.append(read_run(run_dir, name=name))
        except NotEvaluatedYet:
            if run_dir.resolve() in named:  # a run named on its own is meant to be shown
                raise
            waiting.append(name)  # one of a folder's runs, in the epochs before its first evaluation
    if not runs:
        raise DataError(f"no evaluated epoch yet in any of the runs ({', '.join(waiting)})")
    path = output_file(out, "compare.png") if out is not None else common_parent(dirs) / "compare.png"
    if table_file is not None and table_file.resolve() == path.resolve():
        raise ConfigError(f"--csv {table_file}: the plot's file too; expected another file for each")
    compared = group_runs(runs) if group else runs
    plot_runs(compared, path, title=title)
    if table_file is not None:
        text = runs_csv(runs)
        make_output_dir(table_file.parent, what=f"--csv {table_file}: its directory")
        with FilesWrittenTogether(folder=table_file.parent) as files:
            files.write_bytes(table_file, lambda f: f.write(text.encode()))
    table = "\n".join([format_table(compared), *setting_notes(compared), *group_notes(compared)])
    if waiting:
        table += f"\nnot shown, as not yet evaluated (run.eval_every): {', '.join(waiting)}"
    return runs, table, path
