"""The in-memory form every data source produces, and its checks."""

from __future__ import annotations

import math
import numbers
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satlearn.errors import ConfigError, DataError, MissingDataError
from satlearn.paths import user_path
from satlearn.registry import Registry, uncallable

# what reading an array out of a damaged .npz archive raises (a member cut short, a corrupt stream, a bad offset)
DAMAGED_ARCHIVE_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


def _numbers_per_channel(values, channels: int, usable) -> bool:
    """Whether ``values`` is a sequence of ``channels`` numbers, each ``usable``."""
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return len(numbers) == channels and all(usable(v) for v in numbers)


def _one_line(values) -> str:
    """``values`` for a one-line message: an array of more than one dimension (a mean image, say) by its shape, as
    NumPy and torch print it over many lines."""
    shape = getattr(values, "shape", None)
    if shape is None:
        return repr(values)
    return repr(values.tolist()) if len(shape) <= 1 else f"an array of shape {tuple(shape)}"


def default_cache_dir() -> Path:
    """Where sources keep what they generate or download when ``data.root`` is null: ``$SATLEARN_CACHE``, else
    ``$XDG_CACHE_HOME/satlearn``, else ``~/.cache/satlearn``. Without a home directory for the process (on POSIX,
    ``HOME`` unset and no user entry, as in some containers): a :class:`MissingDataError` that says how to give the
    data a place where neither variable is set, and a :class:`ConfigError` naming the variable where it starts with
    ``~``."""
    if os.environ.get("SATLEARN_CACHE"):
        return _path_in_environment("SATLEARN_CACHE")
    if os.environ.get("XDG_CACHE_HOME"):
        return _path_in_environment("XDG_CACHE_HOME") / "satlearn"
    try:
        home = Path.home()
    except RuntimeError:  # pathlib's "Could not determine home directory"
        raise MissingDataError("data.root is null, and with no home directory there is no default cache "
                               "(~/.cache/satlearn) to keep the data in; set SATLEARN_CACHE or data.root to a "
                               "folder for them") from None
    return home / ".cache" / "satlearn"


def _path_in_environment(name: str) -> Path:
    # expanded: a quoted "~/..." in the environment reaches us unexpanded by the shell
    try:
        return user_path(os.environ[name])
    except ConfigError as exc:  # no home directory for its ~: the variable is named, as it is not on the line run
        raise ConfigError(f"{name}={exc}") from None


def reading_bar(progress: bool, *, total: int, unit: str, desc: str):
    """A progress bar for reading a source's data (a large CSV file, thousands of images), on stderr: drawn only
    with ``progress``, and only once the read has taken a second, so that small data show none; gone when done.
    ``update`` it as the read goes and ``close`` it."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc=desc, leave=False, delay=1.0, disable=not progress,
                unit_scale=unit == "B", unit_divisor=1024 if unit == "B" else 1000)


def require_data_root(path: Path, source: str, expected: str, *, folder: bool = False) -> None:
    """A :class:`MissingDataError` where ``path``, the ``data.root`` of ``source``, is no file (with ``folder``, no
    folder): one that says there is nothing there, or that what is there is not a file (a folder) or not a
    directory (a file); ``expected``: what it should hold."""
    if path.is_dir() if folder else path.is_file():
        return
    if path.exists():
        raise MissingDataError(f"{source}: {path} is not a {'directory' if folder else 'file'} ({expected})")
    raise MissingDataError(f"{source}: there is no {'folder' if folder else 'file'} {path} ({expected})")


@dataclass
class DatasetSplits:
    """A labelled dataset held in memory.

    Attributes:
        x_train: ``(N, ...)`` inputs. Images are ``uint8`` ``(N, C, H, W)``; sequences and tables are finite ``float32``
            ``(N, D)``, already standardised by the source.
        y_train: ``(N,)`` ``int64`` labels as given by the source (before any synthetic noise).
        x_test, y_test: the held-out split, same layout.
        num_classes: C; every label lies in ``[0, C)``.
        class_names: C names, index = label.
        kind: ``"image"``, ``"sequence"`` or ``"tabular"`` — decides augmentation and normalisation.
        mean, std: per-channel statistics for images (applied after scaling to [0, 1]), one number per channel, std
            positive (``None``: 0.5 each); unused for other kinds.
        name: the source's name, for messages and run names.
        classes_found_in: the file or directory whose labels make up the class set (npz: 0 to the largest label;
            csv: the distinct labels; imagefolder: the class directories), for messages; ``validate`` then
            requires every class to have a training example. ``None`` for a class set fixed in advance
            (CIFAR's, MNIST-1D's ten digits, splits built in code), where a subset may lack a class that is
            still a class of the task.
        source_rows, source_size: where the training split was drawn from the source's own examples (CSV data
            rows, a .npz file's ``x_train`` without a test split, the images of a folder without ``test/``):
            ``(N,)`` int64 positions of the training examples among the source's ``source_size`` examples (0 =
            first data row, or an image folder's first image as it reads them: class by class, then by file name),
            so that results per example lead back to the user's data. ``None`` where the training split is the
            source's own order.
        train_files: for sources that read one file per example (image folders), each training example's path
            relative to ``data.root``; where both are given, these name the examples in a run's files.
        feature_mean, feature_std: ``(D,)`` the standardisation a source applied to tabular features: a row
            ``r`` of the user's file became ``(r - feature_mean) / feature_std``. ``None`` otherwise.
        source_shape: the shape one example has in the source's own file, where the source changed it: a ``.npz``
            file's channels-last images ``(H, W, C)``, whose channels it put first, and its features of other than
            one dimension, which it flattened to ``(D,)``. ``SelectivePredictor.predict(raw=True)`` takes inputs of
            this shape. ``None`` where the file's examples have ``x_train``'s shape.
        notes: what the source did that its user should hear of (files it skipped, a test split it drew from the
            training data and its size, say); the trainer logs them when a run starts.
        test_labels_key: where the source's own test split holds its labels (npz: ``'y_test'``), for messages;
            ``None`` where the test split was drawn from the training data or the source names no key.
        classes_to_largest_label: the class set is 0..the largest label of either split (npz), so that a test
            label above every training label makes classes that no training example has; for messages.
        loaded_from: the data settings (a :class:`satlearn.config.DataConfig`) that
            :func:`satlearn.data.load_dataset` loaded these splits with; ``None`` for splits built in code. A run
            trained on splits given to :func:`satlearn.fit` is loaded from its ``data.source`` again only where
            these are its own data settings (its label noise, augmentation, batch and pipeline settings aside);
            splits of any other origin are to be given again.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    class_names: list[str]
    kind: str
    name: str
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    classes_found_in: str | None = None
    source_rows: np.ndarray | None = None
    source_size: int | None = None
    train_files: list[str] | None = None
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    source_shape: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    test_labels_key: str | None = None
    classes_to_largest_label: bool = False
    loaded_from: Any = field(default=None, repr=False, compare=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def origin_arrays(self) -> dict[str, np.ndarray]:
        """Where each training example is in the user's data, as a run's ``labels.npz`` keeps it:
        ``train_files`` (a path says more than a position), else ``source_rows``; nothing where the training order
        is the source's own."""
        if self.train_files is not None:
            return {"train_files": np.array([str(name) for name in self.train_files])}
        if self.source_rows is not None:
            return {"source_rows": np.asarray(self.source_rows, dtype=np.int64)}
        return {}

    def validate(self) -> "DatasetSplits":
        """Raises :class:`DataError` naming the source and the problem; returns ``self`` when all is well."""
        for field in ("x_train", "y_train", "x_test", "y_test"):  # splits built in code may hold NumPy arrays
            value = getattr(self, field)
            if not isinstance(value, torch.Tensor):
                raise DataError(f"{self.name}: {field} must be a torch.Tensor, got {type(value).__name__} "
                                "(torch.from_numpy converts a NumPy array)")
        self._check_classes()
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            # (before their lengths: len() of a 0-d tensor is a TypeError)
            if y.dtype != torch.int64 or y.dim() != 1:
                raise DataError(f"{self.name}: {split} labels must be a 1-D int64 tensor, got {y.dtype} {tuple(y.shape)}")
            if x.dim() < 2:
                # a 1-D x would reach the model as one number per example and fail inside it, blamed on the model
                raise DataError(f"{self.name}: x_{split} has shape {tuple(x.shape)}; expected (N, ...), one row of "
                                "features per example (.reshape(-1, 1) makes a single feature such a column)")
            if len(y) == 0:
                raise DataError(f"{self.name}: the {split} split is empty")
            if len(x) != len(y):
                raise DataError(f"{self.name}: {split} split has {len(x)} inputs but {len(y)} labels")
            bad = (y < 0) | (y >= self.num_classes)
            if bool(bad.any()):
                i = int(bad.nonzero()[0, 0])
                raise DataError(
                    f"{self.name}: {split} label {int(y[i])} at index {i} is outside [0, {self.num_classes})"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"{self.name}: train inputs have shape {tuple(self.x_train.shape[1:])}, "
                f"test inputs {tuple(self.x_test.shape[1:])}"
            )
        if self.x_train[0].numel() == 0:
            raise DataError(f"{self.name}: the inputs have no features (shape {tuple(self.x_train.shape[1:])})")
        if self.kind not in ("image", "sequence", "tabular"):
            raise DataError(f"{self.name}: unknown kind {self.kind!r}; expected 'image', 'sequence' or 'tabular'")
        n = len(self.y_train)
        if self.source_rows is not None:
            rows = np.asarray(self.source_rows)
            size = self.source_size
            if rows.shape != (n,) or size is None or not np.issubdtype(rows.dtype, np.integer) or \
                    (n and (rows.min() < 0 or rows.max() >= size)):
                raise DataError(f"{self.name}: source_rows must give each of the {n} training examples a row in "
                                f"[0, source_size={size}), got {rows.dtype} of shape {rows.shape}")
        if self.train_files is not None and len(self.train_files) != n:
            raise DataError(f"{self.name}: {len(self.train_files)} train_files for {n} training examples")
        # the loaders scale and normalise a split only where it holds uint8 images, and pass any other to the model
        # as it is: a test split of float images would be scored unnormalised, and NumPy's float64 features would
        # fail inside the model
        for split, x in (("train", self.x_train), ("test", self.x_test)):
            if self.kind == "image" and (x.dtype != torch.uint8 or x.dim() != 4):
                raise DataError(f"{self.name}: images must be uint8 (N, C, H, W), got {x.dtype} {tuple(x.shape)} in "
                                f"the {split} split")
            if self.kind == "image" and x.shape[1] not in (1, 3, 4) and x.shape[-1] in (1, 3, 4):
                # NumPy's and PIL's layout: taken as it is, its rows would train as channels without a word
                raise DataError(f"{self.name}: images must be (N, C, H, W); the {split} split's {tuple(x.shape)} "
                                "has its channels last (.permute(0, 3, 1, 2) puts them first)")
            if self.kind != "image" and x.dtype != torch.float32:
                raise DataError(f"{self.name}: {self.kind} inputs must be float32, got {x.dtype} in the {split} split "
                                "(.float() converts them)")
            if x.is_floating_point():
                self._check_finite(x, split)
        if self.kind == "image":
            self._check_normalisation()
        return self

    def _check_classes(self) -> None:
        # a float count fails deep in torch when the model is built, and names that are not a sequence (None, or a
        # string read letter by letter) fail only once a finished run's files are read back
        count = self.num_classes
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise DataError(f"{self.name}: num_classes={count!r}; expected a whole number (int) of classes")
        if count < 2:
            raise DataError(f"{self.name}: {count} class; classification needs at least 2")
        names = self.class_names
        if isinstance(names, (str, bytes)) or not isinstance(names, (Sequence, np.ndarray)):
            raise DataError(f"{self.name}: class_names must be a list of {count} names, one per class, got "
                            f"{type(names).__name__} {_one_line(names)}")
        if len(names) != count:
            raise DataError(f"{self.name}: {len(names)} class names for {count} classes")

    def _check_finite(self, x: torch.Tensor, split: str) -> None:
        # NaN features make every loss NaN once training has started, and in the test split they are scored without
        # a word: wrong predictions, counted as the model's
        finite = torch.isfinite(x.reshape(len(x), -1)).all(dim=1)
        if bool(finite.all()):
            return
        bad = (~finite).nonzero().flatten()
        raise DataError(f"{self.name}: x_{split} holds NaN or infinite values in {len(bad)} of {len(x)} examples "
                        f"(first: index {int(bad[0])}); expected finite features")

    def _check_normalisation(self) -> None:
        # the loaders broadcast mean and std over the channels: three values for one channel would make the model
        # three-channel inputs and fail inside it, and a std of 0 makes every input infinite
        channels = self.x_train.shape[1]
        for what, usable in (("mean", math.isfinite), ("std", lambda v: math.isfinite(v) and v > 0)):
            values = getattr(self, what)
            if values is not None and not _numbers_per_channel(values, channels, usable):
                expected = "finite number" if what == "mean" else "positive finite number"
                raise DataError(f"{self.name}: {what} must hold one {expected} per channel of the (N, C, H, W) "
                                f"images, {channels} here; got {_one_line(values)}")

    def check_every_class_is_trained(self) -> None:
        """For a class set read off the data (``classes_found_in``), raises :class:`DataError` when a class has no
        training example. A new run checks this; a finished one is still loaded (evaluated, resumed) without it."""
        # such a class cannot be learned, yet widens the model and draws noisy labels into it: labels 0/100/200
        # would make 198 of them
        if self.classes_found_in is None:
            return
        counts = torch.bincount(self.y_train, minlength=self.num_classes)
        empty = (counts == 0).nonzero().flatten()
        if len(empty) == 0:
            return
        top = self.num_classes - 1
        if int(counts[top]) == 0 and self.classes_to_largest_label:
            # the classes run 0..largest label: one test label above the training ones makes every class up to it,
            # and the first of those is not where the mistake is
            self._refuse_a_test_label_above_training(empty, top)
        first = int(empty[0])
        name = self.class_names[first]
        label = f"class {first}" if name == str(first) else f"class {first} ({name!r})"
        have = "has" if len(empty) == 1 else "have"
        in_test = int((self.y_test == first).sum())
        where = (f"; its {in_test} example{'s are' if in_test > 1 else ' is'} all in the test split (where that "
                 "split is drawn, another data.data_seed or data.test_fraction may keep one for training)"
                 if in_test else "")
        if not in_test and self.classes_to_largest_label:  # labels that skip numbers: 3, 7, 9 make classes 0..9
            where = ("; the classes are 0 to the largest label, so labels must be numbered 0..K-1 without gaps "
                     "(np.unique(y, return_inverse=True) numbers them so)")
        raise DataError(
            f"{self.name}: {self.classes_found_in}: {label} has no training example ({len(empty)} of the "
            f"{self.num_classes} classes 0..{self.num_classes - 1} {have} none){where}; every class needs at least one"
        )

    def _refuse_a_test_label_above_training(self, empty: torch.Tensor, top: int) -> None:
        at = int((self.y_test == top).nonzero()[0, 0])
        train_top = int(self.y_train.max())
        if self.test_labels_key is not None:
            holder, drawn = f"{self.test_labels_key!r} holds label {top} (index {at})", ""
        else:
            holder = f"the test split holds label {top} (its example {at})"
            drawn = (" (where that split is drawn, another data.data_seed or data.test_fraction may keep its "
                     "examples for training)")
        raise DataError(
            f"{self.name}: {self.classes_found_in}: {holder}, above the largest training label {train_top}; "
            f"{len(empty)} of the {self.num_classes} classes 0..{top} it makes have no training example{drawn}; "
            "expected test labels among the training ones"
        )


def printable(text: str) -> str:
    """``text`` that can be written as UTF-8: a file or folder name that is not UTF-8 (a Latin-1 é on Linux, read
    by Python as a lone surrogate) keeps its bytes as ``\\xe9``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# the column that names each training example's place in the user's data, by the labels.npz key that holds it
ORIGIN_COLUMNS = {"source_rows": "source_row", "train_files": "file"}


def origin_column(arrays) -> tuple[str, np.ndarray] | None:
    """``(column name, (N,) values)`` for per-example CSV files, from a mapping with the keys of
    :meth:`DatasetSplits.origin_arrays` (a run's ``labels.npz``, say); ``None`` where it has none."""
    for key, column in ORIGIN_COLUMNS.items():
        if key in arrays:  # (an open .npz archive reads only this array)
            return column, np.asarray(arrays[key])
    return None


# name -> loader(config: DataConfig, *, progress: bool) -> DatasetSplits; progress: show a download's progress bar,
# or a long read's (reading_bar); a source with neither takes config alone and is called without it
SOURCES: Registry[Callable[..., DatasetSplits]] = Registry("data source", refuses=uncallable)
