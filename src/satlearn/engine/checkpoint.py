"""Checkpoints written atomically: a crash mid-write leaves the previous checkpoint intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from satlearn.errors import TrainingError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, write) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def save_checkpoint(state: dict[str, Any], run_dir: Path) -> Path:
    path = Path(run_dir) / CHECKPOINT_NAME
    atomic_write_bytes(path, lambda f: torch.save({"format": FORMAT_VERSION, **state}, f))
    return path


def snapshot_to_cpu(state: Any) -> Any:
    """A copy of ``state`` (nested dicts, lists and tuples) whose tensors are detached CPU copies: it no longer
    changes with the training that produced it."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {key: snapshot_to_cpu(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(snapshot_to_cpu(value) for value in state)
    return state


class CheckpointWriter:
    """Writes a run's checkpoints on a background thread, so that training goes on while one reaches the disk.

    :meth:`save` takes a CPU snapshot of the state before returning (the caller may change the state at once), after
    waiting for the previous write: checkpoints land in order, one at a time, each one atomically. :meth:`close`
    (or leaving the ``with`` block) waits for the last. A write that failed raises :class:`TrainingError` at the next
    :meth:`save`, :meth:`wait` or :meth:`close`; when the block is left by an exception, that exception wins.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="satlearn-checkpoint")
        self._pending: Future | None = None

    def save(self, state: dict[str, Any]) -> None:
        self.wait()
        self._pending = self._pool.submit(save_checkpoint, snapshot_to_cpu(state), self.run_dir)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except OSError as exc:
            raise TrainingError(f"{self.run_dir / CHECKPOINT_NAME}: cannot write the checkpoint "
                                f"({exc.strerror or exc})") from None

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


def load_checkpoint(run_dir: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.exists():
        raise TrainingError(f"{path}: no checkpoint here (is {run_dir} a satlearn run directory?)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several unrelated types for damaged files
        raise TrainingError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise TrainingError(f"{path}: not a satlearn checkpoint of format {FORMAT_VERSION}")
    return state
