"""CIFAR-10 and CIFAR-100 from the official python-pickle directories, with an optional checked download.

``data.root`` may name the batches directory itself (``cifar-10-batches-py`` / ``cifar-100-python``) or its
parent. With ``data.download=true`` and no data there, the official archive (or ``data.url``) is fetched, its
checksum verified (``data.sha256``; the official archive's by default), extracted and moved into place
atomically; a failed or interrupted download leaves nothing behind.

The images are normalised with fixed per-channel constants, not statistics of the files read: for CIFAR-10 those
of the SAT authors' code (whose std, 0.2023/0.1994/0.2010, is below the training pixels' own, about 0.247/0.243/
0.262), for CIFAR-100 its training set's mean and std (that code normalises CIFAR-100 with the CIFAR-10 constants
too).

The pickles are read with an unpickler that only admits the few numpy names an array needs, so a tampered
file cannot run code.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import os
import pickle
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

from satlearn.data.base import SOURCES, DatasetSplits, default_cache_dir
from satlearn.errors import DataError, MissingDataError
from satlearn.paths import user_path


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    dirname: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    names_key: str
    label_key: str
    num_classes: int
    url: str
    sha256: str
    md5: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


_SPECS = {
    "cifar10": _Spec(
        name="cifar10",
        title="CIFAR-10",
        dirname="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        meta_file="batches.meta",
        names_key="label_names",
        label_key="labels",
        num_classes=10,
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        md5="c58f30108f718f92721af3b95e74349a",
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2023, 0.1994, 0.2010),
    ),
    "cifar100": _Spec(
        name="cifar100",
        title="CIFAR-100",
        dirname="cifar-100-python",
        train_files=("train",),
        test_files=("test",),
        meta_file="meta",
        names_key="fine_label_names",
        label_key="fine_labels",
        num_classes=100,
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        sha256="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# Reading the pickles

# (module, name) pairs a pickled numpy array may refer to; "numpy.core" is the pre-2.0 spelling of "numpy._core".
_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        canonical = "numpy._core" + module[len("numpy.core"):] if module.startswith("numpy.core") else module
        if (canonical, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")
        try:
            return getattr(importlib.import_module(canonical), name)
        except (ImportError, AttributeError):
            return getattr(importlib.import_module(module), name)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_pickle(path: Path) -> dict[str, Any]:
    """Loads one CIFAR pickle (written by Python 2 or 3) as a dict with ``str`` keys."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected part of the CIFAR python-pickle directory)")
    try:
        with path.open("rb") as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as exc:  # pickle raises many types for damaged input; all mean "not a CIFAR pickle"
        raise DataError(f"{path}: not a readable CIFAR pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {_text(k): v for k, v in obj.items()}


def _read_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    for key in ("data", label_key):
        if key not in batch:
            raise DataError(f"{path}: missing key {key!r} (found: {', '.join(sorted(batch)) or 'none'})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {got}")
    try:
        labels = np.asarray(batch[label_key])
    except (ValueError, TypeError):
        labels = np.asarray([], dtype=object)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise DataError(f"{path}: {label_key!r} must be a list of integer labels")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} entries in {label_key!r}")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {label_key!r} holds the label {int(labels[i])} at index {i}; expected 0 to "
                        f"{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_split(directory: Path, files: tuple[str, ...], label_key: str,
                num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [_read_batch(directory / name, label_key, num_classes) for name in files]
    x = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    y = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(x), torch.from_numpy(y)


def _read_class_names(directory: Path, spec: _Spec) -> list[str]:
    path = directory / spec.meta_file
    meta = _read_pickle(path)
    if spec.names_key not in meta:
        raise DataError(f"{path}: missing key {spec.names_key!r} (found: {', '.join(sorted(meta)) or 'none'})")
    names = meta[spec.names_key]
    if not isinstance(names, (list, tuple)) or len(names) != spec.num_classes:
        count = len(names) if isinstance(names, (list, tuple)) else type(names).__name__
        raise DataError(f"{path}: {spec.names_key!r} must list {spec.num_classes} class names, got {count}")
    return [_text(n) for n in names]


# ---------------------------------------------------------------------------------------------------------------
# Downloading


def _check_member(member: tarfile.TarInfo, url: str) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise DataError(f"cannot download {url}: archive member {name!r} points outside the destination")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"cannot download {url}: archive member {name!r} is not a regular file or directory")


def _fetch(url: str, target: Path, progress: bool) -> tuple[str, str]:
    """Streams ``url`` into the open-able path ``target``; returns its (sha256, md5) hex digests."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "satlearn"})
    with urllib.request.urlopen(request, timeout=60) as response, target.open("wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=f"downloading {url.rsplit('/', 1)[-1] or url}", leave=False)
        try:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and out.tell() != total:
            raise DataError(f"cannot download {url}: connection closed after {out.tell()} of {total} bytes")
    return sha.hexdigest(), md5.hexdigest()


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def download_and_extract(
    url: str,
    dest_dir: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Downloads the tar archive at ``url`` and extracts it into ``dest_dir``; returns the top-level paths created.

    The archive is streamed to a temporary file in ``dest_dir``, checked against ``sha256`` (else ``md5``; no
    check when both are ``None``), extracted into a temporary directory (rejecting absolute paths, ``..``, links
    and devices) and its top-level entries renamed into ``dest_dir``. On any failure — including Ctrl-C, which is
    re-raised after cleaning up — every file written so far is removed; errors are raised as :class:`DataError`
    naming the URL and the reason.
    """
    dest = Path(dest_dir)
    created_dest = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot download {url}: cannot create {dest} ({exc.strerror or exc})") from None
    leftovers: list[Path] = []  # temporary files; always removed
    placed: list[Path] = []  # entries moved into dest; removed only on failure
    succeeded = False
    try:
        fd, archive_name = tempfile.mkstemp(dir=dest, prefix=".satlearn-download-", suffix=".part")
        os.close(fd)
        archive = Path(archive_name)
        leftovers.append(archive)
        got_sha, got_md5 = _fetch(url, archive, progress)
        if sha256 is not None and got_sha != sha256.strip().lower():
            raise DataError(f"cannot download {url}: sha256 checksum mismatch (expected {sha256}, got {got_sha})")
        if sha256 is None and md5 is not None and got_md5 != md5.strip().lower():
            raise DataError(f"cannot download {url}: md5 checksum mismatch (expected {md5}, got {got_md5})")

        staging = Path(tempfile.mkdtemp(dir=dest, prefix=".satlearn-extract-"))
        leftovers.append(staging)
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, url)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:  # Python without extraction filters: the members were checked above
                tar.extractall(staging, members=members)
        entries = sorted(staging.iterdir())
        if not entries:
            raise DataError(f"cannot download {url}: the archive is empty")
        for entry in entries:
            target = dest / entry.name
            if target.exists() and not (target.is_dir() and not any(target.iterdir())):  # empty dirs are replaced
                raise DataError(f"cannot download {url}: {target} already exists")
        for entry in entries:
            os.replace(entry, dest / entry.name)
            placed.append(dest / entry.name)
        succeeded = True
        return placed
    except DataError:
        raise
    except urllib.error.HTTPError as exc:
        raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    # urllib refuses an address without a scheme or with a bad host or port before it connects
    except (ValueError, http.client.InvalidURL) as exc:
        raise DataError(f"cannot download {url}: not a valid URL ({exc}); expected an address such as "
                        "https://host/archive.tar.gz") from None
    except http.client.HTTPException as exc:  # a reply that breaks the protocol, say a chunk cut short
        raise DataError(f"cannot download {url}: bad HTTP reply ({type(exc).__name__}: {exc})") from None
    except urllib.error.URLError as exc:
        raise DataError(f"cannot download {url}: {exc.reason}") from None
    except (socket.timeout, TimeoutError):
        raise DataError(f"cannot download {url}: the connection timed out") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot download {url}: not a valid tar archive ({exc})") from None
    except OSError as exc:
        raise DataError(f"cannot download {url}: {exc.strerror or exc}") from None
    finally:
        for path in leftovers:
            _remove(path)
        if not succeeded:
            for path in placed:
                _remove(path)
            if created_dest:
                try:
                    dest.rmdir()  # only succeeds when empty
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------------------------
# The sources


def _relative_note(root: Path) -> str:
    return "" if root.is_absolute() else f", under the current directory {Path.cwd()}"


def _batches_directory(root: Path, spec: _Spec) -> Path | None:
    """``root`` where it holds batch files (a missing one is reported by name when read), ``root/<dirname>`` where
    that is a directory, else None."""
    if any((root / name).is_file() for name in (spec.meta_file, *spec.train_files, *spec.test_files)):
        return root
    if (root / spec.dirname).is_dir():
        return root / spec.dirname
    return None


def _locate(config, spec: _Spec, *, progress: bool) -> Path:
    """The batches directory: ``root`` itself, ``root/<dirname>``, or freshly downloaded there."""
    root = user_path(config.root) if config.root else default_cache_dir()
    found = _batches_directory(root, spec)
    if found is not None:
        return found
    if not config.download:
        expected = ("its batch files in it" if root.name == spec.dirname
                    else f"{root / spec.dirname}/ or the batch files in {root} itself")
        raise MissingDataError(f"{spec.name}: no {spec.title} data at data.root {root}{_relative_note(root)} "
                               f"(expected {expected})", download_hint="set data.download=true to fetch it")
    parent = root.parent if root.name == spec.dirname else root
    url = config.url or spec.url
    sha256 = config.sha256 or spec.sha256
    try:
        download_and_extract(url, parent, sha256=sha256, progress=progress)
    except DataError as exc:
        # a run started beside this one (the CE and SAT runs of a recipe, say) downloaded it first: its directory,
        # renamed into place whole, is the data this download was for
        found = _batches_directory(root, spec)
        if found is not None:
            return found
        if not config.url:
            raise
        raise DataError(f"{spec.name}: data.url: {exc}") from None
    directory = parent / spec.dirname
    if not directory.is_dir():
        raise DataError(f"{spec.name}: the archive from {url} did not contain {spec.dirname}/ (looked in {parent})")
    return directory


def _load(config, spec: _Spec, *, progress: bool) -> DatasetSplits:
    directory = _locate(config, spec, progress=progress)
    class_names = _read_class_names(directory, spec)
    x_train, y_train = _read_split(directory, spec.train_files, spec.label_key, spec.num_classes)
    x_test, y_test = _read_split(directory, spec.test_files, spec.label_key, spec.num_classes)
    return DatasetSplits(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=spec.num_classes,
        class_names=class_names,
        kind="image",
        name=spec.name,
        mean=spec.mean,
        std=spec.std,
    )


@SOURCES.register("cifar10")
def load_cifar10(config, *, progress: bool = True) -> DatasetSplits:
    return _load(config, _SPECS["cifar10"], progress=progress)


@SOURCES.register("cifar100")
def load_cifar100(config, *, progress: bool = True) -> DatasetSplits:
    return _load(config, _SPECS["cifar100"], progress=progress)
