"""Arrays in a ``.npz`` file: ``x_train``, ``y_train`` and optionally ``x_test``, ``y_test``.

Without a test split, ``data.test_fraction`` of the examples (drawn with a generator seeded by
``data.data_seed``) is held out, and the run's log says how many. ``uint8`` inputs with four dimensions are
images — ``(N, C, H, W)``, or ``(N, H, W, C)`` when the last dimension is 1 or 3 and the second is not (or 4,
RGBA, and the second is not 1, 3 or 4) — with the per-channel mean and std of the training images; anything
else is flattened to ``(N, D)`` float features standardised with the training split's statistics (kind
``tabular``). Where examples are put channels first or flattened, ``source_shape`` keeps their shape in the file,
in which a run's predictor takes them with ``raw=True``. Labels are integers; there are ``max label + 1``
classes, and each needs a training example.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS, SOURCES, DatasetSplits, require_data_root
from satlearn.data.imagefolder import channel_stats
from satlearn.data.tabular import drawn_split_note, residue_scaled_columns, split_indices, standardize
from satlearn.errors import DataError
from satlearn.paths import user_path

_MAX_CLASSES = 1_000_000  # a larger label is almost surely not a class index (and would need that many names)


def _read(archive, path: Path, key: str) -> np.ndarray:
    try:
        return np.asarray(archive[key])
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise DataError(f"{path}: key {key!r} cannot be read without pickle ({exc}); store a numeric array") from None
    except DAMAGED_ARCHIVE_ERRORS as exc:
        raise DataError(f"{path}: key {key!r} is damaged ({type(exc).__name__}: {exc})") from None


def _labels(y: np.ndarray, path: Path, key: str, n: int, x_key: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: {key!r} must be a 1-D array of labels, got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise DataError(f"{path}: {key!r} has dtype {y.dtype}; expected integer class labels")
    if len(y) != n:
        raise DataError(f"{path}: {key!r} has {len(y)} labels but {x_key!r} has {n} examples")
    if len(y) and int(y.min()) < 0:
        i = int(np.argmin(y))
        raise DataError(f"{path}: {key!r} holds the negative label {int(y[i])} at index {i}")
    if len(y) and int(y.max()) > np.iinfo(np.int64).max:  # uint64: would wrap to a negative int64
        i = int(np.argmax(y))
        raise DataError(f"{path}: {key!r} holds the label {int(y[i])} at index {i}; expected class indices 0..C-1")
    return y.astype(np.int64)


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _is_image(x: np.ndarray) -> bool:
    return x.dtype == np.uint8 and x.ndim == 4


def _to_nchw(x: np.ndarray) -> np.ndarray:
    # channels last: grey or RGB as before; RGBA only where the second axis cannot be channels (an RGB image 4
    # pixels high stays RGB)
    if (x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3)) or (x.shape[-1] == 4 and x.shape[1] not in (1, 3, 4)):
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def _features(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{path}: {key!r} has dtype {x.dtype}; expected numbers")
    if x.ndim < 1:
        raise DataError(f"{path}: {key!r} must have one row per example, got a scalar")
    if len(x) == 0:
        raise DataError(f"{path}: {key!r} holds no examples")
    flat = x.reshape(len(x), -1).astype(np.float64, copy=False)
    bad = ~np.isfinite(flat)
    if bad.any():
        i = int(np.argwhere(bad)[0, 0])
        raise DataError(f"{path}: {key!r} holds a non-finite value (NaN or inf) in example {i}")
    return flat


@SOURCES.register("npz")
def load_npz(config) -> DatasetSplits:
    return _load_npz(config, earlier_rule=False)


def load_npz_as_before(config) -> DatasetSplits | None:
    """The arrays with features standardised by :func:`~satlearn.data.tabular.standardize`'s earlier rule, where
    that rule scaled a column of one value by a rounding residue (else None, and for images): only to recognise,
    and go on with, a run trained on those inputs."""
    return _load_npz(config, earlier_rule=True)


def _load_npz(config, *, earlier_rule: bool) -> DatasetSplits | None:
    if not config.root:
        raise DataError("npz: set data.root to a .npz file with x_train, y_train (and optionally x_test, y_test)")
    path = user_path(config.root)
    require_data_root(path, "npz", "expected a .npz file with x_train, y_train, x_test, y_test")
    if not zipfile.is_zipfile(path) and not _starts_with(path, b"\x93NUMPY"):
        # np.load would try it as a pickle and speak of pickled data, whatever the file holds
        raise DataError(f"{path}: not a .npz archive (no zip structure); expected numpy.savez output with "
                        "x_train, y_train (and optionally x_test, y_test)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single array, expected a .npz archive with x_train, y_train, x_test, y_test")
    with archive:
        keys = set(archive.files)
        for key in ("x_train", "y_train"):
            if key not in keys:
                raise DataError(f"{path}: missing key {key!r} (found: {', '.join(sorted(keys)) or 'none'})")
        has_test = {"x_test", "y_test"} & keys
        source_rows, source_size = None, None
        notes: tuple[str, ...] = ()
        if has_test and has_test != {"x_test", "y_test"}:
            missing = ({"x_test", "y_test"} - keys).pop()
            raise DataError(f"{path}: missing key {missing!r} (x_test and y_test come together, or neither)")
        x_train = _read(archive, path, "x_train")
        if x_train.ndim < 1 or len(x_train) == 0:
            raise DataError(f"{path}: 'x_train' holds no examples")
        file_shape = tuple(x_train.shape[1:])  # one example as the file holds it, before any reshaping here
        y_train = _labels(_read(archive, path, "y_train"), path, "y_train", len(x_train), "x_train")
        if has_test:
            x_test = _read(archive, path, "x_test")
            if x_test.ndim < 1:
                raise DataError(f"{path}: 'x_test' must have one row per example, got a scalar")
            y_test = _labels(_read(archive, path, "y_test"), path, "y_test", len(x_test), "x_test")
        else:
            if not _is_image(x_train):  # checked before the split draws its rows: a message names a row of the file
                x_train = _features(x_train, path, "x_train")
            source_size = len(x_train)
            train, test = split_indices(source_size, config.test_fraction, config.data_seed, what=str(path))
            source_rows = train
            drawn = drawn_split_note(config, held_out=len(test), total=source_size, examples="examples of x_train")
            notes = (f"{path} has no x_test/y_test: {drawn}",)
            x_train, x_test = x_train[train], x_train[test]
            y_train, y_test = y_train[train], y_train[test]

    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{path}: 'x_train' examples have shape {x_train.shape[1:]}, 'x_test' {x_test.shape[1:]}; "
                        "expected the same shape in both")
    num_classes = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    if num_classes > _MAX_CLASSES:
        raise DataError(
            f"{path}: largest label is {num_classes - 1}; expected class indices 0..C-1 (C <= {_MAX_CLASSES})"
        )
    mean = std = feature_mean = feature_std = None
    if _is_image(x_train):
        if earlier_rule:  # (images have their own statistics, which that rule never touched)
            return None
        if x_test.dtype != np.uint8:
            raise DataError(f"{path}: 'x_train' holds uint8 images but 'x_test' has dtype {x_test.dtype}")
        x_train, x_test = _to_nchw(x_train), _to_nchw(x_test)
        mean, std = channel_stats(x_train)
        kind = "image"
    else:
        train_features = _features(x_train, path, "x_train")
        if earlier_rule and not len(residue_scaled_columns(train_features, what=str(path))):
            return None
        x_train, x_test, feature_mean, feature_std = standardize(
            train_features, _features(x_test, path, "x_test"), what=str(path), earlier_rule=earlier_rule)
        kind = "tabular"
    return DatasetSplits(
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y_train),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test),
        num_classes=num_classes,
        class_names=[str(i) for i in range(num_classes)],
        kind=kind,
        name="npz",
        mean=mean,
        std=std,
        classes_found_in=str(path),
        source_rows=source_rows,
        source_size=source_size,
        feature_mean=feature_mean,
        feature_std=feature_std,
        source_shape=file_shape if file_shape != tuple(x_train.shape[1:]) else None,
        test_labels_key="y_test" if has_test else None,
        classes_to_largest_label=True,
        notes=notes,
    )
