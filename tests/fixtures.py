"""Tiny stand-ins for real datasets, written in their real on-disk formats, and helpers the test files share."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import io
import os
import pickle
import runpy
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


def write_fake_cifar10(root: Path, *, per_batch: int = 8, seed: int = 0) -> Path:
    """A ``cifar-10-batches-py`` directory with five training batches and a test batch of random images."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in names]}, f)
    return folder


def write_fake_cifar100(root: Path, *, n_train: int = 40, n_test: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"fine_labels": [int(v) for v in rng.integers(0, 100, n)]}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"class{i}".encode() for i in range(100)]}, f)
    return folder


def write_class_folders(parent: Path, counts: dict[str, int], *, size: tuple[int, int] = (6, 4)) -> list[str]:
    """One folder of PNG images per class under ``parent`` (``counts``: images per class), each image a colour of
    its own, so that a pixel tells which file it came from (:func:`image_colour`); returns the files' paths
    relative to ``parent``, class by class in sorted order."""
    from PIL import Image

    files = []
    for c, name in enumerate(sorted(counts)):
        (Path(parent) / name).mkdir(parents=True, exist_ok=True)
        for i in range(counts[name]):
            Image.new("RGB", size, image_colour(c, i)).save(Path(parent) / name / f"img{i:02d}.png")
            files.append(f"{name}/img{i:02d}.png")
    return files


def image_colour(label: int, i: int) -> tuple[int, int, int]:
    """The colour of image ``i`` of class ``label`` that :func:`write_class_folders` writes."""
    return (40 * label, 10 * i, 99)


def tiny_overrides(tmp_path, *extra: str) -> list[str]:
    """Overrides that make any config run in a second or two on MNIST-1D."""
    return [
        "data.source=mnist1d", "data.num_samples=400", "data.batch_size=64", "data.eval_batch_size=256",
        "model.width=8", "run.epochs=3", "method.start_epoch=1", "run.progress=false",
        f"run.out_dir={tmp_path}", "run.device=cpu", *extra,
    ]


def interrupt_sat_in(monkeypatch, epoch_to_stop: int) -> None:
    """SAT's training step raises KeyboardInterrupt, as Ctrl-C does, in (0-based) epoch ``epoch_to_stop``; a second
    call replaces the first."""
    from satlearn.methods.sat import SAT

    training_step = getattr(SAT.training_step, "__wrapped__", SAT.training_step)

    @functools.wraps(training_step)
    def step(self, batch, epoch):
        if epoch == epoch_to_stop:
            raise KeyboardInterrupt
        return training_step(self, batch, epoch)

    monkeypatch.setattr(SAT, "training_step", step)


def drawn_figures(monkeypatch) -> list:
    """The figures satlearn saves from here on, in order, kept to be read back (its plots are drawn outside pyplot,
    so they are caught where they are saved)."""
    from matplotlib.figure import Figure

    drawn, save = [], Figure.savefig

    def saving(fig, *args, **kwargs):
        drawn.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", saving)
    return drawn


def legend_below(ax):
    """The legend drawn below ``ax``'s figure for ``ax`` (centred under it), or None."""
    fig = ax.get_figure()
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    return next((legend for legend in fig.legends
                 if abs(sum(legend.get_window_extent(renderer).intervalx) - sum(box.intervalx)) < 2), None)


def legend_texts(ax) -> list[str]:
    """The entries of ``ax``'s legend, inside it or below its figure (:func:`legend_below`)."""
    legend = ax.get_legend() or legend_below(ax)
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def contrast_on_white(colour) -> float:
    """The contrast ratio of ``colour`` against white, as WCAG measures it (1 to 21)."""
    from matplotlib.colors import to_rgb

    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 1.05 / (0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] + 0.05)


def legends_cover_no_axes(fig) -> bool:
    """Whether every legend of ``fig`` lies outside each of its axes, tick and axis labels included."""
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    return all(not legend.get_window_extent(renderer).overlaps(ax.get_tightbbox(renderer))
               for legend in legends for ax in fig.axes)


def without_a_home_directory(monkeypatch) -> None:
    """No home directory, as in a container whose user has no HOME and no passwd entry (pathlib then raises
    RuntimeError, and ``os.path.expanduser`` leaves a ``~`` as it is), and neither SATLEARN_CACHE nor XDG_CACHE_HOME
    set."""
    def no_home():
        raise RuntimeError("Could not determine home directory.")

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for name in ("HOME", "SATLEARN_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    if os.name == "posix":  # where expanduser falls back on the user's passwd entry
        monkeypatch.setattr("pwd.getpwuid", no_entry)


def threads_of_each_forward_pass(monkeypatch, *, failing: bool = False) -> list[int]:
    """The list that the torch thread count of every forward pass of a method built from now on is appended to;
    ``failing``: each such pass then stops with a RuntimeError, once its count is noted."""
    import torch

    import satlearn.engine.trainer as trainer

    counts = []
    build_method = trainer.build_method

    def noted(module, inputs):
        counts.append(torch.get_num_threads())
        if failing:
            raise RuntimeError("a forward pass that fails")

    def observed(*args, **kwargs):
        method = build_method(*args, **kwargs)
        method.register_forward_pre_hook(noted)
        return method

    monkeypatch.setattr(trainer, "build_method", observed)
    return counts


SCRIPT_TIMEOUT = 240  # seconds: under pytest-timeout's 300, so that a script that hangs is stopped here, and says where


def run_script(*command) -> subprocess.CompletedProcess:
    """Runs ``python *command`` (a script and its arguments); where it fails, the test's message holds the end of
    its output (a bare non-zero exit says nothing of why). One that hangs is stopped with SIGABRT after
    :data:`SCRIPT_TIMEOUT` seconds, which Python's fault handler answers with every thread's stack on stderr."""
    process = subprocess.Popen([sys.executable, "-X", "faulthandler", *map(str, command)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert done.returncode == 0, (f"{Path(str(command[0])).name} exited with {done.returncode}\n"
                                  f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}")
    return done


def run_script_here(*command, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``python *command`` (a script and its arguments) in this process instead: the script's ``__main__``
    entry point, with ``sys.argv`` as that command gives it, its exit status and output returned as :func:`run_script`
    returns them; with ``check``, a script that exits with an error fails the test with its output. For a test of
    what a script writes and prints, or of a refusal it makes itself, not of how a process of its own ends (signals,
    an error only the interpreter would print) or what a fresh interpreter imports: each process saves seconds of
    importing torch. What the script puts on ``sys.path`` is taken off again. The modules of its own folder
    (``common``) are imported afresh for it, with what they work out at import (the compiler cache's file count at
    start), as in a new process, and those this process had imported before are put back after it. The script runs
    on one torch thread, as under pytest-xdist (a training's ``run.threads`` still sets its own count): the tiny
    models of the tests, on two threads of a busy 2-core machine, take seconds a step."""
    from satlearn.engine.runtime import cpu_threads

    script, *arguments = map(str, command)
    stdout, stderr = io.StringIO(), io.StringIO()
    argv, path, imported_before = sys.argv, list(sys.path), _take_modules_from(Path(script).parent)
    sys.argv = [script, *arguments]
    code = None
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), cpu_threads(1):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
        sys.path[:] = path
        _take_modules_from(Path(script).parent)
        sys.modules.update(imported_before)
    if check:
        assert code in (0, None), (f"{Path(script).name} exited with {code}\n--- stdout ---\n"
                                   f"{stdout.getvalue()[-4000:]}\n--- stderr ---\n{stderr.getvalue()[-4000:]}")
    if code is not None and not isinstance(code, int):  # the interpreter prints such an exit's message, status 1
        print(code, file=stderr)
    status = code if isinstance(code, int) else 0 if code is None else 1
    return subprocess.CompletedProcess([sys.executable, script, *arguments], status, stdout.getvalue(),
                                       stderr.getvalue())


def _take_modules_from(folder: Path) -> dict[str, ModuleType]:
    """Takes the modules read from ``folder`` out of ``sys.modules``, and returns them."""
    folder = folder.resolve()
    taken = {name: module for name, module in list(sys.modules.items())
             if getattr(module, "__file__", None) and Path(module.__file__).resolve().parent == folder}
    for name in taken:
        del sys.modules[name]
    return taken


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a new module on each call: the scripts are not part of the installed package, and
    what one test sets on a module's globals must not reach the next test's copy."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Parsed(Exception):
    """Raised in place of a script's work once its arguments are parsed: the options as the script reads them."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


def parsed_options(script: str, argv: list[str], monkeypatch) -> argparse.Namespace:
    """``script``'s options as its ``main()`` parses ``argv``; nothing after the parsing runs."""
    module = load_benchmark(script)
    parse = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv])
    with pytest.raises(Parsed) as parsed:
        module.main()
    return parsed.value.namespace
