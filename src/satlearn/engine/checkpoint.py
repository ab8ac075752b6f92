"""Checkpoints written atomically: a crash mid-write leaves the previous checkpoint intact."""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import functools
import importlib
import io
import itertools
import os
import pickle
import re
import secrets
import stat
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from satlearn.config import Config, from_dict_exact
from satlearn.errors import ConfigError, TrainingError, first_line, not_a_directory
from satlearn.paths import literal_path, pasteable_path, user_path
from satlearn.yaml_text import YamlFileError, read_yaml_file

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1
# run.keep_best: the weights of the run's best epoch by test accuracy. They reach the disk with the checkpoint that
# first records that epoch as the best: written under BEST_PENDING_NAME before it, renamed to BEST_NAME once it has
# landed, so that BEST_NAME never holds an epoch that the checkpoint on disk does not record as the best, and a
# process stopped in between leaves the weights the checkpoint names (see settle_best_weights)
BEST_NAME = "best_model.pt"
BEST_PENDING_NAME = ".best_model.pt.pending"


def temporary_name(name: str) -> str:
    """A new ``.NAME.<random>.tmp``, the hidden file that an atomic write of the file ``name`` fills before renaming
    it to ``name``; always as long (its random part has a fixed length), so the longest name a write creates."""
    return f".{name}.{secrets.token_hex(4)}.tmp"


def _create_beside(path: Path) -> tuple[BinaryIO, Path]:
    """A new, empty :func:`temporary_name` beside ``path``, open for writing. Created with mode 0666 so that the
    kernel applies the umask (and any default ACL) as for any new file; mkstemp's would be private (0600)."""
    for _ in range(100):
        tmp = path.parent / temporary_name(path.name)
        try:
            # the file object is made with its descriptor inside it, so that neither is lost between two calls
            return io.open(tmp, "xb", opener=functools.partial(os.open, mode=0o666)), tmp
        except FileExistsError:
            continue
        except OSError:
            raise
        except BaseException:
            # Ctrl-C as the file was made: the object, and with it the descriptor, is gone; the file is not
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


# how long a lock that another process holds is waited for before the directory counts as that process's training: a
# command reading a run that holds no file yet takes the lock for an instant to learn whether a training is loading its
# data there (started_elsewhere), and a training that starts at that instant must not be refused for it
LOCK_WAIT_S = 0.5


def lock_soon(fd: int, *, wait_s: float | None = LOCK_WAIT_S) -> bool | None:
    """Takes the exclusive lock on ``fd`` (see :func:`satlearn.engine.trainer.hold_run_dir`), waiting up to
    ``wait_s`` seconds (None: as long as it takes) for another holder to let go; False where it still holds it. None
    where the filesystem has no flock (some network ones), where the caller goes on unlocked, as before. (Called
    where the OS has ``flock``.)"""
    import fcntl

    if wait_s is None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        except OSError:
            return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        except OSError:
            return None


# the hidden file in a command's output folder that is locked while a set of files is written there
# (FilesWrittenTogether's folder)
OUTPUT_LOCK_NAME = ".satlearn.lock"


@contextlib.contextmanager
def _hold_output_dir(folder: Path):
    """Within the block this process alone writes a set of files into ``folder`` (:class:`FilesWrittenTogether`),
    another waiting for it to finish: an advisory lock on a hidden file there (not on the folder itself, which a
    training may hold for hours where the folder is its run directory), removed again by its holder. Yields whether it
    is held: False where the OS or filesystem has no ``flock``, or the lock file cannot be made (a folder that cannot
    be written in, whose files' own errors then say so)."""
    try:
        import fcntl  # noqa: F401  (none on Windows)
    except ImportError:
        yield False
        return
    path = folder / OUTPUT_LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:
            yield False
            return
        try:
            held = lock_soon(fd, wait_s=None)
            try:  # the file locked is still the one of that name: a holder that let go of it removed it first
                same = held is None or os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:
                same = False
        except BaseException:  # Ctrl-C while waiting
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield bool(held)
    finally:
        if held:  # (a waiter then finds the name gone and makes it again)
            with contextlib.suppress(OSError):
                os.unlink(path)
        os.close(fd)  # (which lets the lock go)


def _is_temporary_of(entry: str, name: str) -> bool:
    """Whether ``entry`` is a :func:`temporary_name` of the file ``name``."""
    return re.fullmatch(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}\.tmp", entry) is not None


class FilesWrittenTogether:
    """A set of files that a command writes as one result (find-issues' CSV, arrays, summary and plot): each is
    written to a temporary file beside it as it is given, and only leaving the ``with`` block renames them all into
    place. A failure or an interrupt while the set is made (a full disk, Ctrl-C during a plot) leaves every one of the
    files as it was, instead of some new ones beside others of an earlier call; the temporary files are removed.
    An ``OSError`` of a file names that file, not its temporary twin.

    ``folder``: the one folder the files are in, where another process (the same command started twice) may write the
    same set at the same time. The block then holds that folder's lock (:func:`_hold_output_dir`) from its start to
    the last rename, waiting for another holder, so that the files in place are all of one set; holding it, it also
    removes the temporary files of the set's names that a process killed earlier (``kill -9``) left there, as no other
    process writes those names then (the commands that write them hold the lock as they do). With more than one
    file, the last given marks the set whole: an earlier one is removed before the others are renamed into place,
    and it is renamed last, so that a process killed among the renames leaves a set without it rather than one that
    reads as whole."""

    def __init__(self, *, folder: str | Path | None = None) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (file, its filled temporary twin), in the order given
        self._removed: list[Path] = []  # files of the set that this call has none of
        self._folder = None if folder is None else Path(folder)
        self._lock: contextlib.ExitStack | None = None
        self._locked = False

    def write_bytes(self, path: str | Path, write) -> None:
        """Calls ``write(file)`` on a temporary file beside ``path``, to take ``path``'s place with the others."""
        path = Path(path)
        with _naming_the_file(path):
            f, tmp = _create_beside(path)
            self._staged.append((path, tmp))  # from here on, removed unless it takes its place
            with f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # a file being replaced keeps the mode its owner gave it
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))

    def write_text(self, path: str | Path, text: str) -> None:
        self.write_bytes(path, lambda f: f.write(text.encode()))

    def remove(self, path: str | Path) -> None:
        """Removes ``path`` where it exists, with the renames: a file of the set that this call does not write (an
        earlier call's plot, which would stand beside the new files as theirs)."""
        self._removed.append(Path(path))

    def __enter__(self) -> FilesWrittenTogether:
        if self._folder is not None:
            self._lock = contextlib.ExitStack()
            self._locked = self._lock.enter_context(_hold_output_dir(self._folder))
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                if self._folder is not None and len(self._staged) > 1:
                    with _naming_the_file(self._staged[-1][0]):
                        self._staged[-1][0].unlink(missing_ok=True)
                for path, tmp in self._staged:
                    with _naming_the_file(path):
                        os.replace(tmp, path)
                for path in self._removed:
                    path.unlink(missing_ok=True)
        finally:
            for _, tmp in self._staged:  # (one renamed already is no longer there)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if self._locked:
                self._remove_left_temporaries()
            self._staged.clear()
            self._removed.clear()
            if self._lock is not None:
                self._lock.close()
                self._lock, self._locked = None, False

    def _remove_left_temporaries(self) -> None:
        """Removes the temporary files of the set's names in its folder: under the lock, none is a live writer's."""
        names = {path.name for path, _ in self._staged} | {path.name for path in self._removed}
        with contextlib.suppress(OSError):
            for entry in os.scandir(self._folder):
                if any(_is_temporary_of(entry.name, name) for name in names):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


@contextlib.contextmanager
def _naming_the_file(path: Path):
    """Within the block, an ``OSError`` naming ``path``'s temporary twin or no file names ``path`` instead."""
    try:
        yield
    except OSError as exc:
        renamed = _naming_the_target(exc, path)
        if renamed is None:
            raise
        raise renamed from exc


def atomic_write_bytes(path: Path, write) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it over ``path``."""
    with FilesWrittenTogether() as files:
        files.write_bytes(path, write)


def _naming_the_target(exc: OSError, path: Path) -> OSError | None:
    """The same error naming the file being written, where ``exc`` names its hidden temporary twin
    (``.NAME.<random>.tmp``) or no file (a full disk's); ``None`` where it names another file or has no error
    number (a message of its own)."""
    if exc.errno is None:
        return None
    if exc.filename is not None and not Path(str(exc.filename)).name.startswith(f".{path.name}."):
        return None
    try:
        return type(exc)(exc.errno, exc.strerror, str(path))
    except TypeError:  # an OSError subclass of another signature: as it is
        return None


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


class _WritesOnly:
    """A file seen only through its ``write``: numpy then writes an array to it in chunks, through that ``write``,
    whose failure carries its cause (a full disk: ENOSPC), and not with C's fwrite on the file's descriptor, whose
    failure it reports without one ("16000 requested and 992 written"), so that no message named the cause or the
    file."""

    def __init__(self, file: BinaryIO) -> None:
        self.write = file.write


def save_npy(file: BinaryIO, array: np.ndarray) -> None:
    """``np.save(file, array)``, for :func:`atomic_write_bytes`: a write that fails is an ``OSError`` with its error
    number, which names the file being written."""
    np.save(_WritesOnly(file), array)


def common_parent(paths) -> Path:
    """The deepest directory holding every one of ``paths`` (resolved), where a plot of them all goes by default;
    the current directory when they share only the filesystem root, which is nobody's place for an output. Where
    every path is relative and it lies in the current directory, it is relative too (``runs`` for ``runs/a`` and
    ``runs/b``): a command prints the plot's path as the user wrote the runs', as it prints a path given for it."""
    common = Path(os.path.commonpath([str(Path(p).resolve()) for p in paths]))
    if common.parent == common:
        return Path.cwd()
    if not any(Path(p).is_absolute() for p in paths):
        with contextlib.suppress(ValueError):  # (elsewhere, through a .. or a symbolic link: the resolved path)
            return literal_path(common.relative_to(Path.cwd().resolve()))
    return common


# What training writes into a run directory (the outputs of other commands, e.g. eval.json, are theirs).
RUN_FILES = (CHECKPOINT_NAME, "config.yaml", "labels.npz", "metrics.jsonl", "metrics.csv", "summary.json",
             "curves.png", "refined_labels.csv", "soft_targets.npy", BEST_NAME)


def _refuse_empty(out: str | Path, what: str) -> None:
    if not str(out).strip():  # an unset shell variable, say: Path("") would be the current directory
        raise ConfigError(f"{what} is empty; expected a path")


def output_file(out: str | Path, default_name: str, *, what: str = "--out") -> Path:
    """The file an ``--out`` names: ``out`` itself, or ``out/default_name`` where ``out`` is a folder (one that
    exists, or a new one written with a trailing separator, ``plots/``); ``~`` is the home directory. A run's own
    file (its checkpoint, config, metrics...) is refused: a command's output written over it would lose the run."""
    _refuse_empty(out, what)
    path = user_path(out)
    if path.is_dir() or str(out).endswith(("/", os.sep)):
        return path / default_name
    if path.name in RUN_FILES and is_run_dir(path.parent):
        if path.exists():
            raise ConfigError(f"{what} {path}: would be written over, and it is a file of the run in {path.parent}; "
                              "expected another file name, or a folder")
        # a run still training (or stopped, to be resumed) writes it later: over this output, which until then
        # stands in for the run's own file (a plot as its summary.json)
        if not (path.parent / "summary.json").exists():
            raise ConfigError(f"{what} {path}: a file that the unfinished run in {path.parent} writes once it "
                              "gets there; expected another file name, or a folder")
    return path


def is_run_dir(directory: Path) -> bool:
    """Whether ``directory`` is a training run's: it holds what every run holds from its start, its labels, then its
    metrics and checkpoint (a folder holding a ``config.yaml`` or ``summary.json`` alone may be anything)."""
    return any((directory / name).exists() for name in ("labels.npz", "metrics.jsonl", CHECKPOINT_NAME))


def make_output_dir(path: str | Path, *, what: str = "output directory", create: bool = True) -> Path:
    """Creates directory ``path`` (and its parents) if needed; a path that cannot be one is a one-line error.

    ``what`` names the path in the error, e.g. ``"--out"``. ``create=False`` only checks, for a command that
    should stop early on a bad path but write nothing before its work has succeeded. A ``~`` that ``path`` starts
    with is the home directory.
    """
    _refuse_empty(path, what)
    path = user_path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            blocked = "is a file" if part == path else f"is under {part}, which is a file"
            raise ConfigError(f"{what} {path}: {blocked}, not a directory")
    if not create:
        existing = next(part for part in (path, *path.parents, Path(".")) if part.exists())
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"{what} {path}: {existing} is not writable")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot create the directory ({exc.strerror or exc})") from None
    return path


def claim_new_dir(path: str | Path, *, what: str) -> Path:
    """Creates directory ``path``, or where it exists ``path-2``, ``-3``, ...: for a time-stamped name, which a
    command started in the same second (a sweep started with ``&``) may have taken already. The directory is taken
    by creating it, which only one process can do, so two never share one. ``what`` names it in errors."""
    path = Path(path)
    make_output_dir(path, what=what, create=False)  # a file in the way, or no write access, named
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for number in itertools.count(1):
            candidate = path if number == 1 else path.with_name(f"{path.name}-{number}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise TrainingError(f"{path}: {what} is not writable ({exc.strerror or exc})") from None


def save_checkpoint(state: dict[str, Any], run_dir: Path) -> Path:
    path = Path(run_dir) / CHECKPOINT_NAME
    atomic_write_bytes(path, lambda f: torch.save({"format": FORMAT_VERSION, **state}, f))
    return path


def save_pending_best(best: dict[str, Any], run_dir: Path) -> Path:
    """Writes the best epoch's weights (``epoch``, ``test_accuracy``, ``model``: the model's state dict) under
    :data:`BEST_PENDING_NAME`, to be renamed to :data:`BEST_NAME` once the checkpoint recording that epoch is
    written."""
    path = Path(run_dir) / BEST_PENDING_NAME
    atomic_write_bytes(path, lambda f: torch.save({"format": FORMAT_VERSION, **best}, f))
    return path


def stage_to_cpu(state: Any) -> tuple[Any, list[torch.cuda.Event]]:
    """Starts a copy of ``state`` (nested dicts, lists and tuples) whose tensors are detached CPU copies, and returns
    it with the CUDA events that mark its copies done: CPU tensors are copied at once; CUDA tensors go to pinned memory
    asynchronously on their device's current stream, so the host does not wait for them and the GPU only for the
    transfer itself, and later work on that stream cannot change them first. Read the copy after the events."""
    cuda_devices: set[torch.device] = set()

    def stage(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            value = value.detach()
            if value.device.type != "cuda":
                return value.to("cpu", copy=True)
            try:
                pinned = torch.empty_like(value, device="cpu", pin_memory=True)
            except RuntimeError:  # no pinned memory to be had: the plain copy, which waits for the device
                return value.to("cpu", copy=True)
            cuda_devices.add(value.device)
            return pinned.copy_(value, non_blocking=True)
        if isinstance(value, dict):
            return {key: stage(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(stage(item) for item in value)
        return value

    staged = stage(state)
    ready = []
    for device in cuda_devices:
        ready.append(torch.cuda.Event())
        ready[-1].record(torch.cuda.current_stream(device))
    return staged, ready


def snapshot_to_cpu(state: Any) -> Any:
    """A copy of ``state`` (nested dicts, lists and tuples) whose tensors are detached CPU copies: it no longer
    changes with the training that produced it."""
    staged, ready = stage_to_cpu(state)
    for event in ready:
        event.synchronize()
    return staged


def _save_when_ready(state: dict[str, Any], ready: list[torch.cuda.Event], run_dir: Path, *,
                     save: Callable[[dict[str, Any], Path], Path] | None = None) -> Path:
    for event in ready:
        event.synchronize()
    return (save or save_checkpoint)(state, run_dir)


class CheckpointWriter:
    """Writes a run's checkpoints, and the files it rewrites after every epoch (its metrics tables), on a background
    thread, so that training goes on while they reach the disk (each write ends on an fsync, which a busy or slow disk
    can make last longer than a small model's epoch).

    :meth:`save` starts a CPU snapshot of the state before returning (the caller may change the state at once: on CUDA
    the copies are queued on the device's stream ahead of whatever the caller queues next), after waiting for the
    previous checkpoint's write: checkpoints land in order, one at a time, each one atomically. :meth:`write_files`
    queues another write, which lands after everything given before it. :meth:`close` (or leaving the ``with`` block)
    waits for the last. A checkpoint write that failed raises :class:`TrainingError` at the next :meth:`save`,
    :meth:`wait` or :meth:`close`, another write's error (an ``OSError`` naming its file) at the next
    :meth:`write_files`, :meth:`wait` or :meth:`close`; when the block is left by an exception, that exception wins.
    A checkpoint may take the best epoch's weights with it (``best``), written as :data:`BEST_NAME` describes.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="satlearn-checkpoint")
        self._pending: Future | None = None
        self._pending_files: Future | None = None
        self.written_epoch: int | None = None  # the ``epoch`` of the last state that reached the disk

    def save(self, state: dict[str, Any], *, best: tuple[dict[str, Any], list[torch.cuda.Event]] | None = None,
             plain: tuple[str, ...] = ()) -> None:
        """``best``: the best epoch's weights, as :func:`stage_to_cpu` staged them at that epoch, which the checkpoint
        records as the best; None where the best is the one already on disk (or none is kept). ``plain``: keys of
        ``state`` whose values hold no tensors and are not changed after this call (a copy of the per-epoch history),
        written as given rather than searched for tensors, a search that grows with the run."""
        self._wait_for_checkpoint()
        staged, ready = stage_to_cpu({key: value for key, value in state.items() if key not in plain})
        staged = {key: state[key] if key in plain else staged[key] for key in state}
        self._pending = self._pool.submit(self._write, staged, ready, state.get("epoch"), best)

    def write_files(self, write: Callable[[], None]) -> None:
        """Runs ``write()`` on the writer's thread, after the writes queued before it, once the previous call's has
        finished (so a disk slower than the epochs holds training up rather than piling writes up). ``write`` must
        read nothing that training goes on changing: give it its own copy."""
        self._wait_for_files()
        self._pending_files = self._pool.submit(write)

    def _write(self, staged: dict[str, Any], ready: list[torch.cuda.Event], epoch: int | None,
               best: tuple[dict[str, Any], list[torch.cuda.Event]] | None) -> None:
        if best is not None:
            _save_when_ready(best[0], best[1], self.run_dir, save=save_pending_best)
        _save_when_ready(staged, ready, self.run_dir)
        if best is not None:
            with _naming_the_file(self.run_dir / BEST_NAME):
                os.replace(self.run_dir / BEST_PENDING_NAME, self.run_dir / BEST_NAME)
        self.written_epoch = epoch  # set before the write's future completes, so whoever waited on it sees it

    def wait(self) -> None:
        """Waits for every write queued so far, and raises the first that failed."""
        self._wait_for_checkpoint()
        self._wait_for_files()

    def _wait_for_files(self) -> None:
        pending, self._pending_files = self._pending_files, None
        if pending is not None:
            pending.result()  # its own OSError, naming its file, as the same write on the caller's thread would

    def _wait_for_checkpoint(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except OSError as exc:
            # (from the OSError: a full disk's errno tells the command line to say how the run is finished later)
            if exc.filename is not None and Path(str(exc.filename)).name in (BEST_NAME, BEST_PENDING_NAME):
                raise TrainingError(f"{self.run_dir / BEST_NAME}: cannot write the best epoch's weights "
                                    f"({exc.strerror or exc})") from exc
            raise TrainingError(f"{self.run_dir / CHECKPOINT_NAME}: cannot write the checkpoint "
                                f"({exc.strerror or exc})") from exc

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            with contextlib.suppress(Exception):
                self.close()


def started_without_checkpoint(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run that has written its first files but no checkpoint and no summary yet: one
    in its first epochs, or one stopped before its first checkpoint. Its ``labels.npz`` (written first) holds a
    run's three arrays, and its ``config.yaml``, where already written, holds satlearn's sections only."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT_NAME).exists() or (run_dir / "summary.json").exists():
        return False
    try:
        with zipfile.ZipFile(run_dir / "labels.npz") as labels:
            if not {"labels.npy", "clean_labels.npy", "class_names.npy"} <= set(labels.namelist()):
                return False
    except (OSError, zipfile.BadZipFile):  # none, a folder, not a .npz archive
        return False
    if not (run_dir / "config.yaml").exists():
        return True
    try:
        sections = read_yaml_file(run_dir / "config.yaml")
    except YamlFileError:  # unreadable, not UTF-8, not YAML: not a run's
        return False
    return isinstance(sections, dict) and set(sections) <= {f.name for f in dataclasses.fields(Config)}


def _runs_inside(directory: Path, markers: tuple[str, ...]) -> list[str]:
    """The names of the run directories (those holding any of the files ``markers``) right inside ``directory``,
    sorted."""
    try:
        return sorted(child.name for child in directory.iterdir() if any((child / m).is_file() for m in markers))
    except OSError:
        return []


def runs_held(directory: Path, *, usable: str = CHECKPOINT_NAME) -> str | None:
    """What a command that takes one run's directory says of ``directory`` where it holds runs instead (``runs/``, a
    demo's output: compare and selective-eval take those), naming the first of those it could use, the runs that
    hold the file ``usable`` (find-issues: soft targets); None where no run inside holds it."""
    runs = _runs_inside(directory, (CHECKPOINT_NAME, usable))
    usable_runs = [name for name in runs if (directory / name / usable).is_file()]
    if not usable_runs:
        return None
    # each as a RUN_DIR to give again: a run ~x inside . is ./~x, not the home of a user x
    named = (", ".join(pasteable_path(directory / name) for name in usable_runs[:2])
             + (", ..." if len(usable_runs) > 2 else ""))
    held = f"{len(runs)} run" if len(runs) == 1 else f"{len(runs)} runs"
    return f"holds {held} rather than being one; expected one run's directory, such as {named}"


class _RefusedCheckpoint(Exception):
    """A checkpoint that holds something a satlearn checkpoint never holds; the message names it."""


@functools.cache
def _numpy_globals() -> tuple[Any, ...]:
    """What torch's restricted loading is told to admit besides its own types: NumPy arrays and numbers of plain
    dtypes (bool, integer, float, complex). Checkpoints written before NumPy's random state was kept in lists hold it
    as NumPy's own array, and any checkpoint may hold a NumPy number that a run's own code gave (a class count, an
    epoch statistic, a setting). An array of Python objects or of strings stays refused."""
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # an older NumPy 1
        multiarray = importlib.import_module("numpy.core.multiarray")
    dtypes = {type(np.dtype(code)) for code in "?bhilqBHILQefdFD"}  # built by the file, each checked by its class
    # (_codecs.encode gives the bytes of an array or number in pickle protocol 2, which torch writes; torch 2.4 does
    # not admit it by itself)
    admitted: list[Any] = [np.ndarray, np.dtype, *dtypes, codecs.encode]
    for function in (multiarray._reconstruct, multiarray.scalar):
        # a file names these as the NumPy that wrote it did: numpy._core (NumPy 2) or numpy.core (NumPy 1)
        for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
            admitted.append(function if function.__module__ == module else _known_as(function, module))
    return tuple(admitted)


def _known_as(function: Any, module: str) -> Any:
    """``function`` under the name ``module.<its name>``, as torch's restricted loading finds an admitted function:
    by its own module and name alone (torch 2.4 and 2.5 take no other name for it)."""
    def same(*args):
        return function(*args)

    same.__module__, same.__name__, same.__qualname__ = module, function.__name__, function.__name__
    return same


@contextlib.contextmanager
def _numpy_admitted():
    """Within the block, torch's restricted loading also admits :func:`_numpy_globals`; after it, only what it
    admitted before (what the caller's own code added stays)."""
    serialization = torch.serialization
    before = list(serialization.get_safe_globals())
    added = [item for item in _numpy_globals() if item not in before]
    if hasattr(serialization, "safe_globals"):  # torch 2.5 and later: removes no more than it added
        with serialization.safe_globals(added):
            yield
        return
    serialization.add_safe_globals(added)  # torch 2.4, which removes none but all at once
    try:
        yield
    finally:
        serialization.clear_safe_globals()
        serialization.add_safe_globals(before)


def _is_torchscript_archive(path: Path) -> bool:
    # torch.load before 2.6 hands an archive holding constants.pkl to torch.jit.load, weights_only or not, which
    # runs TorchScript code from the file as it loads it; later versions refuse such an archive
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):  # not a zip archive: torch reads it with its restricted unpickler too
        return False


def _read_checkpoint(path: Path, map_location: str | torch.device, *, mmap: bool) -> Any:
    """``torch.load`` with ``weights_only``: only tensors, numbers, strings, their tuples, lists and dicts, and
    NumPy's arrays and numbers (:func:`_numpy_globals`) are made; a file naming anything else (a function to call on
    loading, a class of its own) is refused before anything it names is called."""
    if _is_torchscript_archive(path):
        raise _RefusedCheckpoint("TorchScript code")
    with _numpy_admitted():
        if mmap:
            try:
                return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
            except pickle.UnpicklingError:
                raise  # (what the unpickler refused, or could not read, it would without mmap too)
            except Exception:  # noqa: BLE001
                # torch maps only its zip format: a damaged file (an empty one, say) would be blamed on its format,
                # and a file torch wrote otherwise, or one on a filesystem without mmap, is still readable whole
                pass
        return torch.load(path, map_location=map_location, weights_only=True)


# how torch's restricted unpickler names what it refuses: a global (a function or class the file would have called),
# or the class of an object the file would have built
_REFUSED = (re.compile(r"GLOBAL (\S+) (?:was not an allowed global|whose module)"), re.compile(r"<class '([^']+)'>"))


def _refused_object(exc: pickle.UnpicklingError) -> str | None:
    """What torch's restricted loading refused, from its error: ``module.name`` (``builtins.`` for a builtin, which
    recent torch names without it); None where the error names nothing (a damaged pickle)."""
    for pattern in _REFUSED:
        found = pattern.search(str(exc))
        if found:
            name = found.group(1)
            return name if "." in name else f"builtins.{name}"
    return None


# how every file torch saves in its zip format begins
_ZIP_START = b"PK\x03\x04"


def _why_unreadable(path: Path, exc: Exception) -> str:
    """Why torch could not read the checkpoint ``path``, in words: a file cut short (by a copy that did not finish,
    say) is named as such, where torch would blame it on an "Invalid argument" or a missing central directory."""
    # (torch's restricted unpickler says what it met after its advice on weights_only, which is no advice here)
    _, _, met = str(exc).partition("WeightsUnpickler error:")
    torch_says = f"{type(exc).__name__}: {first_line(met) if met.strip() else first_line(exc)}"
    try:
        with open(path, "rb") as f:
            start = f.read(len(_ZIP_START))
        size = path.stat().st_size
        cut_short = start == _ZIP_START and not zipfile.is_zipfile(path)
    except OSError:  # (a folder, say): torch's words for it
        return torch_says
    if size == 0:
        return "the file is empty, as a write or copy that did not finish may leave it"
    if cut_short:
        return (f"the file is cut short, as a write or copy that did not finish may leave it: {size} bytes of torch's "
                "zip format without the archive's end")
    return torch_says


def load_checkpoint(run_dir: Path, map_location: str | torch.device = "cpu", *, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint of the run in ``run_dir``; a :class:`TrainingError` in one line where there is none, it
    cannot be read, or it holds anything but data (:func:`_read_checkpoint`), which is refused. ``mmap``: its tensors
    are mapped from the file, not read into memory, for a caller that reads only the rest (torch's zip format, which
    every satlearn checkpoint has); a file that cannot be mapped is read whole, as without ``mmap``."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.exists():
        if not Path(run_dir).is_dir():
            raise TrainingError(f"{run_dir}: {not_a_directory(run_dir, 'directory')}; expected a satlearn run directory")
        if started_without_checkpoint(run_dir):
            raise TrainingError(f"{run_dir}: no checkpoint written yet (a run in its first epochs, or one stopped "
                                f"before its first checkpoint)")
        held = runs_held(Path(run_dir))
        if held:
            raise TrainingError(f"{run_dir}: {held}")
        from satlearn.engine.trainer import started_elsewhere  # (the trainer imports this module)

        raise TrainingError(started_elsewhere(Path(run_dir))
                            or f"{path}: no checkpoint here (is {run_dir} a satlearn run directory?)")
    state = _read_data_file(path, map_location, mmap=mmap, what="checkpoint")
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise TrainingError(f"{path}: not a satlearn checkpoint of format {FORMAT_VERSION}")
    return state


def _read_data_file(path: Path, map_location: str | torch.device, *, mmap: bool, what: str) -> Any:
    """:func:`_read_checkpoint`, whose failures are a :class:`TrainingError` in one line naming ``path`` and, where
    it cannot be read, ``what`` it is (``checkpoint``)."""
    try:
        return _read_checkpoint(path, map_location, mmap=mmap)
    except (_RefusedCheckpoint, pickle.UnpicklingError) as exc:
        refused = str(exc) if isinstance(exc, _RefusedCheckpoint) else _refused_object(exc)
        if refused is None:
            raise TrainingError(f"{path}: cannot read {what} ({_why_unreadable(path, exc)})") from None
        raise TrainingError(f"{path}: refused: it holds {refused}, and a satlearn checkpoint holds only data (tensors, "
                            "arrays, numbers, strings, lists and dicts); nothing in the file was run") from None
    except Exception as exc:  # torch raises several unrelated types for damaged files
        raise TrainingError(f"{path}: cannot read {what} ({_why_unreadable(path, exc)})") from None


def _best_weights(path: Path, map_location: str | torch.device = "cpu", *, mmap: bool = False) -> dict[str, Any]:
    """The content of the best-weights file ``path`` (:data:`BEST_NAME`, or the pending one): its ``epoch``,
    ``test_accuracy`` and ``model`` (the model's state dict); read as data only, as a checkpoint is."""
    state = _read_data_file(path, map_location, mmap=mmap, what="the best epoch's weights")
    if (not isinstance(state, dict) or state.get("format") != FORMAT_VERSION
            or not isinstance(state.get("model"), dict) or not _is_epoch(state.get("epoch"))):
        raise TrainingError(f"{path}: not the best epoch's weights as satlearn writes them (format {FORMAT_VERSION})")
    return state


def _is_epoch(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _epoch_of_best_weights(path: Path) -> int | None:
    """The epoch whose weights the best-weights file ``path`` holds; None where there is none, or none readable (its
    tensors are not read into memory)."""
    if not path.is_file():
        return None
    try:
        return _best_weights(path, mmap=True)["epoch"]
    except TrainingError:
        return None


def settle_best_weights(run_dir: Path, best: dict[str, Any]) -> str | None:
    """Leaves in ``run_dir`` the best epoch's weights only where they are those of ``best["epoch"]``, the best epoch
    that the checkpoint a run resumes from records: the pending file where it holds that epoch (a process stopped
    between writing the checkpoint and renaming the file) becomes :data:`BEST_NAME`; a file of another epoch (one
    written with a later checkpoint that did not land, or changed by hand) is removed, as the epochs after the
    checkpoint are trained again. Returns what was removed of :data:`BEST_NAME`, in words, or None."""
    run_dir = Path(run_dir)
    path, pending = run_dir / BEST_NAME, run_dir / BEST_PENDING_NAME
    if best["epoch"] > 0 and _epoch_of_best_weights(pending) == best["epoch"]:
        os.replace(pending, path)
        return None
    with contextlib.suppress(FileNotFoundError):
        pending.unlink()
    if not path.exists():
        return None
    held = _epoch_of_best_weights(path)
    if held == best["epoch"]:
        return None
    path.unlink()
    what = "weights that cannot be read" if held is None else f"the weights of epoch {held}"
    return (f"{path}: held {what}, not those of the run's best epoch so far ({best['epoch'] or 'none'}, as "
            f"{CHECKPOINT_NAME} records it); removed: the run writes it again with the next epoch that scores better")


def kept_no_best_weights(run_dir: Path) -> TrainingError:
    """The one-line error for a run, trained with ``run.keep_best`` false, whose best epoch's weights are asked for."""
    return TrainingError(f"{run_dir}: the run kept no best epoch's weights (it trained with run.keep_best false); a "
                         f"run started with --set run.keep_best=true keeps them in {BEST_NAME}")


def load_best_weights(run_dir: Path, best: dict[str, Any], *, kept: bool,
                      map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The best epoch's weights of the run in ``run_dir`` (``epoch``, ``test_accuracy``, ``model``: the model's
    state dict), those of the epoch ``best`` (its checkpoint's record) names. A :class:`TrainingError` in one line
    where the run kept none (``kept``: its ``run.keep_best``), has none yet, or holds another epoch's."""
    run_dir = Path(run_dir)
    path, pending = run_dir / BEST_NAME, run_dir / BEST_PENDING_NAME
    if not kept:
        raise kept_no_best_weights(run_dir)
    if best["epoch"] == 0:
        raise TrainingError(f"{run_dir}: no epoch evaluated yet, so no best epoch's weights")
    state = _best_weights(path, map_location) if path.exists() else None
    if state is not None and state["epoch"] == best["epoch"]:
        return state
    if _epoch_of_best_weights(pending) == best["epoch"]:  # stopped before renaming it: the checkpoint's best
        return _best_weights(pending, map_location)
    if state is None:
        raise TrainingError(f"{path}: no such file, though the run keeps its best epoch's weights "
                            "(run.keep_best true); removed by hand?")
    raise TrainingError(f"{path}: holds the weights of epoch {state['epoch']}, not those of the run's best epoch "
                        f"({best['epoch']}, as {CHECKPOINT_NAME} records it); a stopped run sets it straight when "
                        "resumed, and one still training may have just moved on: try again")


def saved_config(run_dir: Path) -> Config | None:
    """The config in the ``config.yaml`` of the run in ``run_dir``, or None where that file is gone. Where it is
    there but cannot be read (not UTF-8, not YAML, not a mapping of sections, a key no config holds, a value of the
    wrong type), a :class:`ConfigError` in one line naming it and why. The commands that read a run's settings
    (compare and its plots, find-issues) take such a file as gone: the run's summary or checkpoint still knows them."""
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return None
    try:
        return from_dict_exact(read_yaml_file(path))
    except YamlFileError as exc:
        reason = exc.reason
    except ConfigError as exc:  # sections, keys or values a config does not hold
        reason = first_line(exc)
    raise ConfigError(f"{path}: cannot read the run's config ({reason})")


def kept_config(run_dir: Path, *, unreadable: ConfigError | None = None) -> dict[str, Any]:
    """The config (as :func:`satlearn.config.to_dict` writes it) that the checkpoint of the run in ``run_dir`` keeps:
    what stands in for the run's ``config.yaml`` where that file is gone, or where it cannot be read (``unreadable``:
    why, from :func:`saved_config`). Where the checkpoint cannot be read, a :class:`TrainingError` in one line
    naming the run and why its ``config.yaml`` does not serve either. The checkpoint's tensors (weights, optimizer
    state, SAT's targets) are not read into memory for it."""
    try:
        saved = load_checkpoint(run_dir, mmap=True).get("config")
        if not isinstance(saved, dict):
            raise TrainingError(f"{Path(run_dir) / CHECKPOINT_NAME}: keeps no config")
    except TrainingError as exc:
        if not Path(run_dir).is_dir():  # no run directory at all: that it has no config.yaml is no news
            raise
        without = f"{run_dir}: no config.yaml" if unreadable is None else str(unreadable)
        raise TrainingError(f"{without}, and the run's config cannot be taken from its checkpoint ({exc}); expected "
                            f"a readable config.yaml or {CHECKPOINT_NAME}") from None
    return saved
