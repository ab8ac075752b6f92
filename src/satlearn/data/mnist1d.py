"""MNIST-1D: the embedded default dataset, generated offline by the ``mnist1d`` package and cached.

The generator runs with the package's own settings but for ``data.num_samples`` and ``data.data_seed``: 5000 and 42
give its standard dataset (4000 training and 1000 test sequences of 40 values, in its order), the default 12500 a
larger one of the same kind. The package standardises the sequences over both splits together; satlearn then
standardises both with the training split's mean and (sample) std, so that no test statistic shapes the inputs.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS, SOURCES, DatasetSplits, default_cache_dir
from satlearn.errors import DataError, MissingDataError
from satlearn.paths import user_path


def _generate(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds numpy's and Python's global generators; keep the caller's streams untouched (else they
    # would differ after loading with whether the data came from the cache).
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def load_arrays(num_samples: int, seed: int, cache_dir: Path | None) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Returns the generated arrays, from ``cache_dir`` when present (written atomically when not; ``None``: no
    cache, generated each time), and a note for the log where the cache could not be written."""
    if cache_dir is None:
        return _generate(num_samples, seed), ()
    path = cache_dir / f"mnist1d-n{num_samples}-seed{seed}.npz"
    # (not Path.exists, which raises on Python 3.10 and 3.11 where the folder cannot be entered: a HOME of another
    # user's, as a container run as some other user keeps it)
    if os.path.isfile(path):
        try:
            with np.load(path) as cached:
                return {k: cached[k] for k in ("x", "y", "x_test", "y_test")}, ()
        except (*DAMAGED_ARCHIVE_ERRORS, ValueError, KeyError):
            pass  # a damaged cache (a copy cut short, say) is regenerated below
    arrays = _generate(num_samples, seed)
    try:
        from satlearn.engine.checkpoint import atomic_write_bytes  # (engine imports data: not at the top)

        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        # an unwritable cache (a read-only home directory on a cluster's nodes, say) only costs the generation, but
        # that cost, seconds, comes back in every run, each job of an array too: the log says why, and what helps
        where = exc.filename if exc.filename is not None else path
        return arrays, (f"mnist1d: cannot write the cache {where} ({exc.strerror or exc}), so every run generates "
                        "the data again; point SATLEARN_CACHE or data.root at a folder that can be written",)
    return arrays, ()


def _arrays_for(config) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    if config.num_samples < 10:
        raise DataError(f"mnist1d: data.num_samples={config.num_samples} is too small (need at least 10)")
    if not 0 <= config.data_seed < 2**32:  # the generator seeds numpy's legacy global state
        raise DataError(f"mnist1d: data.data_seed={config.data_seed}; expected a seed from 0 to 2**32 - 1")
    return load_arrays(config.num_samples, config.data_seed, _cache_dir(config))


def _cache_dir(config) -> Path | None:
    """``data.root``, else the default cache; None where there is no default (no home directory): the data are
    generated each time, as they are where the cache cannot be written, rather than refused."""
    if config.root:
        return user_path(config.root)
    try:
        return default_cache_dir()
    except MissingDataError:
        return None


def _size_notes(num_samples: int) -> tuple[str, ...]:
    """What the log says where the generator makes fewer examples than ``data.num_samples`` asks for."""
    # it makes num_samples // 10 of each digit, so a count that is no multiple of 10 loses its remainder
    generated = num_samples - num_samples % 10
    if generated == num_samples:
        return ()
    return (f"mnist1d: data.num_samples={num_samples} generates {generated} examples, {generated // 10} of each "
            "digit (the generator makes the same number of every digit)",)


def _splits(arrays: dict[str, np.ndarray], x_train: torch.Tensor, x_test: torch.Tensor, *,
            num_samples: int, notes: tuple[str, ...]) -> DatasetSplits:
    return DatasetSplits(
        x_train=x_train,
        y_train=torch.tensor(arrays["y"], dtype=torch.int64),
        x_test=x_test,
        y_test=torch.tensor(arrays["y_test"], dtype=torch.int64),
        num_classes=10,
        class_names=[str(i) for i in range(10)],
        kind="sequence",
        name="mnist1d",
        notes=(*_size_notes(num_samples), *notes),
    )


@SOURCES.register("mnist1d")
def load_mnist1d(config) -> DatasetSplits:
    arrays, notes = _arrays_for(config)
    # numpy's float64 reductions run on one thread: torch's float32 ones rounded differently with the thread count,
    # so the data digest a run keeps did not match its data under another run.threads (resume, eval)
    x = np.asarray(arrays["x"], dtype=np.float64)
    mean, std = x.mean(), x.std(ddof=1)
    x_test = np.asarray(arrays["x_test"], dtype=np.float64)
    return _splits(arrays, torch.from_numpy(((x - mean) / std).astype(np.float32)),
                   torch.from_numpy(((x_test - mean) / std).astype(np.float32)), num_samples=config.num_samples,
                   notes=notes)


def load_mnist1d_as_before(config) -> DatasetSplits:
    """MNIST-1D standardised as satlearn did before the float64 statistics (torch's float32 mean and std, under the
    current thread count): only to recognise, and go on with, a run trained on those inputs."""
    arrays, notes = _arrays_for(config)
    x_train = torch.tensor(arrays["x"], dtype=torch.float32)
    x_test = torch.tensor(arrays["x_test"], dtype=torch.float32)
    mean, std = x_train.mean(), x_train.std()
    return _splits(arrays, (x_train - mean) / std, (x_test - mean) / std, num_samples=config.num_samples,
                   notes=notes)
