"""The label-noise grid on CIFAR-10: (method × noise) cells, each a resumable satlearn run, one JSON per cell.

Recipes (ResNet-34, SGD 0.1, momentum 0.9, wd 5e-4, batch 256, cosine; α 0.9):
- `paper`: 200 epochs, Es 60 (the official scripts);
- `fast`: 60 epochs, Es 18 (Es scaled with the epochs).
Methods: `ce`, `sat`, `sat_sce`. Noise: `sym20/40/60/80` (symmetric, paper mode: actual error r·9/10), `pair40`,
and the CIFAR-10N human label sets `c10n-aggre`, `c10n-random1`, `c10n-worst`.

A cell whose result is already recorded (or whose run directory holds a finished run) is skipped (a result file that
cannot be read is recorded again); one with a checkpoint resumes, so the grid can be stopped at any time (or killed)
and started again, and a grid can be filled over several sittings (`--redo` records recorded cells again: from their
run directory where it holds the finished run, keeping the earlier record's training facts, else by training them;
delete a run directory to train it afresh). `--jobs K` trains K cells at once, each in its own process with its log
in `<runs-dir>/<recipe>/<cell>.log` (on an H200, ResNet-34 cells sharing the GPU finished no sooner than the same
cells one after another; Ctrl-C or SIGTERM stops them with the grid); a cell is locked while a process trains it, so
two grids started by mistake never train the same cell twice. `--pipeline` trains every cell on one of speed.py's
pipelines (`fastest`: the one that the recorded speed measurement found quickest for the cells left to train,
compilation included: once, since they share the compiler cache, and not at all where that cache holds files
already; a pipeline's epoch is the one that the cells recorded on this GPU model took, alone on it and with no
`--set` that changes an epoch's cost, where there are any, since an eager epoch varies with the machine's CPU); the
default keeps the configs' own settings. The pipeline is recorded with each cell.

    python benchmarks/prepare_cifar10.py
    setsid nohup python benchmarks/label_noise.py --recipe fast > grid.log 2>&1 &
    python benchmarks/report.py          # regenerates benchmarks/RESULTS.md from the JSON (the grid does too)

Results: benchmarks/results/label_noise/<recipe>/<method>-<noise>.json (last- and best-epoch test accuracy, actual
noise rate, wall time of the run's epochs including evaluation, how many cells shared the device, the training
pipeline, the seeds, the compiler cache's hits and misses during the cell's training, the run's resumptions and what
may make its figures differ from an uninterrupted run's (another thread count, device or pipeline); for a SAT cell,
how well its final targets single out the wrongly labelled training examples, scored as `label_issues.py` scores
satlearn), and beside it the run's per-epoch metrics (`<method>-<noise>.metrics.jsonl`, for curves.py). After every
recorded cell the grid regenerates the report from all the JSON: by default RESULTS.md beside the results directory
(benchmarks/RESULTS.md for the default one), or `--report PATH` (`none`: not at all). `--tag TAG` keeps a second set
of cells apart, in `label_noise/<recipe>_<TAG>/` (the suite times the paper cell on each GPU model this way).
`--seed N` trains the cells again with another seed, for the run and the noise's draw, apart in
`label_noise/<recipe>_seed<N>/`: how far one seed's figures can be trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CIFAR10_ROOT, CIFAR10_ROOT_HELP, COMPILER_CACHE_AT_START, RESULTS, ROOT, ResultFileError, compile_cache_counters,
    data_file, label_file_problem, missing_cifar10, override_settings, path_option, read_result, record, recording,
    run_main, speed_file_for_this_gpu, writable_dir_problem,
)
from speed import PIPELINES, fastest_pipeline  # noqa: E402

from satlearn.compare import read_metrics  # noqa: E402
from satlearn.config import load_config, overrides_for_method, to_dict  # noqa: E402
from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS  # noqa: E402
from satlearn.data.noise import read_label_file  # noqa: E402
from satlearn.engine import fit, resume_config  # noqa: E402
from satlearn.engine.checkpoint import CHECKPOINT_NAME, atomic_write_text, load_checkpoint  # noqa: E402
from satlearn.engine.runtime import cpu_threads, resolve_device  # noqa: E402
from satlearn.engine.trainer import config_differences, listed_differences, run_data  # noqa: E402
from satlearn.evaluation.detection import detection_report  # noqa: E402
from satlearn.errors import ConfigError, DataError, SatlearnError, TrainingError  # noqa: E402
from satlearn.label_issues import find_label_issues, load_run_targets  # noqa: E402
from satlearn.yaml_text import read_yaml_file  # noqa: E402

RECIPES = {"paper": [], "fast": ["run.epochs=60", "method.start_epoch=18"]}
METHODS = {
    "ce": ("cifar10_ce.yaml", []),
    "sat": ("cifar10_sat.yaml", []),
    "sat_sce": ("cifar10_sat.yaml", ["method.loss=sce"]),
}
SYMMETRIC = {f"sym{r}": ["data.noise.kind=symmetric", f"data.noise.rate={r / 100}"] for r in (20, 40, 60, 80)}
NOISES = {**SYMMETRIC, "pair40": ["data.noise.kind=pair", "data.noise.rate=0.4"],
          **{f"c10n-{key}": ["data.noise.kind=file", f"data.noise.key={key}"] for key in ("aggre", "random1", "worst")}}


SEEDED_NOISE = ("symmetric", "pair")  # the CIFAR-10N label sets are fixed files
CONFIG_SEED = 0  # run.seed and data.noise.seed in the CIFAR-10 configs: --seed 0 names the recipe's own cells


def cell_overrides(recipe: str, method: str, noise: str, *, data_root: str, cifar10n: Path,
                   extra: list[str], pipeline: str = "config") -> tuple[Path, list[str]]:
    config_file, method_overrides = METHODS[method]
    overrides = [f"data.root={data_root}", *RECIPES[recipe], *method_overrides, *NOISES[noise],
                 *([] if pipeline == "config" else PIPELINES[pipeline])]
    if noise.startswith("c10n-"):
        overrides.append(f"data.noise.file={cifar10n}")
    # extra settings are shared by every cell: a method option (method.momentum, say) goes to the methods having it
    extra = overrides_for_method(extra, method_name(method))
    return ROOT / "configs" / config_file, [*overrides, "run.progress=false", *extra]


def check_inputs(args: argparse.Namespace, cells: list[tuple[str, str]]) -> None:
    """Before the first cell trains (the CIFAR-10N cells come after the synthetic ones): the data and label files
    that the cells' own configs, with the grid's ``--set``s, read."""
    label_files: dict[str, dict[str | None, list[str]]] = {}  # file → key → the cells that read it
    for method, noise in cells:
        config_file, overrides = cell_overrides(args.recipe, method, noise, data_root=args.data_root,
                                                cifar10n=args.cifar10n, extra=args.extra)
        data = load_config(config_file, overrides).data
        missing = missing_cifar10(data.root, download=data.download)
        if missing:
            raise DataError(missing)  # one line, as satlearn's own data errors
        if data.noise.kind == "file":
            label_files.setdefault(data.noise.file, {}).setdefault(data.noise.key, []).append(cell_name(method, noise))
    for file, readers in label_files.items():
        problem = label_file_problem(file, readers, readers_are="cells")
        if problem:
            given = "--cifar10n" if file == str(args.cifar10n) else "data.noise.file"
            raise DataError(f"{given} {file}: {problem}")


def check_writable(args: argparse.Namespace) -> None:
    """Before the first cell trains: the directories its run and its result go to can be made and written (a cell
    would otherwise find out only once trained). Nothing is created here."""
    for option, directory in (("--runs-dir", args.runs_dir), ("--results-dir", args.results_dir or RESULTS)):
        problem = writable_dir_problem(directory)
        if problem:
            raise ConfigError(f"{option} {directory}: {problem}; expected a directory this process can write in")


def is_recorded(path: Path) -> bool:
    """A cell's result is recorded when its file can be read; one that cannot (a copy cut short, say) is recorded
    again, as --redo would."""
    if not path.exists():
        return False
    try:
        read_result(path)
    except ResultFileError as exc:
        print(f"{path.stem}: {exc}; recorded again", flush=True)
        return False
    return True


def _settings_recorded_otherwise(recorded_at: Path, args: argparse.Namespace, method: str) -> str:
    """For a recorded cell that is skipped, the ``--set``s now given that it was recorded with otherwise (a try-out
    with ``--set run.epochs=1`` finding a real cell, say): `` with run.epochs=200 (asked: run.epochs=1)``; nothing
    where it was recorded with them."""
    result = read_result(recorded_at)
    if "overrides" not in result:  # a record that keeps no settings (copied in by hand, say): nothing to compare
        return ""
    recorded = override_settings(result["overrides"])
    asked = override_settings(overrides_for_method(args.extra, method_name(method)))
    differing = sorted(key for key, value in asked.items() if recorded.get(key) != value)
    if not differing:
        return ""
    had = ", ".join(f"{key}={recorded[key]}" if key in recorded else f"the config's {key}" for key in differing)
    return f" with {had} (asked: {', '.join(f'{key}={asked[key]}' for key in differing)}; --tag keeps both)"


def method_name(method: str) -> str:
    """The satlearn method a grid method trains (``ce`` → ``erm``), from its config file."""
    return read_yaml_file(ROOT / "configs" / METHODS[method][0])["method"]["name"]


def cell_name(method: str, noise: str) -> str:
    return f"{method}-{noise}"


def recipe_dir(recipe: str, tag: str | None = None) -> str:
    """The directory of a recipe's cells, in the results and the runs: ``<recipe>`` or, for a tagged set of cells
    (the same cells trained again elsewhere, say on another GPU model), ``<recipe>_<tag>``."""
    return f"{recipe}_{tag}" if tag else recipe


def result_path(results_dir: Path | None, recipe: str, method: str, noise: str, tag: str | None = None) -> Path:
    return (results_dir or RESULTS) / "label_noise" / recipe_dir(recipe, tag) / f"{cell_name(method, noise)}.json"


# the descriptors of the cell locks this process holds (cell_lock)
_HELD_CELL_LOCKS: set[int] = set()


def _drop_held_cell_locks_in_child() -> None:
    """Closes a forked child's copies of the cell locks (the trainer does the same for its run lock, see
    satlearn.engine.trainer.hold_run_dir): a loader worker of the reference pipeline that lives on for seconds after
    its cell's process was killed would otherwise hold the cell's flock, and the grid started again would skip the
    cell as trained elsewhere. Not unlocked, as the parent's lock is the same one."""
    for fd in _HELD_CELL_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_CELL_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_held_cell_locks_in_child)


@contextmanager
def cell_lock(run_dir: Path):
    """Yields True while this process holds the cell's lock, False when another process trains it. The lock is
    the operating system's (flock), so it disappears with a killed process. The holder writes its process id into
    the lock file, for the suite's --status to tell a cell in training from one left stopped."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield True
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f".{run_dir.name}.lock", "a+") as handle:  # (not "w": the holder's id stays)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _HELD_CELL_LOCKS.add(handle.fileno())
        try:
            yield True
        finally:
            _HELD_CELL_LOCKS.discard(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_cell(recipe: str, method: str, noise: str, *, runs_dir: Path, results_dir: Path | None, data_root: str,
             cifar10n: Path, extra: list[str], stop_after_epoch: int | None, concurrent_cells: int = 1,
             pipeline: str = "config", tag: str | None = None) -> dict | None:
    config_file, overrides = cell_overrides(recipe, method, noise, data_root=data_root, cifar10n=cifar10n,
                                            extra=extra, pipeline=pipeline)
    config = load_config(config_file, overrides)
    run_dir = runs_dir / recipe_dir(recipe, tag) / cell_name(method, noise)
    with cell_lock(run_dir) as mine:
        if not mine:
            print(f"{run_dir.name}: being trained by another process, skipped", flush=True)
            return None
        fit_seconds = None  # the whole fit() call, set-up and compilation included; only for an uninterrupted run
        compiled = None  # this fit()'s compiler-cache hits and misses: whether a slow first epoch compiled again
        trained_earlier = False  # the run directory held the finished run: recorded, not trained, here
        finished, resume = (run_dir / "summary.json").exists(), (run_dir / CHECKPOINT_NAME).exists()
        if finished or resume:
            # --pipeline fastest weighs the cells left and the compiler cache, so it may choose otherwise than when
            # the cell started: the cell goes on, or is recorded, on the pipeline it trained on
            started = started_pipeline(run_dir, recipe, method, noise, data_root=data_root, cifar10n=cifar10n,
                                       extra=extra, asked=(pipeline, config_file, overrides, config),
                                       finished=finished)
            if started is not None:
                pipeline, config_file, overrides, config = started
        if finished:
            print(f"{run_dir.name}: finished earlier" + (f" (on the {pipeline} pipeline)" if pipeline != "config"
                                                         else ""), flush=True)
            trained_earlier = True
        else:
            counted, started = compile_cache_counters(), time.perf_counter()
            result = fit(config, run_dir, resume=resume, stop_after_epoch=stop_after_epoch, log=lambda m: None)
            elapsed = time.perf_counter() - started
            compiled = {name: count - counted[name] for name, count in compile_cache_counters().items()}
            print(f"{run_dir.name}: {'resumed, ' if resume else ''}{elapsed:.0f} s"
                  f"{' (stopped early)' if result.summary.get('stopped_early') else ''}", flush=True)
            if result.summary.get("stopped_early"):
                return None
            fit_seconds = None if resume else elapsed
    summary, history = read_finished_run(run_dir)
    for resumption in summary.get("resumptions") or []:  # what the figures are, beside an uninterrupted run's
        for caveat in resumption["caveats"]:
            print(f"  resumed after epoch {resumption['after_epoch']}: {caveat}", flush=True)
    run_seconds = sum(row["epoch_seconds"] for row in history)
    earlier = (_earlier_record(result_path(results_dir, recipe, method, noise, tag), run_dir, run_seconds)
               if trained_earlier else {})
    payload = {
        "recipe": recipe, "method": method, "noise": noise, "config": config_file.name, "overrides": overrides,
        "epochs": summary["epochs"], "actual_noise_rate": summary["noise"]["actual_rate"],
        "last_test_accuracy": summary["final_test_accuracy"], "best_test_accuracy": summary["best_test_accuracy"],
        "best_epoch": summary["best_epoch"], "run_seconds": run_seconds,
        "fit_seconds": fit_seconds, "run_device": summary["device"], "run_dir": str(run_dir),
        "concurrent_cells": concurrent_cells, "pipeline": pipeline, "runtime": summary.get("runtime"),
        "timing": summary.get("timing"), "compile_cache_counters": compiled,
        "seeds": {"run": config.run.seed,  # the noise's own seed only where it drew the noise
                  "noise": config.data.noise.seed if config.data.noise.kind in SEEDED_NOISE else None},
        "resumptions": summary.get("resumptions"),  # (None: trained before runs kept them)
        **({"tag": tag} if tag else {}), **label_issue_figures(run_dir),
        **earlier,
    }
    with cpu_threads(config.run.threads):  # the record's device names the count the cell trained with
        path = record(f"label_noise/{recipe_dir(recipe, tag)}/{cell_name(method, noise)}", payload,
                      directory=results_dir, measured_on=[summary["device"]])
    # the per-epoch metrics beside the result, so that curves.py can draw the cell from the results alone
    atomic_write_text(path.with_suffix(".metrics.jsonl"), (run_dir / "metrics.jsonl").read_text())
    print(f"  last {100 * payload['last_test_accuracy']:.2f} %, best {100 * payload['best_test_accuracy']:.2f} % "
          f"→ {path}", flush=True)
    return payload


AWAY = "move that run directory away to train the cell again"


def read_finished_run(run_dir: Path) -> tuple[dict, list[dict]]:
    """A finished run's summary and per-epoch metrics. A file there that cannot be read (a copy cut short, say) is
    this cell's trouble, not the grid's: a TrainingError that names it."""
    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text())
        path = run_dir / "metrics.jsonl"
        history = read_metrics(path)
    except DataError as exc:  # read_metrics': names the file and its line
        raise TrainingError(f"{exc}; {AWAY}") from None
    except (OSError, ValueError) as exc:  # (JSON and text decoding errors are ValueErrors)
        raise TrainingError(f"{path}: cannot be read ({exc}); {AWAY}") from None
    return summary, history


def started_pipeline(run_dir: Path, recipe: str, method: str, noise: str, *, data_root: str, cifar10n: Path,
                     extra: list[str], asked: tuple, finished: bool) -> tuple | None:
    """``(pipeline, config file, overrides, config)`` under which the run started in ``run_dir`` is this cell:
    ``asked`` (the same four, for the pipeline asked for), or the pipeline it trained on where that differs. A
    finished run of other settings (a smoke test left in the same --runs-dir, one given other noise labels or
    trained on other data) is no cell of this grid: recording it would give its figures the cell's settings, so it
    is refused, as resuming it would be (an unfinished one: None, and its resumption says so)."""
    try:  # (where config.yaml is gone, the config the run's checkpoint keeps)
        saved = to_dict(resume_config(run_dir, log=lambda message: None))
    except (ConfigError, TrainingError) as exc:  # names the file
        raise TrainingError(f"{exc}; {AWAY}") from None
    first = None
    for candidate in dict.fromkeys([asked[0], "config", *PIPELINES]):
        if candidate == asked[0]:
            settings = asked
        else:
            config_file, overrides = cell_overrides(recipe, method, noise, data_root=data_root, cifar10n=cifar10n,
                                                    extra=extra, pipeline=candidate)
            settings = (candidate, config_file, overrides, load_config(config_file, overrides))
        differences = config_differences(saved, to_dict(settings[3]))
        if not differences:
            # what the config comparison cannot tell: a resumption takes the labels and data its checkpoint kept
            _check_noise_labels(run_dir, settings[3], finished=finished)
            _check_trained_data(run_dir, settings[3], finished=finished)
            return settings
        first = first or differences
    if not finished:
        return None
    raise TrainingError(f"{run_dir}: finished earlier with another config ({listed_differences(first)}); not recorded "
                        f"as this cell: {AWAY}, or choose another --runs-dir")


def _not_this_cell(finished: bool) -> str:
    """The end of a refusal of a run that is not the cell's: it is not recorded (finished) or resumed as the cell."""
    return f"not {'recorded' if finished else 'resumed'} as this cell: {AWAY}, or choose another --runs-dir"


def _check_noise_labels(run_dir: Path, config, *, finished: bool) -> None:
    """A file-noise cell's run must have trained on that file's labels: the file's path may differ from machine to
    machine, so its content decides (a resumption goes on with the labels the run kept, not the file's)."""
    if config.data.noise.kind != "file":
        return
    try:
        with np.load(run_dir / "labels.npz") as kept:
            trained_on = kept["labels"]
    except (KeyError, ValueError, *DAMAGED_ARCHIVE_ERRORS) as exc:
        raise TrainingError(f"{run_dir / 'labels.npz'}: cannot be read ({exc}); {AWAY}") from None
    if not np.array_equal(trained_on, read_label_file(config.data.noise.file, key=config.data.noise.key)):
        raise TrainingError(f"{run_dir}: {'finished earlier' if finished else 'started'} on other noisy labels than "
                            f"{config.data.noise.file} ({config.data.noise.key}); {_not_this_cell(finished)}")


def _check_trained_data(run_dir: Path, config, *, finished: bool) -> None:
    """A run must have trained on the cell's data: ``data.root`` may differ from machine to machine, so the config
    comparison leaves it out, and the data's fingerprint that the run's checkpoint keeps decides, as it does when a
    stopped run resumes (here a refusal fails this cell alone). A run kept without its checkpoint has nothing to
    compare and passes."""
    if not (run_dir / CHECKPOINT_NAME).exists():
        return
    checkpoint = load_checkpoint(run_dir, mmap=True)  # (a checkpoint that cannot be read: a TrainingError naming it)
    try:
        run_data(config, checkpoint, run_dir, doing="record it" if finished else "resume")
    except DataError as exc:
        raise TrainingError(f"{exc}; {_not_this_cell(finished)}") from None


def _earlier_record(path: Path, run_dir: Path, run_seconds: float) -> dict:
    """A finished cell recorded again (``--redo``, a changed results format) keeps what only the process that
    trained it knew — its whole-run time, compiler-cache counts, commit, command and machine — from the earlier
    record of the same training (same run directory, same epochs' seconds), and says when and by what it was
    recorded again."""
    if not path.exists():
        return {}
    try:
        before = read_result(path)
    except ResultFileError as exc:
        print(f"  earlier record not read, so what only its training knew is not kept: {exc}", flush=True)
        return {}
    same_dir = before.get("run_dir") is not None and Path(before["run_dir"]).resolve() == run_dir.resolve()
    if not same_dir or before.get("run_seconds") != run_seconds:  # a run trained again in the same directory
        return {}
    kept = ("recorded_at", "commit", "command", "device", "compiler_cache_at_start", "fit_seconds",
            "compile_cache_counters")
    return {**{key: before[key] for key in kept if key in before}, "recorded_again": recording()}


def label_issue_figures(run_dir: Path) -> dict:
    """For a run that kept soft targets (SAT): how well its targets single out the wrongly labelled training
    examples (``satlearn.find_label_issues``' default rule and ranking against the known true labels), as
    ``benchmarks/label_issues.py`` scores satlearn; a measure left undefined, such as precision where nothing is
    flagged, is None (null in the cell's JSON); empty for a run without targets."""
    if not (run_dir / "soft_targets.npy").exists():
        return {}
    try:
        run = load_run_targets(run_dir)
    except (SatlearnError, OSError, ValueError) as exc:
        raise TrainingError(f"{run_dir}: its soft targets cannot be scored ({exc}); {AWAY}") from None
    if run.true_labels is None:
        return {}
    issues = find_label_issues(run.labels, run.soft_targets)
    truly_wrong = run.labels != run.true_labels
    return {"label_issues": {**detection_report(issues.scores, issues.flagged, truly_wrong),
                             "flagged": int(issues.flagged.sum()), "truly_wrong": int(truly_wrong.sum())}}


def cell_command(args: argparse.Namespace, method: str, noise: str, concurrent_cells: int) -> list[str]:
    """The command line that trains one cell in a process of its own (``--jobs``), recorded as one of
    ``concurrent_cells`` trainings sharing the device."""
    command = [sys.executable, str(Path(__file__).resolve()), "--recipe", args.recipe, "--methods", method,
               "--noise", noise, "--data-root", str(args.data_root), "--cifar10n", str(args.cifar10n),
               "--runs-dir", str(args.runs_dir), "--concurrent-cells", str(concurrent_cells), "--redo",
               "--pipeline", args.pipeline, "--report", NO_REPORT]  # the parent regenerates it as cells finish
    if args.results_dir is not None:
        command += ["--results-dir", str(args.results_dir)]
    if args.tag:
        command += ["--tag", args.tag]
    if args.stop_after_epoch is not None:
        command += ["--stop-after-epoch", str(args.stop_after_epoch)]
    for override in overrides_for_method(args.extra, method_name(method)):  # this cell's own
        command += ["--set", override]
    return command


def run_in_processes(args: argparse.Namespace, cells: list[tuple[str, str]]) -> int:
    """Trains ``cells`` with ``args.jobs`` processes at a time; returns how many failed. Stopped (Ctrl-C, SIGTERM),
    it stops its cells' processes too, each keeping its last checkpoint, and starts no more."""
    logs = args.runs_dir / recipe_dir(args.recipe, args.tag)
    logs.mkdir(parents=True, exist_ok=True)
    # three processes for two cells train two at a time
    concurrent_cells = args.concurrent_cells or min(args.jobs, len(cells))
    children: list[subprocess.Popen] = []
    starting = threading.Lock()  # held from the check for a stop to the child's entry in `children`
    stopping = threading.Event()

    def one(cell: tuple[str, str]) -> tuple[str, int | None, Path, bool]:
        method, noise = cell
        log = logs / f"{cell_name(method, noise)}.log"
        result = result_path(args.results_dir, args.recipe, method, noise, args.tag)
        before = result.stat().st_mtime_ns if result.exists() else None
        with open(log, "a") as handle:
            with starting:
                if stopping.is_set():
                    return cell_name(method, noise), None, log, False
                child = subprocess.Popen(cell_command(args, method, noise, concurrent_cells), stdout=handle,
                                         stderr=subprocess.STDOUT)
                children.append(child)
            code = child.wait()
        recorded_now = result.exists() and result.stat().st_mtime_ns != before  # not when stopped part-way
        return cell_name(method, noise), code, log, recorded_now

    failed = 0
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        for future in as_completed([pool.submit(one, cell) for cell in cells]):
            name, code, log, recorded_now = future.result()
            lines = log.read_text().splitlines()
            if code == 0:
                print(" / ".join(line.strip() for line in lines[-2:]), flush=True)  # they name the cell
                if recorded_now:
                    regenerate_report(args)
            elif code is not None:
                failed += 1
                print(f"{name}: FAILED (exit {code}); last lines of {log}:", *lines[-5:], sep="\n  ", flush=True)
    except BaseException:
        with starting:
            stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # each training stops as by Ctrl-C, its checkpoint kept
        for child in children:
            child.wait()
        raise
    pool.shutdown()
    return failed


NO_REPORT = "none"  # --report's word for no report at all


def report_option(text: str) -> Path | str:
    """``--report``: the file to write (as :func:`path_option` reads it), or exactly ``none`` for no report; a path
    to a file named so is written as such (``./none``)."""
    return NO_REPORT if text == NO_REPORT else path_option(text)


def report_path(args: argparse.Namespace) -> Path | None:
    """Where the grid regenerates the report: ``--report``, else RESULTS.md beside the results directory (for the
    default one, benchmarks/RESULTS.md; a scratch grid never rewrites the committed report)."""
    if args.report is not None:
        return None if args.report == NO_REPORT else args.report
    return (args.results_dir or RESULTS).parent / "RESULTS.md"


def regenerate_report(args: argparse.Namespace) -> None:
    """The report from all recorded JSON; one that cannot be made (a result file it cannot read, say) is reported in
    one line and does not stop the grid: the cells' results are recorded already."""
    out = report_path(args)
    if out is None:
        return
    import report

    try:
        report.main(["--results-dir", str(args.results_dir or RESULTS), "--out", str(out)])
    except ResultFileError as exc:  # names the file
        print(f"report not regenerated: {exc}", flush=True)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of the report is the report's, not the grid's
        print(f"report not regenerated ({type(exc).__name__}: {exc}); run benchmarks/report.py to see why",
              flush=True)


def _setting_keys(overrides) -> set[str]:
    return {override.split("=", 1)[0] for override in overrides}


# the settings that the grid gives its cells besides their pipeline's (and model.name and data.batch_size, which
# are compared): an epoch costs the same under any of their values, for the methods that the grid trains
GRID_SETTING_KEYS = {"data.root", "data.noise.file", "run.progress", "run.seed", "data.noise.seed",
                     "model.name", "data.batch_size",
                     *_setting_keys(o for overrides in RECIPES.values() for o in overrides),
                     *_setting_keys(o for _, overrides in METHODS.values() for o in overrides),
                     *_setting_keys(o for overrides in NOISES.values() for o in overrides)}


def _costs_as_its_pipeline(settings: dict[str, str], pipeline: str) -> bool:
    """Whether a cell with these settings trained as its pipeline does: a ``--set`` beyond the grid's own
    (model.width, data.eval_batch_size, run.amp over the pipeline's, ...) may make its epochs cost otherwise."""
    if pipeline not in PIPELINES:  # `config`: the configs' own settings, which no speed table times
        return False
    own = override_settings(PIPELINES[pipeline])
    return all(own[key] == value if key in own else key in GRID_SETTING_KEYS for key, value in settings.items())


def trained_epoch_seconds(results_dir: Path, *, model: str, batch_size: int, gpu: str) -> dict[str, float]:
    """Per pipeline, the median seconds of an epoch (training pass and evaluation; the first epoch, and the first
    after each resumption, left out: they compile) over the cells recorded under ``results_dir``/label_noise/ that
    trained ``model`` at ``batch_size`` alone on a GPU named ``gpu``, with no setting beyond their pipeline's and the
    grid's own. The speed table times a few epochs
    once, on one machine; an eager step waits on the host, so its epochs vary with the machine's CPU, and the
    trainings say what they cost where they ran. A record or metrics file that cannot be read is passed over: the
    choice then rests on the speed table."""
    epochs: dict[str, list[float]] = {}
    defaults: dict[str, tuple[str, int]] = {}  # config file → (model, batch size) before the record's overrides
    for path in sorted(Path(results_dir, "label_noise").glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
            if record.get("device", {}).get("gpu") != gpu or record.get("concurrent_cells", 1) != 1:
                continue
            if record["config"] not in defaults:
                config = load_config(ROOT / "configs" / record["config"], [])
                defaults[record["config"]] = (config.model.name, config.data.batch_size)
            settings = override_settings(record.get("overrides", []))
            default_model, default_batch = defaults[record["config"]]
            if (not _costs_as_its_pipeline(settings, record["pipeline"])
                    or settings.get("model.name", default_model) != model
                    or int(settings.get("data.batch_size", default_batch)) != batch_size):
                continue
            rows = read_metrics(path.with_suffix(".metrics.jsonl"))
            # a resumed training compiles again in the epoch after it resumed, as in its first
            warm_ups = {1} | {int(r["after_epoch"]) + 1 for r in record.get("resumptions") or []}
            epochs.setdefault(record["pipeline"], []).extend(float(row["epoch_seconds"]) for row in rows
                                                             if int(row["epoch"]) not in warm_ups)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, SatlearnError):
            continue
    return {pipeline: float(np.median(seconds)) for pipeline, seconds in epochs.items() if seconds}


def choose_fastest_pipeline(args: argparse.Namespace, trainings: int) -> str:
    """Resolves ``--pipeline fastest`` once, so that every cell of this grid trains on the same pipeline:
    the quickest for the ``trainings`` cells left to train, which share one compiler cache."""
    config_file, overrides = cell_overrides(args.recipe, "sat", "sym40", data_root=args.data_root,
                                            cifar10n=args.cifar10n, extra=args.extra)
    config = load_config(config_file, overrides)
    speed_file = speed_file_for_this_gpu(args.results_dir or RESULTS)
    # a cache with files in it (filled by an earlier benchmark on this machine, or carried here) spares the first
    # training its compilation; one made on another GPU or torch is not used, which costs one compilation
    compiled_before = COMPILER_CACHE_AT_START["files"] > 0
    device = resolve_device(config.run.device)
    trained = {}
    if device.type == "cuda":
        import torch

        trained = trained_epoch_seconds(args.results_dir or RESULTS, model=config.model.name,
                                        batch_size=config.data.batch_size, gpu=torch.cuda.get_device_name(device))
    chosen = fastest_pipeline(speed_file, model=config.model.name, method="sat", epochs=config.run.epochs,
                              device_type=device.type, trainings=max(trainings, 1),
                              compiled_before=compiled_before, trained_epoch_seconds=trained)
    if chosen:
        epochs = ", ".join(f"{pipeline} {seconds:.2f} s" for pipeline, seconds in sorted(trained.items()))
        print(f"--pipeline fastest: {chosen} (from {speed_file}"
              + (f" and the epochs of the trainings recorded on this GPU model: {epochs}" if trained else "")
              + f", for {trainings} cell(s), compiler cache {'filled' if compiled_before else 'empty'} at start)",
              flush=True)
    else:
        print(f"--pipeline fastest: config (no usable measurement in {speed_file})", flush=True)
    return chosen or "config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=list(RECIPES), default="fast",
                        help="paper: 200 epochs, Es 60; fast: 60 epochs, Es 18 (default: fast)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="methods to train: ce (cross-entropy), sat, sat_sce (SAT with symmetric cross-entropy) "
                             "(default: all three)")
    parser.add_argument("--noise", nargs="+", choices=list(NOISES), default=list(NOISES),
                        help="noise to train them on: symmetric sym20 to sym80, pair40, and the CIFAR-10N label sets "
                             "c10n-aggre, c10n-random1, c10n-worst (default: all)")
    parser.add_argument("--data-root", default=str(CIFAR10_ROOT), help=CIFAR10_ROOT_HELP)
    parser.add_argument("--cifar10n", type=path_option, default=data_file("cifar10n_labels.npz"),
                        help="CIFAR-10N label file (.npz)")
    parser.add_argument("--runs-dir", type=path_option, default=ROOT / "benchmarks" / "runs",
                        help="where each cell's run directory is kept, as <recipe>/<method>-<noise>/ (with --jobs, "
                             "its log beside it) (default: benchmarks/runs/)")
    parser.add_argument("--results-dir", type=path_option, default=None, help="default: benchmarks/results/")
    parser.add_argument("--stop-after-epoch", type=int, default=None, help="checkpoint and stop each cell there")
    parser.add_argument("--jobs", type=int, default=1, help="cells trained at once, each in its own process")
    parser.add_argument("--redo", action="store_true",
                        help="record cells whose result is already recorded again: from their run directory where "
                             "it holds the finished run, else by training them")
    parser.add_argument("--concurrent-cells", type=int, default=None,
                        help="how many trainings share the device, recorded with each result (default: --jobs); "
                             "set it when other trainings run beside this grid")
    parser.add_argument("--pipeline", choices=["config", *PIPELINES, "fastest"], default="config",
                        help="training pipeline, as named in speed.py; `config`: the config's own settings; "
                             "`fastest`: the fast-path pipeline that <results-dir>/speed.json (or this GPU model's "
                             "speed_<model>.json beside it) found quickest for the cells left to train on this "
                             "kind of device (compilation counted once, or not at all where the compiler cache holds "
                             "files; epochs as the cells recorded on this GPU model took them, where there are any), "
                             "else `config`")
    parser.add_argument("--tag", default=None,
                        help="train and record the cells apart from the recipe's own, in label_noise/<recipe>_<tag>/ "
                             "(say, the paper cell again on another GPU model, for its wall time there); lower-case "
                             "letters, digits and '-'")
    parser.add_argument("--seed", type=int, default=None,
                        help="train the cells with this seed, for the run (initialisation, order, augmentation) and "
                             "for the synthetic noise's draw, and record them apart, in label_noise/<recipe>_seed<N>/ "
                             "unless --tag names the set (default: the configs' own seeds, 0)")
    parser.add_argument("--report", type=report_option, default=None,
                        help="the report regenerated after every recorded cell (default: RESULTS.md beside the "
                             "results directory, so benchmarks/RESULTS.md for the default one); `none`: not at all")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override (repeatable)")
    args = parser.parse_args()
    if args.tag is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.tag):
        parser.error(f"--tag {args.tag!r}: expected lower-case letters, digits and '-' (say h100-80gb-hbm3)")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: expected at least 1")
    if args.concurrent_cells is not None and args.concurrent_cells < 1:
        parser.error(f"--concurrent-cells {args.concurrent_cells}: expected at least 1 (this grid's own trainings)")
    report = args.report if isinstance(args.report, Path) else None  # (the default is made with its results folder)
    if report is not None and report.is_dir():  # found before training, not after a cell
        parser.error(f"--report {report}: is a directory; expected the file to write (say RESULTS.md)")
    if report is not None and not report.resolve().parent.is_dir():
        parser.error(f"--report {report}: no directory {report.resolve().parent} to write it in")  # before training
    if args.stop_after_epoch is not None and args.stop_after_epoch < 1:
        parser.error(f"--stop-after-epoch {args.stop_after_epoch}: expected an epoch of at least 1")
    if args.seed is not None:
        if args.seed < 0:
            parser.error(f"--seed {args.seed}: expected a non-negative integer")
        if args.seed == CONFIG_SEED:
            print(f"--seed {args.seed} is the configs' own seed: the recipe's own cells", flush=True)
            args.seed = None
    if args.seed is not None:
        # a seed's cells are another sample of the same cells: kept apart, never over the recorded ones
        args.tag = args.tag or f"seed{args.seed}"
        args.extra = [f"run.seed={args.seed}", f"data.noise.seed={args.seed}", *args.extra]
    try:  # a --set that no method of this grid reads would be dropped from every cell
        overrides_for_method(args.extra, method_name(args.methods[0]),
                             shared_by=[method_name(method) for method in args.methods])
    except ConfigError as exc:
        parser.error(str(exc))
    cells = []
    for noise in args.noise:
        for method in args.methods:
            recorded_at = result_path(args.results_dir, args.recipe, method, noise, args.tag)
            if not args.redo and is_recorded(recorded_at):
                otherwise = _settings_recorded_otherwise(recorded_at, args, method)
                print(f"{cell_name(method, noise)}: recorded earlier{otherwise}, skipped (--redo records it again)",
                      flush=True)
            else:
                cells.append((method, noise))
    check_inputs(args, cells)
    if cells:
        check_writable(args)
    if args.pipeline == "fastest":
        args.pipeline = choose_fastest_pipeline(args, trainings=len(cells))
    if args.jobs > 1 and len(cells) > 1:
        sys.exit(1 if run_in_processes(args, cells) else 0)
    failed = 0
    for method, noise in cells:
        try:
            recorded = run_cell(args.recipe, method, noise, runs_dir=args.runs_dir, results_dir=args.results_dir,
                                data_root=args.data_root, cifar10n=args.cifar10n, extra=args.extra,
                                stop_after_epoch=args.stop_after_epoch,
                                concurrent_cells=args.concurrent_cells or 1, pipeline=args.pipeline, tag=args.tag)
        except TrainingError as exc:  # this cell's own trouble (a run of other settings, a diverged loss): the
            # others still train, as with --jobs; bad data or settings shared by all stop the grid in one line
            failed += 1
            print(f"{cell_name(method, noise)}: FAILED: {exc}", flush=True)
            continue
        if recorded is not None:
            regenerate_report(args)
    if failed:
        sys.exit(f"{failed} of {len(cells)} cells failed; see above")


if __name__ == "__main__":
    run_main(main)
