"""Synthetic label noise, each model with its own seed (never the training seed).

``symmetric`` with ``mode="paper"`` follows the official SAT code: ``int(rate * N)`` examples chosen without
replacement get a label drawn uniformly from all C classes, so the true class can come back and the actual error
rate is about ``rate * (C - 1) / C``. ``mode="exact"`` always draws a different class (actual rate = ``rate``).
``pair`` moves chosen examples to a fixed partner class: on CIFAR-10 the usual map truck→automobile,
bird→airplane, deer→horse, cat↔dog (other classes untouched, so ``rate`` applies to the five mapped classes
only); on any other class set ``c → c + 1 (mod C)``. ``file`` reads a label array in training-set order, such
as the CIFAR-10N human labels, or (index, label) rows that change only the examples they name, such as the official
SAT code's ``noisy_idx_labels.npy``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from satlearn.data.base import DAMAGED_ARCHIVE_ERRORS
from satlearn.errors import DataError
from satlearn.paths import user_path

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_PAIRS = {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"}


def pair_map(num_classes: int, class_names: list[str] | None = None) -> np.ndarray:
    """Returns ``target[c]``, the partner class of each class (``c`` itself when the class is left untouched)."""
    if class_names is not None and list(class_names) == CIFAR10_CLASSES:
        index = {name: i for i, name in enumerate(class_names)}
        target = np.arange(num_classes)
        for src, dst in CIFAR10_PAIRS.items():
            target[index[src]] = index[dst]
        return target
    return (np.arange(num_classes) + 1) % num_classes


def symmetric_noise(labels: np.ndarray, num_classes: int, *, rate: float, mode: str = "paper", seed: int = 0) -> np.ndarray:
    """Shape ``(N,)`` → ``(N,)``: resamples ``int(rate * N)`` labels (see module docstring for ``mode``)."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    chosen = rng.choice(len(labels), size=int(rate * len(labels)), replace=False)
    if mode == "paper":
        noisy[chosen] = rng.integers(0, num_classes, size=len(chosen))
    elif mode == "exact":
        noisy[chosen] = (labels[chosen] + rng.integers(1, num_classes, size=len(chosen))) % num_classes
    else:
        raise DataError(f"symmetric noise: unknown mode {mode!r}; expected paper or exact")
    return noisy


def pair_noise(labels: np.ndarray, num_classes: int, *, rate: float, seed: int = 0,
               class_names: list[str] | None = None) -> np.ndarray:
    """Shape ``(N,)`` → ``(N,)``: moves ``int(rate * M)`` of the M examples whose class has a partner to it."""
    rng = np.random.default_rng(seed)
    target = pair_map(num_classes, class_names)
    candidates = np.flatnonzero(target[labels] != labels)
    chosen = rng.choice(candidates, size=int(rate * len(candidates)), replace=False)
    noisy = labels.copy()
    noisy[chosen] = target[labels[chosen]]
    return noisy


def _check_numpy_file(path: Path) -> None:
    """np.load takes any file that is not a zip or .npy for a pickle and blames pickled data: name the real
    problem."""
    with open(path, "rb") as f:
        head = f.read(6)
    if path.suffix == ".npy" and head != b"\x93NUMPY":
        raise DataError(f"{path}: not a .npy file (no numpy header); expected numpy.save output or a .csv/.txt file")
    # np.load recognises an archive by its first bytes alone: a zip with a damaged start would go to pickle too
    if path.suffix == ".npz" and not (zipfile.is_zipfile(path) and head[:4] in (b"PK\x03\x04", b"PK\x05\x06")):
        raise DataError(f"{path}: not a .npz archive (no zip structure); expected numpy.savez output or a .csv/.txt "
                        "file")


def _read_npz_key(path: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key is None:
                raise DataError(f"{path}: data.noise.key must name one of the arrays: {', '.join(archive.files)}")
            if key not in archive.files:
                raise DataError(f"{path}: no array {key!r}; arrays: {', '.join(archive.files)}")
            return archive[key]
    # the zip directory can be intact while a member is cut short or corrupt; the file itself was opened already,
    # so an OSError here is a bad offset inside it
    except DAMAGED_ARCHIVE_ERRORS as exc:
        raise DataError(f"{path}: damaged .npz archive ({type(exc).__name__}: {exc}); expected numpy.savez "
                        "output") from None


def _as_int(cell: str) -> int | None:
    try:
        return int(cell)
    except ValueError:
        return None


def _read_text_labels(path: Path) -> np.ndarray:
    try:
        # a spreadsheet's byte-order mark would hide the first label (dropped after decoding: utf-8-sig would count
        # a bad byte's position from after it)
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected one integer label "
                        "a line") from None
    cells = [(number, line.split(",")[-1].strip()) for number, line in enumerate(text.splitlines(), 1)
             if line.strip()]
    # only a first cell that is not a number is a header: '+1' or ' 3' is a label
    if cells and _as_int(cells[0][1]) is None:
        cells = cells[1:]
    if not cells:
        raise DataError(f"{path}: holds no labels; expected one integer label a line (or a CSV with a header)")
    labels = []
    for number, cell in cells:
        value = _as_int(cell)
        if value is None:
            raise DataError(f"{path}: line {number}: {cell!r} is not an integer label (expected class indices, "
                            "0 to num_classes - 1, one a line)")
        labels.append(value)
    return np.array(labels)


def read_label_file(path: str | Path, *, key: str | None = None, changes: bool = False) -> np.ndarray:
    """Reads labels from ``.npy``, ``.npz`` (``key`` names the array), or ``.csv``/``.txt`` (UTF-8, one label a
    line, or the last column of a CSV; a first line whose last cell is not an integer is a header).

    With ``changes``, a ``.npy``/``.npz`` array of shape ``(K, 2)`` (rows of example index and new label) is
    returned as it is, beside a 1-D array."""
    path = user_path(path)
    if not path.exists():
        raise DataError(f"{path}: label file not found")
    try:
        if path.suffix in (".npy", ".npz"):
            _check_numpy_file(path)
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            array = _read_npz_key(path, key)
        elif path.suffix in (".csv", ".txt"):
            array = _read_text_labels(path)
        else:
            raise DataError(f"{path}: unsupported label file type {path.suffix!r}; expected .npy, .npz, .csv or .txt")
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read labels ({exc})") from None
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[1] == 1:  # a column of labels (a one-column table's values), as npz data take
        array = array[:, 0]
    is_changes = changes and array.ndim == 2 and array.shape[1] == 2
    if (array.ndim != 1 and not is_changes) or not np.issubdtype(array.dtype, np.integer):
        also = " or (K, 2) rows of example index and new label" if changes else ""
        raise DataError(f"{path}: expected a 1-D integer label array{also}, got {array.dtype} of shape "
                        f"{array.shape}")
    return array.astype(np.int64)


def knows_true_labels(noise_kind: str | None) -> bool:
    """Whether a run trained with ``data.noise.kind`` = ``noise_kind`` knows its training examples' true labels.

    Only a run that changed the source's labels itself can tell which of its labels are wrong (the source's are
    taken as true); with ``none``, or a kind that could not be read (None), the source's labels are all it has, and
    how many of them are wrong is unknown rather than 0."""
    return noise_kind not in (None, "none")


def apply_noise(labels: np.ndarray, num_classes: int, noise, *, class_names: list[str] | None = None,
                source_rows: np.ndarray | None = None, source_size: int | None = None) -> np.ndarray:
    """Returns the training labels under ``noise`` (a :class:`satlearn.config.NoiseConfig`); ``labels`` is not changed.

    A label file holds one class index (into ``class_names``) per training example, in training order; where the
    training split was drawn from the source's ``source_size`` examples (``source_rows``, see
    :class:`satlearn.data.DatasetSplits`), it may instead hold one per source example, in the source's order, and
    the training examples' labels are taken from it."""
    labels = np.asarray(labels, dtype=np.int64)
    if noise.kind == "none":
        return labels.copy()
    if noise.kind == "symmetric":
        return symmetric_noise(labels, num_classes, rate=noise.rate, mode=noise.mode, seed=noise.seed)
    if noise.kind == "pair":
        return pair_noise(labels, num_classes, rate=noise.rate, seed=noise.seed, class_names=class_names)
    if noise.kind == "file":
        noisy = read_label_file(noise.file, key=noise.key, changes=True)
        if noisy.ndim == 2:
            return _apply_label_changes(labels, noisy, num_classes, file=noise.file, class_names=class_names)
        per_source_example = source_rows is not None and len(noisy) == source_size != len(labels)
        if len(noisy) != len(labels) and not per_source_example:
            also = (f", drawn from the source's {source_size} examples (one label per source example also works)"
                    if source_rows is not None else "")
            raise DataError(f"{noise.file}: {len(noisy)} labels, but the training split has {len(labels)} "
                            f"examples{also}")
        _check_classes(noisy, num_classes, file=noise.file, class_names=class_names, where="at index")
        return noisy[source_rows] if per_source_example else noisy
    raise DataError(f"unknown noise kind {noise.kind!r}; expected none, symmetric, pair or file")


def _check_classes(values: np.ndarray, num_classes: int, *, file, class_names: list[str] | None, where: str) -> None:
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        names = ""
        if class_names is not None and class_names != [str(c) for c in range(num_classes)]:
            names = f" (class indices into {', '.join(f'{c}={n}' for c, n in enumerate(class_names[:10]))}" \
                    f"{', ...' if num_classes > 10 else ''})"
        raise DataError(f"{file}: label {int(values[i])} {where} {i} is outside [0, {num_classes}){names}")


def _apply_label_changes(labels: np.ndarray, rows: np.ndarray, num_classes: int, *, file,
                         class_names: list[str] | None) -> np.ndarray:
    """``labels`` with the (index, new label) ``rows`` applied; an index is a training example's position in
    training order, whether or not the training split was drawn from a larger source."""
    index, new = rows[:, 0], rows[:, 1]
    outside = (index < 0) | (index >= len(labels))
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise DataError(f"{file}: index {int(index[i])} in row {i} is outside the training split's "
                        f"{len(labels)} examples (expected (index, new label) rows, indices 0 to {len(labels) - 1})")
    _check_classes(new, num_classes, file=file, class_names=class_names, where="in row")
    seen, first = np.unique(index, return_index=True)
    if len(seen) != len(index):
        again = int(np.setdiff1d(np.arange(len(index)), first)[0])
        earlier = int(np.flatnonzero(index == index[again])[0])
        raise DataError(f"{file}: index {int(index[again])} is in rows {earlier} and {again}; expected each "
                        "changed example once")
    noisy = labels.copy()
    noisy[index] = new
    return noisy
