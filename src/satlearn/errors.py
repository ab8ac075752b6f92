"""Errors satlearn raises for bad input: each carries one line that names what was wrong."""

from __future__ import annotations

import numbers
import os
from pathlib import Path


class SatlearnError(Exception):
    """Base class: the CLI prints the message alone (no traceback) and exits with status 2."""


class ConfigError(SatlearnError, ValueError):
    """A configuration file, key or value is invalid."""


class DataError(SatlearnError, ValueError):
    """A data source is missing, unreadable or inconsistent."""


class ConfigTypeError(ConfigError, TypeError):
    """An option given as a value of the wrong kind (a string for a count, say): also a ``TypeError``, as Python's own
    error for it would be, so that code catching either still does."""


def is_whole_number(value) -> bool:
    """Whether ``value`` is an integer (a NumPy one too); a bool, though an ``int`` to Python, is no count."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def count_error(message: str, value) -> ConfigError:
    """The error for a count ``value`` that ``message`` refuses: a :class:`ConfigError` for a whole number out of
    range, a :class:`ConfigTypeError` (also a ``TypeError``) for one that is no whole number at all."""
    return (ConfigError if is_whole_number(value) else ConfigTypeError)(message)


class DataTypeError(DataError, TypeError):
    """Data of the wrong kind (labels given as floats, say): also a ``TypeError``, as Python's own error for it would
    be, so that code catching either still does."""


class MissingDataError(DataError):
    """No data where ``data.root`` points (a command that reads a run's data can say how to point elsewhere).

    ``download_hint``: how a new run would fetch them (``set data.download=true``), kept apart from the message so
    that a command that cannot change ``data.download`` (eval, selective-eval, a resumed run) leaves it out."""

    def __init__(self, message: str, *, download_hint: str | None = None):
        self.message = message
        self.download_hint = download_hint
        super().__init__(f"{message}; {download_hint}" if download_hint else message)


class DeviceUnavailable(ConfigError):
    """A device this machine lacks (``cuda`` without a GPU).

    ``advice``: how to pick another (``use run.device=auto or cpu``), kept apart from the message so that a command
    that picks a run's device its own way (eval's ``--device``) can say that instead."""

    def __init__(self, message: str, advice: str):
        self.message = message
        self.advice = advice
        super().__init__(f"{message}; {advice}")

    def __reduce__(self):  # made again from both parts where it is unpickled (sent back from a worker process)
        return type(self), (self.message, self.advice)


class TrainingError(SatlearnError, RuntimeError):
    """Training cannot continue (non-finite loss, resume mismatch, unwritable run directory)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); says where the run is and which checkpoint it kept.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C still does.

    Attributes:
        run_dir: the run directory.
        checkpoint_epoch: the epoch the kept checkpoint ends, or None when none was written yet.
    """

    def __init__(self, run_dir: Path, checkpoint_epoch: int | None) -> None:
        super().__init__(run_dir, checkpoint_epoch)  # both in args: the exception pickles (multiprocessing)
        self.run_dir = run_dir
        self.checkpoint_epoch = checkpoint_epoch

    def __str__(self) -> str:
        kept = "no checkpoint" if self.checkpoint_epoch is None else f"checkpoint after epoch {self.checkpoint_epoch}"
        return f"{self.run_dir}: interrupted ({kept})"


def not_a_directory(path: str | Path, what: str) -> str:
    """Why ``path`` is no ``what`` (``"run directory"``, say): where a file lies there, that it is one, since "no such"
    would send the user looking for a path that exists (a run's ``checkpoint.pt`` given for the run, say)."""
    return f"is a file, not a {what}" if os.path.exists(path) else f"no such {what}"


def first_line(exc: BaseException | str) -> str:
    """The first line of ``exc``'s message (its type's name where it has none): another library's error, told in the
    one line of satlearn's own."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation that failed: torch says so in its message on every device (the CPU's is a
    plain RuntimeError), or one of a size beyond torch's 64-bit counts (a RuntimeError, or a TypeError where a
    dimension alone exceeds them), which no memory could hold either."""
    import torch  # here, so that importing satlearn's errors does not import torch

    text = str(exc).lower()
    device_error = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # any device's from torch 2.5
    return (isinstance(exc, (MemoryError, device_error)) or "can't allocate memory" in text
            or "out of memory" in text or "storage size calculation overflowed" in text
            or "overflow when unpacking long long" in text)
