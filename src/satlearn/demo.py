"""``satlearn demo``: cross-entropy against SAT on MNIST-1D with 40 % symmetric label noise."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from satlearn.compare import plot_runs, read_run
from satlearn.config import (Config, given_by, load_config, override_keys, overrides_for_method,
                              overrides_from_dict)
from satlearn.engine import fit
from satlearn.engine.checkpoint import (CHECKPOINT_NAME, RUN_FILES, atomic_write_text, claim_new_dir, is_run_dir,
                                       load_checkpoint, make_output_dir)
from satlearn.engine.reporting import noise_description, to_json
from satlearn.engine.runtime import check_device_here
from satlearn.engine.trainer import RunDirectoryBusy, hold_run_dir, refuse_if_trained_elsewhere
from satlearn.evaluation.detection import format_measure
from satlearn.errors import ConfigError, DataError, not_a_directory
from satlearn.paths import user_path

DEMO_OVERRIDES = (
    "data.source=mnist1d",
    "data.noise.kind=symmetric",
    "data.noise.mode=paper",
    "model.name=cnn1d",
    "model.width=64",
)
DEMO_NOISE_RATE = "data.noise.rate=0.4"


DEMO_METHODS = ("erm", "sat")

# the demo sets these itself: one run per method, named by the method, in the demo's directory
DEMO_OWN_KEYS = ("method.name", "run.out_dir", "run.name")

_SOURCE_NAMES = {"mnist1d": "MNIST-1D", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}

# the --set overrides a demo was started with, kept in its directory so that --resume trains the missing run alike
REQUEST_NAME = "demo_request.json"
SUMMARY_NAME = "demo_summary.json"  # written last: a demo that has it is finished


def demo_config(method: str, *, out_dir: str | Path, overrides: tuple[str, ...] = ()) -> Config:
    """The demo's configuration for ``method`` (``erm`` or ``sat``); everything else is shared."""
    for text in overrides:
        if set(override_keys(text)) & set(DEMO_OWN_KEYS):
            raise ConfigError(f"--set {text}: the demo sets {', '.join(DEMO_OWN_KEYS)} itself (CE and SAT runs "
                              "named erm and sat in its output directory); train other runs with satlearn train")
    # a --set of SAT's own settings (method.momentum, say) is SAT's: the CE run, which does not read them, leaves it
    overrides = overrides_for_method(overrides, method, shared_by=DEMO_METHODS)
    # the directory as YAML text that reads back as this string, whatever it looks like ("2e5", "off", "a: b")
    out_dir_override = overrides_from_dict({"run": {"out_dir": str(out_dir)}})
    shared = [*DEMO_OVERRIDES, f"method.name={method}", *out_dir_override, f"run.name={method}"]
    config = load_config(None, [*shared, *overrides])
    if config.data.noise.kind in ("symmetric", "pair"):
        # the demo's rate only where the kind has one: with the noise switched off it would be an error; a rate
        # the user sets comes later and wins
        config = load_config(None, [*shared, DEMO_NOISE_RATE, *overrides])
    return config


def demo_title(config: Config) -> str:
    """The plot's and table's title: the data and the label noise they were trained with."""
    return f"{_SOURCE_NAMES.get(config.data.source, config.data.source)}, {noise_description(config.data.noise)}"


def _flag_measure(issues: dict[str, Any], key: str) -> str:
    """A run's label-issue ``key`` (precision or recall) for the table: "—" for a run without label issues (CE keeps
    no targets to flag by), "n/a" where the measure is undefined (precision with nothing flagged), as satlearn prints
    undefined measures elsewhere."""
    return format_measure(issues.get(key), ".1%") if issues else "—"


def format_table(results: dict[str, dict[str, Any]]) -> str:
    header = ["method", "noise (actual)", "final test acc", "best test acc", "wall s", "flagged", "precision", "recall"]
    rows = [header]
    for name, s in results.items():
        issues = s.get("label_issues") or {}
        pct = lambda v: "—" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        rows.append([
            name,
            pct(s["noise"]["actual_rate"]),
            pct(s["final_test_accuracy"]),
            f"{pct(s['best_test_accuracy'])} (ep {s['best_epoch']})",
            f"{s['wall_seconds']:.1f}",
            str(issues.get("flagged", "—")),
            _flag_measure(issues, "precision"),
            _flag_measure(issues, "recall"),
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    # no padding after the last cell (a CE row ends in dashes), as compare's table: none in a log or a pasted copy
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _requested_overrides(out_dir: Path) -> tuple[str, ...]:
    """The overrides an interrupted demo in ``out_dir`` was started with. Errors name ``--resume`` and the folder,
    as the command's other options are named with their value."""
    given = f"--resume {out_dir}"
    if not out_dir.is_dir():
        raise DataError(f"{given}: {not_a_directory(out_dir, 'demo output directory')}")
    if (out_dir / SUMMARY_NAME).exists():
        raise ConfigError(f"{given}: the demo already finished; nothing to resume (its results are in "
                          f"{SUMMARY_NAME})")
    try:
        overrides = json.loads((out_dir / REQUEST_NAME).read_text())["overrides"]
    except FileNotFoundError:
        raise DataError(f"{given}: holds no {REQUEST_NAME}, so the settings its demo was started with are "
                        "unknown; finish its runs with satlearn train --resume, or start a new demo") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{given}: its {REQUEST_NAME} is unreadable ({type(exc).__name__}: {exc}); start a new "
                        "demo") from None
    if not (isinstance(overrides, list) and all(isinstance(text, str) for text in overrides)):
        raise DataError(f"{given}: its {REQUEST_NAME}'s 'overrides' is not a list of strings; start a new demo")
    return tuple(overrides)


def _device_given(overrides: tuple[str, ...], requested: tuple[str, ...], out_dir: Path) -> str:
    """Where a resumed demo's ``run.device`` came from, for an error about it: the last ``--set`` of this command
    that sets it, else the setting its demo was started with (a GPU demo resumed on a machine without one)."""
    kept = next((text for text in reversed(requested) if "run.device" in override_keys(text)), None)
    started_with = "run.device" if kept is None else f"--resume {out_dir}: its {REQUEST_NAME} sets {kept}"
    return given_by("run.device", overrides, started_with)


def _refuse_runs_another_process_trains(out_dir: Path, *, resume: bool) -> None:
    """Stops a demo whose run directories another process trains in (a demo still running there, perhaps still
    loading its data, with no checkpoint yet) before anything is written: a demo --resume, which the refusal of a
    folder holding the demo's runs advises, would be refused while that process trains. Each lock is taken only for
    the check and released at once, so that the demo's own training takes it again."""
    for method in DEMO_METHODS:
        run_dir = out_dir / method
        if not run_dir.is_dir():
            continue
        try:
            refuse_if_trained_elsewhere(run_dir, resume=resume)
        except RunDirectoryBusy:
            advice = ("wait for it to finish (or stop it) before resuming the demo" if resume else
                      "wait for it to finish (or stop it), or choose another --out")
            raise RunDirectoryBusy(f"demo output directory {out_dir}: another process is training the demo's {method} "
                                   f"run in it; {advice}") from None


def _refuse_a_run_directory(out_dir: Path) -> None:
    """A training run's own directory given for the demo's: the demo's runs, plot and summary would be put among the
    run's files (which it writes none of), and the folder read as that one run by compare, eval and train --resume,
    its demo's runs inside it unseen."""
    if is_run_dir(out_dir):  # (not a project's folder that has a config.yaml or summary.json of its own)
        held = [name for name in RUN_FILES if (out_dir / name).is_file()]
        named = ", ".join(held[:2]) + (", ..." if len(held) > 2 else "")
        raise ConfigError(f"--out {out_dir}: a training run's directory (it holds {named}), which the demo's runs and "
                          "files would be mixed into; choose another --out")


@contextlib.contextmanager
def _hold_demo_dir(out_dir: Path, *, resume: bool):
    """Within the block this process alone runs a demo in ``out_dir``: a second demo there (one started at the same
    instant, before the first has a run directory to refuse it by) stops before it checks or writes anything, leaving
    the first's ``demo_request.json`` as it was. The lock is a run directory's
    (:func:`~satlearn.engine.trainer.hold_run_dir`), taken on the demo's folder."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(hold_run_dir(out_dir, resume=resume))
        except RunDirectoryBusy:
            advice = ("wait for it to finish (or stop it) before resuming the demo" if resume else
                      "wait for it to finish (or stop it), or choose another --out")
            raise RunDirectoryBusy(f"demo output directory {out_dir}: another demo is running in it; "
                                   f"{advice}") from None
        yield


def run_demo(out_dir: str | Path | None = None, *, overrides: tuple[str, ...] = (), progress: bool = True,
             log: Callable[[str], None] = print, resume: bool = False) -> dict[str, Any]:
    """Trains cross-entropy and SAT with the same data, noise, model and seed; writes a table, JSON and a PNG.

    ``resume``: finish the interrupted demo in ``out_dir``, with the settings it was started with: a finished run
    is kept, an interrupted one resumes from its checkpoint, a missing one is trained. Returns the JSON content
    (``demo_summary.json``): both runs' summaries and the wall time of the whole demo (of this process, if resumed).
    """
    started = time.perf_counter()
    time_stamped = out_dir is None
    if time_stamped:
        if resume:
            raise ConfigError("resuming a demo needs its output directory")
        out_dir = Path("runs") / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    out_dir = user_path(out_dir)  # as fit expands its run directories: one folder throughout
    if resume:
        from satlearn.engine.trainer import RESUME_FREE_KEYS

        for text in overrides:  # how it runs may change, as for any resumed run (run.device=cpu, say)
            if not set(override_keys(text)) <= RESUME_FREE_KEYS:
                changeable = sorted(RESUME_FREE_KEYS - set(DEMO_OWN_KEYS))
                raise ConfigError(f"--set {text}: a resumed demo keeps the settings it was started with; only how "
                                  f"it runs may change ({', '.join(changeable)})")
        requested = _requested_overrides(out_dir)
        device_given = _device_given(overrides, requested, out_dir)
        overrides = (*requested, *overrides)
    else:
        device_given = given_by("run.device", overrides, "run.device")
    labels = dict(zip(DEMO_METHODS, ("CE", "SAT")))
    # both configs are checked before anything is trained or written: a bad override costs no CE run
    configs = {method: demo_config(method, out_dir=out_dir, overrides=overrides) for method in labels}
    for config in configs.values():  # (only a --set gives the demo another device than auto)
        check_device_here(config.run.device, given=device_given)
    if time_stamped:
        # taken by creating it, -2, -3, ... added where a demo started in the same second has it; the configs,
        # checked with the name before anything was created, are given the one taken
        out_dir = claim_new_dir(out_dir, what="demo output directory")
        for config in configs.values():
            config.run.out_dir = str(out_dir)
    else:
        if not resume:
            _refuse_a_run_directory(out_dir)
        make_output_dir(out_dir, what="demo output directory")
    with _hold_demo_dir(out_dir, resume=resume):
        return _train_and_report(out_dir, configs, labels, overrides, started=started, log=log, resume=resume,
                                 progress=progress)


def _train_and_report(out_dir: Path, configs: dict[str, Config], labels: dict[str, str], overrides: tuple[str, ...],
                      *, started: float, log: Callable[[str], None], resume: bool,
                      progress: bool) -> dict[str, Any]:
    """:func:`run_demo` from its checks of ``out_dir`` on, with the demo's folder held. ``progress`` False hides
    the runs' bars for this process only (fit's ``progress``), as a terminal's absence does for ``train``: the
    runs' configs do not keep it; True leaves it to ``run.progress``, so that a --set run.progress=false is kept."""
    _refuse_runs_another_process_trains(out_dir, resume=resume)
    if not resume:
        taken = [method for method in labels if (out_dir / method / CHECKPOINT_NAME).exists()]
        if taken:
            raise ConfigError(f"demo output directory {out_dir}: already holds the demo's {taken[0]} run; choose "
                              "another --out (or finish an interrupted demo with satlearn demo --resume)")
        atomic_write_text(out_dir / REQUEST_NAME, to_json({"overrides": list(overrides)}))
    results = {}
    for method, config in configs.items():
        run_dir = out_dir / method
        if resume and (run_dir / "summary.json").exists():
            log(f"{labels[method]}: finished earlier")
            results[labels[method]] = json.loads((run_dir / "summary.json").read_text())
            continue
        again = resume and (run_dir / CHECKPOINT_NAME).exists()
        if again:  # where it continues from, not only how long it is
            done = load_checkpoint(run_dir, mmap=True)["epoch"]
            log(f"resuming {labels[method]} after epoch {done} of {config.run.epochs} ...")
        else:
            log(f"training {labels[method]} ({config.run.epochs} epochs) ...")
        result = fit(config, run_dir, resume=again, log=lambda message: None, progress=None if progress else False)
        results[labels[method]] = result.summary
    title = demo_title(configs["sat"])
    plot_runs([read_run(out_dir / method, name=labels[method]) for method in DEMO_METHODS],
              out_dir / "demo_accuracy.png", title=title)
    summary = {
        "title": title,
        "runs": results,
        "sat_minus_ce_final": results["SAT"]["final_test_accuracy"] - results["CE"]["final_test_accuracy"],
        "demo_wall_seconds": time.perf_counter() - started,
        **({"resumed": True} if resume else {}),
    }
    atomic_write_text(out_dir / SUMMARY_NAME, to_json(summary))
    log("")
    log(title)
    log(format_table(results))
    log(f"SAT − CE (final test accuracy): {100 * summary['sat_minus_ce_final']:+.1f} points; "
        f"whole demo {summary['demo_wall_seconds']:.1f} s")
    log(f"plot: {out_dir / 'demo_accuracy.png'}; refined labels: {out_dir / 'sat' / 'refined_labels.csv'}")
    return summary
