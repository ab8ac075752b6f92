"""Selective classification from a trained run: scores, the SAT paper's evaluation protocol, a predictor.

Scores (higher = abstain first):

- ``abstain``: the probability of the abstain output, ``softmax(z)_C`` over all C + 1 outputs — for models trained
  with an abstain output (``selective_sat``, ``gamblers``). The SAT paper's selector.
- ``max_softmax``: ``1 − max_j softmax(z[:C])_j`` over the C class outputs — Softmax Response (SR) for a
  cross-entropy model, and also a valid selector on a model with an abstain output (Feng et al., ICLR 2023, find it
  is often the better one). Computed as ``Σ_{j≠argmax} softmax_j`` in float64 so confident examples do not all tie
  at exactly 0.
- ``auto``: ``abstain`` when the run's model has an abstain output, else ``max_softmax``.

The prediction is always the argmax over the first C outputs.

Protocol (``evaluate`` in the SAT paper's ``train.py``): the run's final model scores the whole test split; the
examples are shuffled with Python's ``random`` seeded with 10 (here ``random.Random(10).shuffle`` on the list of
indices — the same permutation as the code's ``random.seed(10); random.shuffle(...)``); the first 2,000 are the
"validation" part, the rest the "test" part (a test split of at most 2,000 examples is halved instead, and the
report says so). For every coverage in :data:`PAPER_COVERAGES` a threshold is found by bisection to within
±0.3 points **separately on each part** — the paper's numbers are the test part's errors with a threshold fitted on
the test part itself. Because that is not what a deployed model can do, the report adds the threshold fitted on
the validation part applied to the test part, with the coverage it really reaches. AURC, E-AURC and AUGRC come
from the full risk–coverage curve of each part (see :mod:`satlearn.evaluation.selective` for the conventions).

A run that held out a validation split of its training examples (``data.val_size``) may have its thresholds fitted
there instead (``calibrate_on="val"``, :func:`held_out_protocol`), against the labels given for it, and applied to the
whole test split, which is then left to measure them on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import numbers
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from satlearn.data.base import DatasetSplits
from satlearn.errors import ConfigError, DataError, SatlearnError, TrainingError, not_a_directory
from satlearn.evaluation.selective import (
    PAPER_COVERAGES, RiskCoverage, Threshold, bisection_thresholds, check_coverage, check_coverages,
    check_examples, check_tolerance, risk_coverage_curve, selective_error, selective_report,
)
from satlearn.paths import literal_path, user_path

SCORES = ("auto", "abstain", "max_softmax")
# where a threshold is fitted: the validation part of the test split (the paper's protocol), or the validation split
# a run held out of its training examples (data.val_size), which leaves the whole test split to report on
CALIBRATIONS = ("test", "val")
SPLIT_SEED = 10
VALIDATION_SIZE = 2000
TOLERANCE = 0.003  # ±0.3 percentage points of coverage


# ---------------------------------------------------------------------------------------------------------------
# Scores and the split


@contextlib.contextmanager
def _refused_as(error_type: type[SatlearnError]):
    """The measures' plain ValueErrors as satlearn errors, which the CLI prints as one line."""
    try:
        yield
    except SatlearnError:
        raise
    except ValueError as error:
        raise error_type(str(error)) from None


def resolve_score(score: str, *, has_abstain: bool, where: str = "run") -> str:
    """``auto`` → ``abstain`` or ``max_softmax``; rejects ``abstain`` for a model without an abstain output."""
    if score not in SCORES:
        raise ConfigError(f"score {score!r}; expected one of: {', '.join(SCORES)}")
    if score == "auto":
        return "abstain" if has_abstain else "max_softmax"
    if score == "abstain" and not has_abstain:
        raise ConfigError(f"{where}: the model has no abstain output (train with method selective_sat or gamblers); "
                          f"use score max_softmax")
    return score


def selection_scores(logits: torch.Tensor, *, num_classes: int, score: str) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` float64 scores (higher = abstain first) and ``(N,)`` predicted classes from ``(N, C[+1])`` logits.

    ``score`` is ``abstain`` (needs the C + 1-th output) or ``max_softmax``.
    """
    logits = logits.detach().to(torch.float64).cpu()
    class_logits = logits[:, :num_classes]
    predictions = class_logits.argmax(dim=1)
    if score == "abstain":
        if logits.shape[1] <= num_classes:
            raise ConfigError("score abstain needs a model with an abstain output (C + 1 logits)")
        values = torch.softmax(logits, dim=1)[:, num_classes]
    elif score == "max_softmax":
        others = class_logits.scatter(1, predictions[:, None], float("-inf"))
        values = torch.exp(torch.logsumexp(others, dim=1) - torch.logsumexp(class_logits, dim=1))
    else:
        raise ConfigError(f"score {score!r}; expected abstain or max_softmax")
    return values.numpy(), predictions.numpy()


def paper_split(n: int, *, validation_size: int = VALIDATION_SIZE,
                seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Indices of the "validation" and "test" parts of an ``n``-example test split, and a note when it was halved.

    The order is ``random.Random(seed).shuffle(list(range(n)))``; the first ``validation_size`` indices are the
    validation part. With ``n <= validation_size`` the first half is the validation part instead.
    """
    # a negative size would slice from the end (-5 of 50: a 45/5 split), 0 leaves no examples to fit on
    if not isinstance(validation_size, numbers.Integral) or isinstance(validation_size, bool) or validation_size < 1:
        raise ConfigError(f"validation_size={validation_size!r}; expected a whole number of examples >= 1")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    note = None
    size = validation_size
    if n <= validation_size:
        size = n // 2
        note = (f"the test split has only {n} examples (at most {validation_size}): the first half ({size}) "
                f"after shuffling is the validation part instead of {validation_size}")
    order_array = np.asarray(order, dtype=np.int64)
    return order_array[:size], order_array[size:], note


# ---------------------------------------------------------------------------------------------------------------
# The protocol on scores


def protocol_threshold(scores, coverage: float, *, tolerance: float = TOLERANCE) -> Threshold:
    """The threshold the protocol's search gives ``coverage`` on ``scores``.

    The bisection carries its threshold from one target to the next, so where it ends depends on the targets
    searched before: the paper's coverages above ``coverage`` are searched first, highest first, as
    :func:`selective_protocol` searches them. At one of :data:`PAPER_COVERAGES` this is the report's validation
    threshold; a fresh search (:func:`satlearn.evaluation.selective.bisection_threshold`) may stop elsewhere
    within the tolerance, and accept other examples.
    """
    coverage = check_coverage(coverage)
    above = [c / 100.0 for c in PAPER_COVERAGES if c / 100.0 > coverage]
    return bisection_thresholds(scores, [*above, coverage], tolerance=tolerance)[-1]


def _part_report(scores: np.ndarray, correct: np.ndarray, coverages: Sequence[float],
                 tolerance: float) -> tuple[dict[str, Any], list]:
    thresholds = bisection_thresholds(scores, coverages, tolerance=tolerance)
    rows = []
    for t in thresholds:
        coverage, error = selective_error(scores, correct, t.threshold)
        rows.append({"threshold": t.threshold, "coverage": coverage, "error": error,
                     "within_tolerance": t.within_tolerance})
    return selective_report(scores, correct), rows


def selective_protocol(scores, correct, *, coverages: Sequence[float] | None = None,
                       validation_size: int = VALIDATION_SIZE, seed: int = SPLIT_SEED,
                       tolerance: float = TOLERANCE) -> dict[str, Any]:
    """The SAT paper's evaluation of ``scores`` / ``correct`` over a whole test split (see the module notes).

    Args:
        scores: ``(N,)`` selection scores in the test split's order (higher = abstain first).
        correct: ``(N,)`` bool.
        coverages: target coverages as fractions (default: :data:`PAPER_COVERAGES` / 100).
    Returns:
        A JSON-ready dict: ``split`` (sizes, seed, note), ``coverages`` (one row per target: ``validation`` and
        ``test`` with each part's own bisection threshold, ``deployed`` = the validation threshold applied to the
        test part), and ``metrics`` (error, AURC, E-AURC, AUGRC for ``all``, ``validation`` and ``test``).
    """
    with _refused_as(DataError):
        scores, correct = check_examples(scores, correct, finite=True)  # finite: the bisection needs it
    if len(scores) < 2:
        raise DataError(f"selective evaluation needs at least 2 test examples, got {len(scores)}")
    with _refused_as(ConfigError):
        coverages = [c / 100.0 for c in PAPER_COVERAGES] if coverages is None else check_coverages(coverages)
        tolerance = check_tolerance(tolerance)
    val_idx, test_idx, note = paper_split(len(scores), validation_size=validation_size, seed=seed)
    val_metrics, val_rows = _part_report(scores[val_idx], correct[val_idx], coverages, tolerance)
    test_metrics, test_rows = _part_report(scores[test_idx], correct[test_idx], coverages, tolerance)
    rows = []
    for target, val_row, test_row in zip(coverages, val_rows, test_rows):
        coverage, error = selective_error(scores[test_idx], correct[test_idx], val_row["threshold"])
        rows.append({"target": target, "validation": val_row, "test": test_row,
                     "deployed": {"threshold": val_row["threshold"], "coverage": coverage, "error": error}})
    return {
        "split": {"seed": seed, "num_examples": int(len(scores)), "validation": int(len(val_idx)),
                  "test": int(len(test_idx)), "note": note},
        "tolerance": tolerance,
        "coverages": rows,
        "metrics": {"all": selective_report(scores, correct), "validation": val_metrics, "test": test_metrics},
    }


def held_out_protocol(val_scores, val_correct, scores, correct, *, coverages: Sequence[float] | None = None,
                      tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Thresholds fitted on a split held out of training, applied to the whole test split.

    For every target coverage a threshold is found by the protocol's bisection on ``val_scores`` (correctness
    ``val_correct``: against the labels given for those examples, noisy ones included), and the coverage and error
    it gives on the whole test split (``scores``, ``correct``) are reported, as a deployed model would meet them.
    Returns a JSON-ready dict like :func:`selective_protocol`'s: ``split`` (``calibrated_on`` ``val``, the sizes),
    ``coverages`` (one row per target: ``validation``, the bisection on the held-out split, and ``deployed``, its
    threshold on the test split), and ``metrics`` (error, AURC, E-AURC, AUGRC for ``validation`` and ``test``).
    """
    with _refused_as(DataError):
        val_scores, val_correct = check_examples(val_scores, val_correct, finite=True)
        scores, correct = check_examples(scores, correct, finite=True)
    if len(val_scores) < 2:
        raise DataError(f"fitting thresholds needs at least 2 validation examples, got {len(val_scores)}")
    if len(scores) < 1:
        raise DataError("selective evaluation needs at least 1 test example, got 0")
    with _refused_as(ConfigError):
        coverages = [c / 100.0 for c in PAPER_COVERAGES] if coverages is None else check_coverages(coverages)
        tolerance = check_tolerance(tolerance)
    val_metrics, val_rows = _part_report(val_scores, val_correct, coverages, tolerance)
    rows = []
    for target, val_row in zip(coverages, val_rows):
        coverage, error = selective_error(scores, correct, val_row["threshold"])
        rows.append({"target": target, "validation": val_row,
                     "deployed": {"threshold": val_row["threshold"], "coverage": coverage, "error": error}})
    return {
        "split": {"calibrated_on": "val", "num_examples": int(len(scores)), "validation": int(len(val_scores)),
                  "test": int(len(scores)), "note": None},
        "tolerance": tolerance,
        "coverages": rows,
        "metrics": {"validation": val_metrics, "test": selective_report(scores, correct)},
    }


# ---------------------------------------------------------------------------------------------------------------
# Runs


@dataclass
class RunScores:
    """A run's final model (or, ``best``, its best epoch's) applied to its test split."""

    run_dir: Path
    method: str
    score: str
    epoch: int  # epochs the scored weights trained: the checkpoint's, or the best epoch
    epochs: int  # epochs the run was configured for
    scores: np.ndarray  # (N,) float64, higher = abstain first
    predictions: np.ndarray  # (N,)
    labels: np.ndarray  # (N,)
    extra: dict[str, Any] = field(default_factory=dict)
    # the run's validation split (data.val_size) scored alike, with the labels given for it; scored only when asked
    val_scores: np.ndarray | None = None
    val_predictions: np.ndarray | None = None
    val_labels: np.ndarray | None = None

    @property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels

    @property
    def val_correct(self) -> np.ndarray | None:
        return None if self.val_scores is None else self.val_predictions == self.val_labels


@dataclass
class _LoadedRun:
    config: Any
    method: Any
    data: Any
    checkpoint: dict[str, Any]
    device: torch.device
    best: bool = False  # the model holds the weights of the run's best epoch (best_model.pt), not the latest
    noisy: Any = None  # the run's NoisyDataset: its validation split (val_index) and the labels given

    @property
    def epoch(self) -> int:
        """The epochs the model's weights trained: the best epoch's, or the checkpoint's."""
        from satlearn.engine.trainer import kept_best

        return kept_best(self.checkpoint)["epoch"] if self.best else self.checkpoint["epoch"]

    def best_fields(self) -> dict[str, Any]:
        """What a report of the best epoch's weights adds, as ``eval --best``'s eval_best.json does."""
        from satlearn.engine.trainer import kept_best_chosen_by

        if not self.best:
            return {}
        return {"best": True, "best_by": kept_best_chosen_by(self.checkpoint),
                "latest_epoch": self.checkpoint["epoch"]}


def _load(run_dir: Path, device: str | torch.device | None, data_root: str | Path | None,
          dataset: DatasetSplits | None = None, best: bool = False) -> _LoadedRun:
    from satlearn.engine import load_run

    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: {not_a_directory(run_dir, 'run directory')}")
    config, method, noisy, checkpoint = load_run(run_dir, device=device, data_root=data_root, dataset=dataset,
                                                 best=best)
    return _LoadedRun(config=config, method=method, data=noisy.data, checkpoint=checkpoint,
                      device=next(method.parameters()).device, best=best, noisy=noisy)


def _checked_calibration(calibrate_on: Any) -> str:
    if not isinstance(calibrate_on, str) or calibrate_on not in CALIBRATIONS:
        raise ConfigError(f"calibrate_on={calibrate_on!r}; expected one of: {', '.join(CALIBRATIONS)}")
    return calibrate_on


def _holds_val_split(run_dir: Path) -> bool:
    """Whether a run held out a validation split (``data.val_size``), read before its data are loaded (its
    checkpoint's tensors are mapped, not read)."""
    from satlearn.engine.checkpoint import load_checkpoint

    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: {not_a_directory(run_dir, 'run directory')}")
    return load_checkpoint(run_dir, mmap=True).get("val_index") is not None


def _held_out_no_val_split(run_dir: Path) -> TrainingError:
    """The one-line error for a run, trained with ``data.val_size`` 0, whose thresholds are to be fitted on its
    validation split."""
    return TrainingError(f"{run_dir}: the run held out no validation split to fit the threshold on (it trained "
                         "with data.val_size 0); a run started with --set data.val_size=N holds out N training "
                         "examples, else calibrate on the test split as the paper does")


def _refuse_without_val_split(run_dir: Path) -> None:
    """A run that held out no validation split, refused before its data are loaded."""
    if not _holds_val_split(run_dir):
        raise _held_out_no_val_split(run_dir)


def _keeps_best_weights(run_dir: Path) -> bool:
    """Whether a run keeps its best epoch's weights (``run.keep_best``), as its checkpoint's config says (a run
    started before the key was kept keeps none), read without the checkpoint's tensors."""
    from satlearn.engine.checkpoint import load_checkpoint

    return bool(load_checkpoint(run_dir, mmap=True)["config"].get("run", {}).get("keep_best", False))


@dataclass(frozen=True)
class _Needed:
    """What a run must hold to be scored as asked (its best epoch's weights, a validation split): ``held`` says
    whether it does, ``refused`` is the error for a run named on its own that does not, ``none_held`` the error
    where no run does (given the runs' names), ``left_out`` the start of the line naming a folder's runs that do
    not."""

    held: Callable[[Path], bool]
    refused: Callable[[Path], SatlearnError]
    none_held: Callable[[str], SatlearnError]
    left_out: str


def _runs_to_score(paths: list[Path], run_dirs: Sequence[str | Path], needs: Sequence[_Needed],
                   log: Callable[[str], None] | None) -> list[Path]:
    """The runs of ``paths`` that hold all ``needs``, checked from their checkpoints before any run is loaded: a
    run named on its own that lacks one is refused, a folder's runs that lack one are left out and named in one
    line to ``log`` (default: printed) once the runs left are known to be some, as ``compare`` names the runs it
    cannot show; a run lacking several is named once, for the first."""
    from satlearn.compare import run_names

    if not needs:
        return paths
    named = {user_path(d).resolve() for d in run_dirs}
    names = dict(zip(paths, run_names(paths)))
    held = [{path: need.held(path) for path in paths} for need in needs]
    for need, holds in zip(needs, held):  # a run named on its own first: it was meant to be scored
        for path in paths:
            if not holds[path] and path.resolve() in named:
                raise need.refused(path)
    lines = []
    for need, holds in zip(needs, held):
        left_out = [names[path] for path in paths if not holds[path]]
        paths = [path for path in paths if holds[path]]
        if not paths:
            raise need.none_held(", ".join(left_out))
        if left_out:
            lines.append(f"{need.left_out}: {', '.join(left_out)}")
    for line in lines:
        (print if log is None else log)(line)
    return paths


def _checked_threads(threads: Any) -> int | None:
    """``threads`` checked as ``run.threads`` is (:func:`satlearn.engine.runtime.checked_threads`)."""
    from satlearn.engine.runtime import checked_threads

    return checked_threads(threads)


def _has_abstain(method) -> bool:
    return getattr(type(method), "extra_outputs", 0) >= 1


def _resolve_for_run(run: _LoadedRun, score: str, run_dir: Path) -> str:
    resolved = resolve_score(score, has_abstain=_has_abstain(run.method), where=str(run_dir))
    # the best epoch's weights may be from before the abstain output's phase, however long the run trained after
    if resolved == "abstain" and run.epoch <= run.config.method.start_epoch:
        scored = f"best epoch {run.epoch}" if run.best else f"checkpoint after epoch {run.epoch}"
        raise ConfigError(
            f"{run_dir}: the abstain output was never trained ({scored}, "
            f"method.start_epoch={run.config.method.start_epoch}); use score max_softmax")
    return resolved


@torch.no_grad()
def _logits(run: _LoadedRun, x: torch.Tensor) -> torch.Tensor:
    from satlearn.data.loader import InMemoryLoader
    from satlearn.engine.runtime import autocast
    from satlearn.engine.trainer import use_channels_last

    loader = InMemoryLoader(x, torch.zeros(len(x), dtype=torch.int64), batch_size=run.config.data.eval_batch_size,
                            mean=run.data.mean, std=run.data.std, device=run.device,
                            channels_last=use_channels_last(run.config, run.data, run.device))
    amp = autocast(run.device, run.config.run.amp)
    was_training = run.method.training
    run.method.eval()
    out = []
    for xb, _, _ in loader.epoch(0):
        with amp if amp is not None else contextlib.nullcontext():
            out.append(run.method(xb).float().cpu())
    run.method.train(was_training)
    # (with no input, as many outputs as the model has: the abstain score looks for the extra one)
    return torch.cat(out) if out else torch.zeros(0, run.data.num_classes + type(run.method).extra_outputs)


def _test_scores(run: _LoadedRun, score: str, run_dir: Path, threads: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The run's ``(N,)`` test scores and predictions; a score that is not finite (a diverged model) is an error
    naming the run, not a crash in the threshold search. Scored with ``threads`` CPU threads, or with None the run's
    ``run.threads``, as its device and precision are the run's; the count the process had is restored after."""
    return _scored(run, run.data.x_test, score, run_dir, threads, what="test")


def _val_scores(run: _LoadedRun, score: str, run_dir: Path,
                threads: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scores and predictions of the run's validation split (``data.val_size``), as :func:`_test_scores` gives
    the test split's, and the labels given for it (noise and all: the run knows no others for a user's data)."""
    index = run.noisy.val_index
    scores, predictions = _scored(run, run.data.x_train[index], score, run_dir, threads, what="validation")
    return scores, predictions, run.noisy.labels[index].numpy()


def _scored(run: _LoadedRun, x: torch.Tensor, score: str, run_dir: Path, threads: int | None,
            *, what: str) -> tuple[np.ndarray, np.ndarray]:
    from satlearn.engine.runtime import cpu_threads

    with cpu_threads(run.config.run.threads if threads is None else threads):
        logits = _logits(run, x)
    scores, predictions = selection_scores(logits, num_classes=run.data.num_classes, score=score)
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise DataError(f"{run_dir}: {bad} of {len(scores)} {what} examples get a non-finite {score} score "
                        "(non-finite logits: a diverged model?)")
    return scores, predictions


def _data_named(run: _LoadedRun) -> dict[str, Any]:
    """The run's data as its summary.json names them: splits given to :func:`satlearn.fit` by their own name, with
    ``data_given`` true, since ``data.source`` names data such a run did not train on."""
    given = bool(run.checkpoint.get("data_given"))
    return {"data": run.data.name if given else run.config.data.source, "data_given": given}


def run_scores(run_dir: str | Path, *, score: str = "auto", device: str | torch.device | None = None,
               data_root: str | Path | None = None, dataset: DatasetSplits | None = None,
               threads: int | None = None, best: bool = False, calibrate_on: str = "test") -> RunScores:
    """Loads a run and scores its test split with ``score`` (``auto``, ``abstain`` or ``max_softmax``), with
    ``threads`` CPU threads (None: the run's ``run.threads``; the run's config is left as it is; on the CPU another
    count may change the scores' last bits); ``data_root``: where the run's data are now, if they moved;
    ``dataset``: the splits a run trained on when they were given to :func:`satlearn.fit` (both as for
    :func:`satlearn.engine.load_run`). ``extra`` holds the run's ``data`` and ``data_given`` as its summary.json
    gives them, and its ``model``. A ``~`` that ``run_dir`` starts with is the home directory, as for
    :func:`satlearn.fit`.
    ``best``: score the weights of the run's best epoch (``best_model.pt``, which a run trained with
    ``run.keep_best: true`` keeps; see :func:`satlearn.engine.load_run`) instead of the latest: ``epoch`` is that
    epoch, and ``extra`` also holds ``best`` (true), ``best_by`` (the split that picked that epoch: ``val`` where
    the run held out a validation split, ``data.val_size``, else ``test``, whose figures are then an optimistic
    estimate) and ``latest_epoch``, the epoch the checkpoint ends.
    ``calibrate_on``: ``val`` also scores the run's validation split (``data.val_size``) into ``val_scores``,
    ``val_predictions`` and ``val_labels`` (the labels given for it); a :class:`TrainingError` in one line, before
    any data are loaded, for a run that held out none."""
    threads = _checked_threads(threads)
    calibrate_on = _checked_calibration(calibrate_on)
    run_dir = user_path(run_dir)
    if calibrate_on == "val":
        _refuse_without_val_split(run_dir)
    run = _load(run_dir, device, data_root, dataset, best=best)
    resolved = _resolve_for_run(run, score, run_dir)
    scores, predictions = _test_scores(run, resolved, run_dir, threads)
    held_out = {}
    if calibrate_on == "val":
        held_out = dict(zip(("val_scores", "val_predictions", "val_labels"),
                            _val_scores(run, resolved, run_dir, threads)))
    return RunScores(run_dir=run_dir, method=run.config.method.name, score=resolved, epoch=run.epoch,
                     epochs=run.config.run.epochs, scores=scores, predictions=predictions,
                     labels=run.data.y_test.numpy(),
                     extra={**_data_named(run), "model": run.config.model.name, **run.best_fields()}, **held_out)


@dataclass
class SelectiveResult:
    """The protocol applied to one run: the JSON-ready report and the test part's risk–coverage curve."""

    report: dict[str, Any]
    curve: RiskCoverage
    label: str

    def __repr__(self) -> str:
        # the report holds a row of thresholds and errors per coverage: a notebook cell showing the result would
        # print thousands of characters of it; these are the figures one looks for, the rest is in .report
        test = self.report["metrics"]["test"]
        figures = ", ".join(f"{name}={test[name]:.4g}" for name in ("error", "aurc", "e_aurc", "augrc"))
        tested = "whole test split" if self.report.get("calibrated_on") == "val" else "test part"
        return (f"SelectiveResult(label={self.label!r}, method={self.report['method']!r}, "
                f"score={self.report['score']!r}, epoch={self.report['epoch']}/{self.report['epochs']}"
                f"{' (best)' if self.report.get('best') else ''}, {tested} "
                f"({test['num_examples']} examples): {figures}; {len(self.report['coverages'])} coverages in "
                f".report, {len(self.curve)}-point .curve)")


def evaluate_run(run_dir: str | Path, *, score: str = "auto", device: str | torch.device | None = None,
                 coverages: Sequence[float] | None = None, data_root: str | Path | None = None,
                 dataset: DatasetSplits | None = None, threads: int | None = None,
                 best: bool = False, calibrate_on: str = "test") -> SelectiveResult:
    """Scores a run's test split and applies :func:`selective_protocol`; ``data_root``, ``dataset``, ``threads``,
    ``best``: as for :func:`run_scores`. ``calibrate_on``: ``val`` fits the thresholds on the run's validation
    split instead and reports on the whole test split (:func:`held_out_protocol`); the report then holds
    ``calibrated_on`` (``val``) and its curve is the whole test split's."""
    if coverages is not None:
        with _refused_as(ConfigError):
            check_coverages(coverages)  # before the run is loaded and scored
    scored = run_scores(run_dir, score=score, device=device, data_root=data_root, dataset=dataset, threads=threads,
                        best=best, calibrate_on=calibrate_on)
    return evaluate_scores(scored, coverages=coverages, calibrate_on=calibrate_on)


def evaluate_scores(scored: RunScores, *, coverages: Sequence[float] | None = None,
                    calibrate_on: str = "test") -> SelectiveResult:
    """:func:`selective_protocol` on a :class:`RunScores`, with the run's identity added to the report;
    ``calibrate_on`` ``val``: :func:`held_out_protocol` on its validation split's scores (``val_scores``)."""
    calibrate_on = _checked_calibration(calibrate_on)
    if calibrate_on == "val" and scored.val_scores is None:
        raise ConfigError(f"{scored.run_dir}: calibrate_on='val' needs the validation split's scores; score the run "
                          "with run_scores(..., calibrate_on='val')")
    try:
        if calibrate_on == "val":
            protocol = held_out_protocol(scored.val_scores, scored.val_correct, scored.scores, scored.correct,
                                         coverages=coverages)
        else:
            protocol = selective_protocol(scored.scores, scored.correct, coverages=coverages)
    except DataError as exc:  # named by the run it is about
        raise DataError(f"{scored.run_dir}: {exc}") from None
    if calibrate_on == "val":
        test_idx = np.arange(len(scored.scores))
        calibrated = {"calibrated_on": "val"}
    else:
        _, test_idx, _ = paper_split(len(scored.scores))
        calibrated = {}
    report = {"run_dir": str(scored.run_dir), "method": scored.method, "score": scored.score,
              "epoch": scored.epoch, "epochs": scored.epochs, **scored.extra,
              "test_accuracy": float(scored.correct.mean()), **calibrated, **protocol}
    curve = risk_coverage_curve(scored.scores[test_idx], scored.correct[test_idx])
    return SelectiveResult(report=report, curve=curve, label=f"{scored.run_dir.name}: {_label_of(report)}")


def _label_of(report: dict[str, Any]) -> str:
    """The method and score of a report, for the plot's legend; and which epoch, where it is the best one."""
    best = f", best epoch {report['epoch']}" if report.get("best") else ""
    return f"{report['method']} ({report['score']}{best})"


# ---------------------------------------------------------------------------------------------------------------
# Outputs


def _pct(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{100.0 * value:.3f}"


def _exact(value: float) -> str:
    """A threshold as text that reads back as the same float: scores may differ only in their last digits (abstain
    probabilities next to 1), and a threshold rounded for show would accept other examples than the report's."""
    return repr(float(value))


def coverage_table_csv(report: dict[str, Any]) -> str:
    """One row per target coverage, values in %: each part's bisection, and the validation threshold on test (for a
    report calibrated on the run's validation split: its bisection, and its threshold on the whole test split)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if report.get("calibrated_on") == "val":
        writer.writerow(["target_coverage", "val_coverage", "val_error", "val_threshold", "test_coverage",
                         "test_error", "val_within_tolerance"])
        for row in report["coverages"]:
            val, deployed = row["validation"], row["deployed"]
            writer.writerow([f"{100.0 * row['target']:g}", _pct(val["coverage"]), _pct(val["error"]),
                             _exact(val["threshold"]), _pct(deployed["coverage"]), _pct(deployed["error"]),
                             int(val["within_tolerance"])])
        return buffer.getvalue()
    writer.writerow(["target_coverage", "val_coverage", "val_error", "val_threshold", "test_coverage", "test_error",
                     "test_threshold", "deployed_test_coverage", "deployed_test_error", "val_within_tolerance",
                     "test_within_tolerance"])
    for row in report["coverages"]:
        val, test, deployed = row["validation"], row["test"], row["deployed"]
        writer.writerow([f"{100.0 * row['target']:g}", _pct(val["coverage"]), _pct(val["error"]),
                         _exact(val["threshold"]), _pct(test["coverage"]), _pct(test["error"]),
                         _exact(test["threshold"]), _pct(deployed["coverage"]), _pct(deployed["error"]),
                         int(val["within_tolerance"]), int(test["within_tolerance"])])
    return buffer.getvalue()


def curve_csv(curve: RiskCoverage) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["coverage", "risk", "generalized_risk", "threshold"])
    for coverage, risk, generalized_risk, threshold in zip(curve.coverage, curve.risk, curve.generalized_risk,
                                                           curve.threshold):
        writer.writerow([f"{coverage:.8g}", f"{risk:.8g}", f"{generalized_risk:.8g}", _exact(threshold)])
    return buffer.getvalue()


def write_result(result: SelectiveResult, out_dir: str | Path) -> dict[str, Path]:
    """Writes ``selective_<score>.json``, ``selective_<score>.csv`` (per coverage) and
    ``selective_<score>_curve.csv`` (the test part's full curve) into ``out_dir``; returns the paths. A report of
    the best epoch's weights is written as ``selective_<score>_best...``, so that the latest weights' stay beside it;
    one calibrated on the run's validation split as ``selective_<score>_calibrated_val...`` (and ``..._best...``),
    beside the paper protocol's."""
    from satlearn.engine.checkpoint import FilesWrittenTogether, make_output_dir
    from satlearn.engine.reporting import to_json

    out_dir = make_output_dir(out_dir)
    stem = (f"selective_{result.report['score']}" + _calibrated_suffix(result.report.get("calibrated_on", "test"))
            + ("_best" if result.report.get("best") else ""))
    paths = {"json": out_dir / f"{stem}.json", "csv": out_dir / f"{stem}.csv",
             "curve": out_dir / f"{stem}_curve.csv"}
    # all three or (stopped, a full disk) none, not some beside older ones or another selective-eval's; the report,
    # last, marks them whole
    with FilesWrittenTogether(folder=out_dir) as files:
        files.write_text(paths["csv"], coverage_table_csv(result.report))
        files.write_text(paths["curve"], curve_csv(result.curve))
        files.write_text(paths["json"], to_json(result.report))
    return paths


def _calibrated_suffix(calibrate_on: str) -> str:
    """What the files of a report calibrated on the run's validation split add to their names."""
    return "_calibrated_val" if calibrate_on == "val" else ""


def plot_risk_coverage(results: Sequence[SelectiveResult], path: str | Path) -> Path:
    """Selective risk and generalized risk against coverage (the test part; the whole test split for results
    calibrated on the runs' validation splits), one line per result; each panel's legend below it."""
    from satlearn.engine.checkpoint import FilesWrittenTogether
    from satlearn.engine.reporting import fit_percent_axis, line_styles, new_figure, place_legends, plain_text

    path = user_path(path)
    fig, (ax_risk, ax_general) = new_figure(1, 2, figsize=(11, 4.5))
    for result, style in zip(results, line_styles(len(results))):
        metrics = result.report["metrics"]["test"]
        curve, label = result.curve, plain_text(result.label)
        ax_risk.plot(100 * curve.coverage, 100 * curve.risk, **style,
                     label=f"{label} — AURC {1000 * metrics['aurc']:.2f}‰")
        ax_general.plot(100 * curve.coverage, 100 * curve.generalized_risk, **style,
                        label=f"{label} — AUGRC {1000 * metrics['augrc']:.2f}‰")
    ax_risk.set_ylabel("selective error (% of accepted examples)")
    ax_general.set_ylabel("generalized risk: accepted and wrong (% of all)")
    for ax in (ax_risk, ax_general):
        ax.set_xlabel("coverage (%)")
        ax.set_xlim(0, 100)
        # a little below 0 %: a run with no error drew its curves on the frame, where they could not be seen
        fit_percent_axis(ax)
        ax.grid(alpha=0.3)
    whole = all(result.report.get("calibrated_on") == "val" for result in results)  # (curves of the whole split)
    fig.suptitle("Risk–coverage on the whole test split" if whole else
                 "Risk–coverage on the test part of the split (seed 10)")
    # below the axes, as compare's: inside, in the upper left corner, a legend covered the curve of a poor ranking,
    # whose error is highest at low coverage
    place_legends(fig, (ax_risk, ax_general), runs=len(results), fontsize=7, below=True)  # and lays the figure out
    with FilesWrittenTogether(folder=path.parent) as files:  # (which tidies what a killed selective-eval left there)
        files.write_bytes(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    return path


_PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")  # an --out named like compare's plot file


def _output_dirs(run_dirs: Sequence[Path], out: Path | None) -> list[Path]:
    from satlearn.compare import run_name

    if out is None:
        return list(run_dirs)
    taken: set[str] = set()
    dirs = []
    for run_dir in run_dirs:
        base = run_name(run_dir) or "run"  # as compare names runs
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}-{k}"
        taken.add(name)
        dirs.append(literal_path(out / name))  # a run ~x in --out . writes into ./~x, not a home directory
    return dirs


def selective_eval(run_dirs: Sequence[str | Path], *, score: str = "auto", out: str | Path | None = None,
                   device: str | torch.device | None = None, data_root: str | Path | None = None,
                   dataset: DatasetSplits | None = None, threads: int | None = None,
                   best: bool = False, calibrate_on: str = "test",
                   log: Callable[[str], None] | None = None,
                   ) -> tuple[list[SelectiveResult], list[dict[str, Path]], Path]:
    """Evaluates every run, writes its files, and draws one risk–coverage plot comparing them all.

    A directory that holds runs stands for all of them (with ``best``, for those that kept their best epoch's
    weights; with ``calibrate_on="val"``, for those that held out a validation split: ``log`` receives one line
    naming the others, as ``compare`` names the runs it cannot show; default: printed). Files go into each run
    directory, or into
    ``out/<run name>/`` with ``out``; the plot ``risk_coverage.png``
    (``risk_coverage_<score>.png`` for a score other than ``auto``, so that the same runs ranked another way do not
    overwrite it) into ``out``, or else into the runs' common parent directory (the run directory itself for a single
    run, the current directory where the runs share only the filesystem root).
    ``best``: each run's best epoch's weights (see :func:`run_scores`; a run named on its own must have kept them), into
    ``selective_<score>_best.json`` (``.csv``, ``_curve.csv``) and ``risk_coverage_best.png``
    (``risk_coverage_<score>_best.png``), beside the latest weights' files.
    ``calibrate_on``: ``val`` fits each run's thresholds on its validation split (``data.val_size``) and reports on
    the whole test split (see :func:`evaluate_run`), into ``selective_<score>_calibrated_val.json`` (``.csv``,
    ``_curve.csv``; ``_calibrated_val_best`` with ``best``) and ``risk_coverage_calibrated_val.png``
    (``risk_coverage_<score>_calibrated_val_best.png`` and so on), beside the paper protocol's; a run named on its
    own must have held one out, which is checked before any run is loaded.
    Returns the results, each run's file paths, and the plot's path. ``data_root``: where the runs' data are now,
    if they moved; ``dataset``: the splits the runs trained on when they were given to :func:`satlearn.fit`, the
    same for every run; ``threads``: the CPU threads every run is scored with (None: each run's own
    ``run.threads``; all as for :func:`run_scores`). A ``~`` that a run directory or ``out`` starts with is the home
    directory.
    """
    from satlearn.compare import run_names, unique_run_dirs
    from satlearn.engine.checkpoint import common_parent, kept_no_best_weights, make_output_dir

    if not isinstance(run_dirs, (str, bytes, os.PathLike)):  # (a lone path is refused below, not read as letters)
        run_dirs = list(run_dirs)  # read twice: a generator would be used up by the first reading
    if not run_dirs:
        raise ConfigError("selective-eval needs at least one run directory")
    threads = _checked_threads(threads)  # before any run is loaded
    calibrate_on = _checked_calibration(calibrate_on)
    # a bad --out stops before the evaluations (and is made only when they succeeded)
    out_path = make_output_dir(out, what="--out", create=False) if out is not None else None
    if out_path is not None and out_path.suffix.lower() in _PLOT_SUFFIXES and not out_path.is_dir() \
            and not str(out).endswith(("/", os.sep)):  # (plots.png/ is a folder by the user's own mark)
        raise ConfigError(f"--out {out}: selective-eval writes a folder (each run's files and the plot "
                          f"risk_coverage.png in it); expected a folder, not a {out_path.suffix} file")
    paths = unique_run_dirs(run_dirs)  # as compare takes them: a folder of runs for them all, each run once
    if not paths:  # (an empty iterator passes the check above)
        raise ConfigError("selective-eval needs at least one run directory")
    for path in paths:  # before the output folders: a run given as a file is no "output directory" of the user's
        if path.exists() and not path.is_dir():
            raise DataError(f"{path}: is a file, not a run directory")
    every_run = paths
    needs = []
    if best:
        needs.append(_Needed(
            held=_keeps_best_weights, refused=kept_no_best_weights,
            none_held=lambda names: TrainingError(f"no run kept its best epoch's weights (run.keep_best false: "
                                                  f"{names}); a run started with --set run.keep_best=true keeps "
                                                  "them in best_model.pt"),
            left_out="not scored, as no best epoch's weights were kept (run.keep_best false)"))
    if calibrate_on == "val":
        needs.append(_Needed(
            held=_holds_val_split, refused=_held_out_no_val_split,
            none_held=lambda names: TrainingError(f"no run held out a validation split to fit the thresholds on "
                                                  f"(data.val_size 0: {names}); a run started with --set "
                                                  "data.val_size=N holds out N training examples, else calibrate "
                                                  "on the test split as the paper does"),
            left_out="not scored, as no validation split was held out to fit the thresholds on (data.val_size 0)"))
    paths = _runs_to_score(paths, run_dirs, needs, log)  # before any run is loaded or any folder made
    output_dirs = _output_dirs(paths, out_path)
    for directory in output_dirs:  # each run's too: one blocked folder must not leave the others' files half-written
        try:
            make_output_dir(directory, what="output directory", create=False)
        except ConfigError as exc:
            if out_path is not None:
                raise
            # the run's own folder (a read-only copy, say): the outputs may go elsewhere, as for the other commands
            raise ConfigError(f"{exc} (--out writes the outputs elsewhere)") from None
    results = [evaluate_run(p, score=score, device=device, data_root=data_root, dataset=dataset, threads=threads,
                            best=best, calibrate_on=calibrate_on) for p in paths]
    for result, name in zip(results, run_names(paths)):  # runs of one name apart, as compare shows them
        result.label = f"{name}: {_label_of(result.report)}"
    written = [write_result(result, d) for result, d in zip(results, output_dirs)]
    # where the plot of a folder's runs goes, whichever of them were scored
    if out_path is not None:
        plot_dir = out_path
    elif len(every_run) == 1:
        plot_dir = every_run[0]
    else:
        plot_dir = common_parent(every_run)
    make_output_dir(plot_dir)
    plot_name = ("risk_coverage" + ("" if score == "auto" else f"_{score}") + _calibrated_suffix(calibrate_on)
                 + ("_best" if best else ""))
    plot = plot_risk_coverage(results, plot_dir / f"{plot_name}.png")
    return results, written, plot


# ---------------------------------------------------------------------------------------------------------------
# Predictor


def _batch_of(shape: tuple[int, ...]) -> str:
    """``(N, *shape)`` written out, for messages."""
    return f"(N, {', '.join(map(str, shape))})" if shape else "(N,)"


class SelectivePredictor:
    """A trained run plus a score and a threshold: predicts a class or abstains.

    Build it with :meth:`from_run`; the threshold is fitted, by the protocol's bisection, on the validation part of
    the run's test split (2,000 examples after the seed-10 shuffle; half of a test split of 2,000 or fewer): at a
    coverage of the report it is the report's validation threshold (:func:`protocol_threshold`), so the predictor
    accepts on the test part what the report's deployed row accepts.
    Inputs to :meth:`predict` are in the format of the run's data source (``DatasetSplits.x_test``, of shape
    ``(N, *input_shape)``): uint8 ``(N, C, H, W)`` images (normalised here as in training), standardised float
    sequences for MNIST-1D, and so on. With ``raw=True`` they are as the user's own file holds them, of shape
    ``(N, *raw_shape)``, and what the source did to that file's examples is done here: tabular sources (CSV, a
    ``.npz`` of features) standardise their columns with the training split's mean and std, so their rows are the
    file's feature columns in its order (a CSV's without its label and ``data.ignore_columns``); a ``.npz`` of
    features of more than one dimension is flattened first; a ``.npz`` of uint8 images stored channels last
    ``(N, H, W, C)`` takes them in that layout and puts their channels first (images are then normalised as
    without ``raw``). Where the validation part is too small or
    its scores too tied for the threshold to reach the coverage asked for, :meth:`from_run` warns
    (``UserWarning``) and ``validation_coverage`` gives the coverage reached.
    With ``calibrate_on="val"`` the threshold is fitted on the validation split the run held out of its training
    examples (``data.val_size``) instead, leaving the whole test split to measure the predictor on;
    ``calibrated_on`` says which.
    """

    def __init__(self, run: _LoadedRun, *, score: str, threshold: float, coverage: float,
                 validation_coverage: float, calibrated_on: str = "test") -> None:
        self._run = run
        self.score = score
        self.threshold = threshold
        self.coverage = coverage  # requested
        # reached on the examples the threshold was fitted on: the validation part, or the run's validation split
        self.validation_coverage = validation_coverage
        self.calibrated_on = calibrated_on
        # the epochs the weights trained (fewer than run.epochs: unfinished, or the best epoch's with best)
        self.epoch = run.epoch
        self.best = run.best
        self.num_classes = run.data.num_classes
        self.class_names = list(run.data.class_names)
        self.input_shape = tuple(run.data.input_shape)
        # one example as the user's file holds it, where the source reshaped it (splits built in code: the inputs'
        # own shape)
        self.raw_shape = self.input_shape if run.data.source_shape is None else tuple(run.data.source_shape)

    @classmethod
    def from_run(cls, run_dir: str | Path, *, coverage: float = 0.9, score: str = "auto",
                 device: str | torch.device | None = None, tolerance: float = TOLERANCE,
                 data_root: str | Path | None = None, dataset: DatasetSplits | None = None,
                 threads: int | None = None, best: bool = False,
                 calibrate_on: str = "test") -> "SelectivePredictor":
        """The predictor of the run in ``run_dir`` (a ``~`` it starts with is the home directory); ``data_root``,
        ``dataset``: as for :func:`run_scores`; ``threads``: the CPU threads the test split is scored with to fit the
        threshold (None: the run's ``run.threads``), as for :func:`run_scores` (:meth:`predict` runs with the
        process's own count). ``best``: with the weights of the run's best epoch (``best_model.pt``, which a run
        trained with ``run.keep_best: true`` keeps), as for :func:`run_scores`; ``epoch`` is then that epoch.
        ``calibrate_on``: ``test`` (the paper's protocol) fits the threshold on the validation part of the test split;
        ``val`` on the validation split the run held out of its training examples (``data.val_size``), against the
        labels given for them, noisy ones included, so that the whole test split is left to measure the predictor
        on; a run that held out none is a :class:`TrainingError` in one line, before its data are loaded."""
        with _refused_as(ConfigError):  # before the run is loaded and scored
            coverage = check_coverage(coverage)
            tolerance = check_tolerance(tolerance)
        threads = _checked_threads(threads)
        calibrate_on = _checked_calibration(calibrate_on)
        run_dir = user_path(run_dir)
        if calibrate_on == "val":
            _refuse_without_val_split(run_dir)
        run = _load(run_dir, device, data_root, dataset, best=best)
        epoch, epochs = run.checkpoint["epoch"], run.config.run.epochs
        if epoch < epochs:  # as `satlearn selective-eval` notes it: a predictor from weights still in training
            scored = f"its best epoch so far (epoch {run.epoch}; {epoch} of {epochs} trained)" if best else \
                f"its checkpoint after epoch {epoch} of {epochs}"
            warnings.warn(f"{run_dir}: an unfinished run, {scored}", stacklevel=2)
        resolved = _resolve_for_run(run, score, run_dir)
        if calibrate_on == "val":
            fitted_on, _, _ = _val_scores(run, resolved, run_dir, threads)
            if len(fitted_on) < 2:
                raise DataError(f"{run_dir}: fitting a threshold needs at least 2 validation examples, got "
                                f"{len(fitted_on)}")
            part = "the run's validation split"
        else:
            scores, _ = _test_scores(run, resolved, run_dir, threads)
            if len(scores) < 2:
                raise DataError(f"{run_dir}: fitting a threshold needs at least 2 test examples, got {len(scores)}")
            val_idx, _, _ = paper_split(len(scores))
            fitted_on, part = scores[val_idx], "the validation part"
        fitted = protocol_threshold(fitted_on, coverage, tolerance=tolerance)  # the report's, at its coverages
        if not fitted.within_tolerance:
            # a library does not print: a warning, which the caller may turn into an error
            warnings.warn(f"{run_dir}: the threshold reaches coverage {fitted.coverage:.4f} on {part} "
                          f"({len(fitted_on)} examples), not {coverage:g} within ±{tolerance:g} (too few or tied "
                          "scores)", stacklevel=2)
        return cls(run, score=resolved, threshold=fitted.threshold, coverage=coverage,
                   validation_coverage=fitted.coverage, calibrated_on=calibrate_on)

    def scores(self, x: Any, *, raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N,)`` predicted classes and ``(N,)`` float64 scores (higher = abstain first) for inputs ``x``;
        ``raw``: inputs as in the user's file (a table's feature columns; a ``.npz`` file's arrays in their own shape
        and layout), reshaped and standardised here as the source did its own."""
        if not isinstance(x, torch.Tensor):
            try:
                x = np.asarray(x)
            except ValueError as exc:  # ragged rows
                raise DataError(f"inputs cannot be read as one array ({exc})") from None
            real = np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_
            if not real or x.dtype == np.longdouble:
                raise DataError(f"inputs of dtype {x.dtype}; expected real numbers (int, float or bool)")
        x = torch.as_tensor(x)
        # raw: the file's shape, or the source's as raw took them before it took the file's (the two differ, so
        # that neither is taken for the other)
        from_file = raw and tuple(x.shape[1:]) == self.raw_shape != self.input_shape
        if tuple(x.shape[1:]) != self.input_shape and not from_file:
            raise DataError(f"inputs of shape {tuple(x.shape)}; this model takes {self._shapes_taken(raw)}"
                            f"{self._columns_hint(raw)}")
        if self._run.data.kind == "image" and x.dtype != torch.uint8:
            held = f"as its {self._run.data.name} file holds them" if from_file else \
                "(N, C, H, W) as the data source gives them"
            raise DataError(f"images must be uint8 {held}, got {x.dtype}")
        if from_file:
            x = self._in_source_shape(x)
        if raw:
            x = self._standardised(x)
        if self._run.data.x_test.is_floating_point() and x.dtype != self._run.data.x_test.dtype:
            x = x.to(self._run.data.x_test.dtype)  # integer or float64 inputs to a float model: its dtype
        # after the cast: a float64 1e39 is finite until it becomes float32
        if x.is_floating_point() and len(x) and not bool(torch.isfinite(x).all()):
            bad = (~torch.isfinite(x.reshape(len(x), -1))).any(dim=1)
            raise DataError(f"inputs hold NaN or infinite values (in the model's {x.dtype}) in {int(bad.sum())} of "
                            f"{len(x)} rows (first: row {int(bad.nonzero()[0, 0])}); a model's answer to them means "
                            "nothing")
        scores, predictions = selection_scores(_logits(self._run, x), num_classes=self.num_classes, score=self.score)
        return torch.from_numpy(predictions), torch.from_numpy(scores)

    def _columns_hint(self, raw: bool) -> str:
        """Which of a CSV file's columns its raw rows hold: the file's own rows hold the label and any column the run
        left out as well, which would make them too wide."""
        data = self._run.config.data
        if not raw or data.source != "csv":
            return ""
        left_out = ", ".join([data.label_column, *data.ignore_columns])
        return f" (raw rows hold the file's feature columns, in its order: not {left_out})"

    def _shapes_taken(self, raw: bool) -> str:
        """The shapes of inputs :meth:`scores` takes, for messages: where the user's file holds examples otherwise
        than the model takes them, both, as the likeliest mistake is the one given for the other."""
        taken = _batch_of(self.input_shape)
        if self.raw_shape == self.input_shape:
            return taken
        from_file = f"{_batch_of(self.raw_shape)} as its {self._run.data.name} file holds them"
        if raw:
            return f"{from_file}, or {taken} as the data source gives them"
        return f"{taken}, or with raw=True {from_file}"

    def _in_source_shape(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs of the user's file's shape in the shape its source made of that file's."""
        if self._run.data.kind == "image":  # stored channels last, which the source put first
            return x.permute(0, 3, 1, 2).contiguous()
        return x.reshape(len(x), *self.input_shape)  # features flattened in the file's (row-major) order

    def _standardised(self, x: torch.Tensor) -> torch.Tensor:
        data = self._run.data
        if data.kind == "image":
            return x  # uint8 images are scaled and normalised with the run's mean and std as each batch is made
        if data.feature_mean is None:
            raise DataError(f"raw=True: the {data.name} source does not standardise raw rows of a file; pass its "
                            "inputs as the source gives them, without raw")
        mean = torch.as_tensor(data.feature_mean, dtype=torch.float64)
        std = torch.as_tensor(data.feature_std, dtype=torch.float64)
        return ((x.to(torch.float64) - mean) / std).to(data.x_test.dtype)

    def predict(self, x: Any, *, raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N,)`` int64 predicted classes and ``(N,)`` bool abstain mask (``score > threshold``, and wherever the
        score is not a number: an answer the model cannot score is not accepted). ``raw``: see :meth:`scores`."""
        classes, scores = self.scores(x, raw=raw)
        return classes, ~(scores <= self.threshold)

    def __repr__(self) -> str:
        best = f", best epoch {self.epoch}" if self.best else ""
        calibrated = ", calibrated_on='val'" if self.calibrated_on == "val" else ""
        return (f"SelectivePredictor(score={self.score!r}, coverage={self.coverage:g}, threshold={self.threshold:.6g}, "
                f"validation_coverage={self.validation_coverage:.4f}{calibrated}{best})")
