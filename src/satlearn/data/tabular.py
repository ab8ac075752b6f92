"""A CSV table (UTF-8, a byte-order mark allowed) with a header row: one label column (``data.label_column``), every
other column numeric, but for those ``data.ignore_columns`` leaves out.

Labels may be names or numbers; their sorted distinct values become classes ``0..C-1`` (numbers sorted by value,
so ``2.0`` comes before ``10.0``) and are kept as the class names. One number written two ways (``1``, ``01``,
``1.0``) is refused rather than made into two classes, as is a column mixing numbers and names (say one ``nan``
among numbers), which could be ordered neither way. A ``data.test_fraction`` of the rows, drawn with a generator
seeded by ``data.data_seed``, is held out (the run's log says how many); features are standardised with the training
split's mean and std.
A label whose rows all land in the held-out split is refused (no class may lack training rows). A quoted field
may span lines, but one whose quote never closes is refused naming its line, as it would take in the rest of the file.
"""

from __future__ import annotations

import array
import csv
import math
import os
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import torch

from satlearn.data.base import SOURCES, DatasetSplits, reading_bar, require_data_root
from satlearn.errors import DataError
from satlearn.paths import user_path


def split_indices(n: int, fraction: float, seed: int, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns sorted (train, test) index arrays holding out ``round(n * fraction)`` (at least 1) of ``n`` items.

    The held-out items are drawn with ``np.random.default_rng(seed)``; both splits keep the original order.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{what}: data.test_fraction={fraction!r}; expected a fraction in (0, 1)")
    n_test = min(max(int(round(n * fraction)), 1), n - 1)
    if n < 2 or n_test < 1:
        raise DataError(f"{what}: {n} example(s) cannot be split into a train and a test split")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def drawn_split_note(config, *, held_out: int, total: int, examples: str) -> str:
    """The words of a source's note on a test split it drew from the user's training data (``examples``: what the
    ``total`` are, "data rows" say), so that each source says it alike and a user reads how much was held out."""
    return (f"the test split is {held_out} of the {total} {examples}, drawn with data.test_fraction="
            f"{config.test_fraction} and data.data_seed={config.data_seed}")


def _statistics(train: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The float64 ``(N, D)`` training columns' mean and std, and which columns hold more than one value."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = train.mean(axis=0)
        std = train.std(axis=0)  # squares the deviations: overflows from about 1e154
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise DataError(f"{what}: feature values too large to standardise (their mean or spread overflows "
                        "float64); expected values well below 1e150 in size")
    return mean, std, (train != train[:1]).any(axis=0)


def standardize(train: np.ndarray, test: np.ndarray, *, what: str = "features",
                earlier_rule: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scales both ``(N, D)`` arrays by the training columns' mean and std (a column that never varies, or whose std
    is under 1e-12, gets std 1); float32 out, with the ``(D,)`` float64 mean and std used. ``earlier_rule``: as
    satlearn did before, giving std 1 only where the std is under 1e-12 (see :func:`residue_scaled_columns`).

    Raises :class:`DataError` naming ``what`` when values are too large for the mean and std to be computed."""
    train = train.astype(np.float64, copy=False)  # (read only: a float64 table need not be copied)
    test = test.astype(np.float64, copy=False)
    mean, std, varies = _statistics(train, what)
    # a column holding one value throughout can still leave a rounding residue here (2e-10 for 1234567.89 thirty
    # times), which would scale a new row's value in that column by billions
    std = np.where((std > 1e-12) if earlier_rule else varies & (std > 1e-12), std, 1.0)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32), mean, std


def residue_scaled_columns(train: np.ndarray, *, what: str = "features") -> np.ndarray:
    """Positions of the ``(N, D)`` training columns that hold one value throughout yet whose computed std is a
    rounding residue above 1e-12: satlearn's earlier rule scaled them by it (its rows became -1, say), so a run
    trained then is recognised by the inputs that rule gives, and goes on with those."""
    _, std, varies = _statistics(train.astype(np.float64), what)
    return np.flatnonzero(~varies & (std > 1e-12))


def _label_order(values: list[str], lines: Sequence[int], *, what: str, column: str) -> list[str]:
    unique = set(values)
    # Decimal compares exactly: two long integers that one float would round together stay two classes
    as_number: dict[str, Decimal | None] = {}
    for v in unique:
        try:
            number = Decimal(v)
        except InvalidOperation:
            number = None
        as_number[v] = number if number is not None and number.is_finite() else None
    numeric_rows = sum(as_number[v] is not None for v in values)
    if numeric_rows == 0:
        return sorted(unique)
    if numeric_rows < len(values):
        # sorting numbers as text would put class 10 before 2 and shift every index after a stray 'nan', so a mix is
        # refused; the rarer kind is the one to name, most often one missing-value marker among numbers
        odd_is_text = numeric_rows >= len(values) - numeric_rows
        at = next(i for i, v in enumerate(values) if (as_number[v] is None) == odd_is_text)
        if odd_is_text:
            kind, others = "is not a number", f"{numeric_rows} other labels there are numbers"
        else:
            kind, others = "is a number", f"{len(values) - numeric_rows} other labels there are not"
        raise DataError(f"{what}: line {lines[at]}: label {values[at]!r} in column {column!r} {kind}, but {others}; "
                        "expected every label a number, or every label a name")
    order = sorted(unique, key=lambda v: (as_number[v], v))
    for before, after in zip(order, order[1:]):
        if as_number[before] == as_number[after]:
            raise DataError(f"{what}: labels {before!r} and {after!r} in column {column!r} are one number written "
                            "two ways; expected each class written one way")
    return order


def _ignored_columns(path: Path, header: list[str], config) -> set[str]:
    """``data.ignore_columns``, each checked against the header: a misspelt name would keep the column it meant."""
    missing = [name for name in config.ignore_columns if name not in header]
    if missing:
        raise DataError(f"{path}: data.ignore_columns names {', '.join(map(repr, missing))}, not in the header; "
                        f"columns: {', '.join(header)}")
    if config.label_column in config.ignore_columns:
        raise DataError(f"{path}: data.ignore_columns holds the label column {config.label_column!r}; expected "
                        "feature columns to leave out")
    return set(config.ignore_columns)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _lines_then_mark_end(lines, ended: list[bool]):
    """``lines``, appending True to ``ended`` once they run out: csv.reader asks for more only where its row is
    still open, so a row it returns after that ended inside an unclosed quote."""
    yield from lines
    ended.append(True)


def _where_not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """Where in the file ``exc`` (raised reading it) is: its ``start`` counts from the chunk the text reader was
    decoding, not from the file's start, so the whole file is decoded again to find the byte and its line."""
    try:
        data = path.read_bytes()
        data.decode("utf-8")  # (not utf-8-sig, which would count from after a byte-order mark)
    except UnicodeDecodeError as whole:
        line = data.count(b"\n", 0, whole.start) + 1
        return f"{whole.reason} at byte {whole.start}, line {line}"
    except OSError:
        pass
    return exc.reason  # (the file changed since, or cannot be read again: its position is not known)


def _unclosed_quote(path: Path, line: int) -> DataError:
    # a row completed only by the end of the file: a quote opened in it never closed, and every line after it was
    # read into that one field (a stray quote would otherwise hide the rest of the table in one label)
    return DataError(f"{path}: line {line}: a quoted field there is never closed (the file ends inside it); expected "
                     'a closing " before the end of its row')


def _header_hint(header: list[str]) -> str:
    """Why a header may lack the label column: the file is not comma-separated, or has no header row (its first
    line holds numbers, and naming one of its cells as the label column would drop that row of data)."""
    if any(_is_number(name) for name in header):
        return " (its first line holds numbers: the file seems to have no header row; expected one naming the columns)"
    if len(header) != 1:
        return ""
    found = [name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")) if sep in header[0]]
    return f" (one column: the file seems separated by {found[0]}; expected commas)" if found else ""


@SOURCES.register("csv")
def load_csv(config, *, progress: bool = True) -> DatasetSplits:
    return _load_csv(config, earlier_rule=False, progress=progress)


def load_csv_as_before(config) -> DatasetSplits | None:
    """The table with its features standardised by :func:`standardize`'s earlier rule, where that rule scaled a
    column of one value by a rounding residue (else None): only to recognise, and go on with, a run trained on those
    inputs."""
    return _load_csv(config, earlier_rule=True)


def _load_csv(config, *, earlier_rule: bool, progress: bool = False) -> DatasetSplits | None:
    if not config.root:
        raise DataError("csv: set data.root to a CSV file with a header row")
    path = user_path(config.root)
    require_data_root(path, "csv", "expected a CSV file with a header row")

    # one flat array of the rows' values: a list of lists of Python floats took about ten times the memory of the
    # table itself (1.8 GB for a million rows of 20 features)
    features = array.array("d")
    labels: list[str] = []
    label_lines = array.array("q")
    bar = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            # by bytes read: the rows are not counted before they are read
            bar = reading_bar(progress, total=os.fstat(f.fileno()).st_size, unit="B", desc=f"reading {path.name}")
            ended: list[bool] = []
            reader = csv.reader(_lines_then_mark_end(f, ended))
            header = [name.strip() for name in next(reader, [])]
            if ended and header:
                raise _unclosed_quote(path, 1)
            if not header:
                raise DataError(f"{path}: empty file (expected a header row naming the columns)")
            if len(set(header)) != len(header):
                dup = next(name for name in header if header.count(name) > 1)
                raise DataError(f"{path}: column {dup!r} appears more than once in the header")
            if config.label_column not in header:
                raise DataError(
                    f"{path}: no label column {config.label_column!r} (set data.label_column); "
                    f"columns: {', '.join(header)}{_header_hint(header)}"
                )
            label_at = header.index(config.label_column)
            ignored = _ignored_columns(path, header, config)
            feature_at = [i for i in range(len(header)) if i != label_at and header[i] not in ignored]
            if not feature_at:
                left_out = " and the ignored columns" if ignored else ""
                raise DataError(f"{path}: no feature columns besides the label column {config.label_column!r}"
                                f"{left_out}")
            last_line = reader.line_num  # where the row before ended
            for row in reader:
                starts, last_line = last_line + 1, reader.line_num
                if ended:
                    raise _unclosed_quote(path, starts)
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank line
                line = reader.line_num
                if len(row) != len(header):
                    raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
                label = row[label_at].strip()
                if not label:
                    raise DataError(f"{path}: line {line}: empty label in column {config.label_column!r}")
                values = []
                for i in feature_at:
                    cell = row[i].strip()
                    try:
                        value = float(cell)
                    except ValueError:
                        value = math.nan
                    if not math.isfinite(value):
                        raise DataError(
                            f"{path}: column {header[i]!r}, line {line}: {cell!r} is not a finite number (a column "
                            "that is not a feature can be left out with data.ignore_columns)"
                        )
                    values.append(value)
                features.extend(values)
                labels.append(label)
                label_lines.append(line)
                if len(labels) % 4096 == 0:
                    bar.update(f.buffer.tell() - bar.n)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({_where_not_utf8(path, exc)})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    finally:
        if bar is not None:
            bar.close()

    if not features:
        raise DataError(f"{path}: no data rows after the header")
    class_names = _label_order(labels, label_lines, what=str(path), column=config.label_column)
    index = {name: i for i, name in enumerate(class_names)}
    x = np.frombuffer(features, dtype=np.float64).reshape(len(labels), len(feature_at))
    y = np.asarray([index[v] for v in labels], dtype=np.int64)
    train, test = split_indices(len(y), config.test_fraction, config.data_seed, what=str(path))
    if earlier_rule and not len(residue_scaled_columns(x[train], what=str(path))):
        return None
    x_train, x_test, mean, std = standardize(x[train], x[test], what=str(path), earlier_rule=earlier_rule)
    # the test accuracy is then measured on rows of the user's one table: the log says so, and on how many
    drawn = drawn_split_note(config, held_out=len(test), total=len(y), examples="data rows")
    return DatasetSplits(
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y[train]),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y[test]),
        num_classes=len(class_names),
        class_names=class_names,
        kind="tabular",
        name="csv",
        classes_found_in=str(path),
        source_rows=train,
        source_size=len(y),
        feature_mean=mean,
        feature_std=std,
        notes=(f"{path} is one table, with no test split of its own: {drawn}",),
    )
