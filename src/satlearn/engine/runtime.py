"""Device, precision, threads and random state: resolved once per run."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

import numpy as np
import torch

from satlearn.config import device_name_problem, thread_count_problem
from satlearn.errors import ConfigError, DeviceUnavailable, count_error


def resolve_device(name: str | torch.device = "auto", *, setting: str = "run.device") -> torch.device:
    """``auto`` → cuda if available, else mps, else cpu; explicit names are checked for availability.

    ``setting`` names where ``name`` came from in an error: a key (``run.device='cuda' but ...``), or a command's
    option, named with its value as the command's other options are (``--device cuda: ...``)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    option = setting.startswith("--")
    problem = device_name_problem(name)
    if problem:
        raise ConfigError(f"{setting} {name}: {problem.removeprefix('is ')}" if option else
                          f"{setting}={name!r} {problem}")
    device = torch.device(name)
    for kind, available in (("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available)):
        if device.type == kind and not available():
            missing = f"{kind.upper()} is not available on this machine"
            if option:
                raise DeviceUnavailable(f"{setting} {name}: {missing}", advice=f"use {setting} auto or cpu")
            raise DeviceUnavailable(f"{setting}={name!r} but {missing}", advice=f"use {setting}=auto or cpu")
    return device


def check_device_here(name: str, *, given: str) -> None:
    """Refuses a config's ``run.device`` (``name``) that this machine lacks (``cuda`` without a GPU) in one line that
    begins with where it was ``given`` (a ``--set``, a config file, a resumed run), as errors about a config's other
    values do: a command checks it before it loads data or writes anything, where fit's own refusal could not tell
    where the device came from."""
    try:
        resolve_device(name)
    except ConfigError as exc:
        raise ConfigError(f"{given}: {exc}") from None


def autocast(device: torch.device, amp: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``amp`` is ``auto`` or ``bf16``; bf16 on other devices only when asked."""
    use_bf16 = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# The official code's DataLoader workers, the most that data.workers=null asks for.
DEFAULT_LOADER_WORKERS = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells it; else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def loader_workers(configured: int | None) -> int:
    """The reference pipeline's worker processes: ``configured``, or with ``None`` the official code's 4 where this
    process has that many CPUs and one a CPU where it has fewer, since more only contend (and torch warns of it).
    The count changes no result: the workers are handed their augmentation by the main process."""
    if configured is not None:
        return configured
    return min(DEFAULT_LOADER_WORKERS, usable_cpus())


def checked_threads(count: Any) -> int | None:
    """A function's ``threads=count`` as a plain int where it is a thread count as ``run.threads`` takes one; None
    stays None. Else a :class:`ConfigError` naming ``threads`` and the value: a :class:`ConfigTypeError` (also a
    ``TypeError``) where it is not a whole number at all."""
    if count is None:
        return None
    problem = thread_count_problem(count)
    if problem:
        raise count_error(f"threads={count!r}; {problem}", count)
    return int(count)


@contextlib.contextmanager
def cpu_threads(count: int | None):
    """Within the block torch uses ``count`` CPU threads (None: as it was); the previous count is restored after, so
    a run started from a script or notebook leaves the process as it found it."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def cudnn_autotuning(enabled: bool, *, limit: int | None = None):
    """Within the block, cuDNN times candidate convolution algorithms on first use of each shape and keeps the
    fastest (``torch.backends.cudnn.benchmark``), at most ``limit`` of them per convolution (0: every one it
    offers; None: torch's setting, by default 10); the previous settings are restored afterwards.

    The choice is remembered per convolution shape for the rest of the process, whatever ``limit`` a later block
    sets: to compare limits, time each in a process of its own."""
    previous, previous_limit = torch.backends.cudnn.benchmark, torch.backends.cudnn.benchmark_limit
    torch.backends.cudnn.benchmark = enabled
    if limit is not None:
        torch.backends.cudnn.benchmark_limit = limit
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous
        torch.backends.cudnn.benchmark_limit = previous_limit


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def random_state_kept():
    """Within the block the global random generators (Python's, NumPy's, torch's) may be seeded and drawn from;
    after it, even when it raises, they are as they were before, so that a run started from a script leaves the
    script's own random numbers alone (a random search drawing each run's settings between runs, say)."""
    before = rng_state()
    try:
        yield
    finally:
        set_rng_state(before)


def rng_state() -> dict[str, Any]:
    """The global generators' states, as a checkpoint keeps them: tensors, numbers, strings, and tuples, lists and dicts
    of them, which is all a checkpoint is read back with (:func:`satlearn.engine.checkpoint.load_checkpoint`)."""
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _numpy_state() -> dict[str, Any]:
    # NumPy's dict form of the state with its key as a list: its own form holds an array, which torch's restricted
    # loading admits only when told to
    state = np.random.get_state(legacy=False)
    return {**state, "state": {"key": state["state"]["key"].tolist(), "pos": int(state["state"]["pos"])}}


def _set_numpy_state(state: Any) -> None:
    if isinstance(state, dict):  # (NumPy's own tuple, which older checkpoints keep, is taken as it is)
        state = {**state, "state": {**state["state"], "key": np.asarray(state["state"]["key"], dtype=np.uint32)}}
    np.random.set_state(state)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores :func:`rng_state`'s states, also those of a checkpoint written when NumPy's was kept as NumPy's own
    tuple."""
    random.setstate(state["python"])
    _set_numpy_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # a run resumed on a machine with fewer GPUs: the GPUs it has get theirs
        for index, generator in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(generator, index)
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
