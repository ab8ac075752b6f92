r"""Converts the JPEG CIFAR-10 archive into the standard `cifar-10-batches-py` layout, in original CIFAR order.

The archive lays images out as `train/<class>/NNNN.jpg` (5,000 per class) and `test/<class>/NNNN.jpg`. Image
`train/<c>/k.jpg` is the k-th training image of class c in original CIFAR-10 order, so with the CIFAR-10N
`clean` labels (original order) original index i maps to `train/<CLASSES[clean[i]]>/<k:04d>.jpg`, k = number of
earlier indices with the same label. That keeps CIFAR-10N's noisy label sets aligned with the images. The test
split's original order is not recoverable; it is written class by class (which changes nothing for evaluation).
A conversion stopped part-way (Ctrl-C, or the SIGTERM of the suite's `--stop`) leaves no part of it in --out.

    python benchmarks/prepare_cifar10.py --archive ../shared/data/cifar10-jpeg.tar.xz \
        --labels ../shared/data/cifar10n_labels.npz --out data/
    satlearn train -c configs/cifar10_sat.yaml --set data.root=data/cifar-10-batches-py
"""

from __future__ import annotations

import argparse
import io
import lzma
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT, data_file, path_option, run_main, writable_dir_problem  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_IMAGES = 50_000  # CIFAR-10's training split, which every CIFAR-10N label set labels one by one


def error(message: str) -> SystemExit:
    """The exit for bad input, worded as argparse words its own: one line on stderr, exit status 1."""
    return SystemExit(f"prepare_cifar10.py: error: {message}")


def read_archive(archive: Path) -> dict[str, bytes]:
    """Every JPEG member's bytes, keyed by its path inside the archive."""
    members: dict[str, bytes] = {}
    with tarfile.open(archive) as tar:
        for member in tqdm(tar, desc="reading archive", unit="file", leave=False):
            if member.isfile() and member.name.endswith(".jpg"):
                members[member.name.lstrip("./")] = tar.extractfile(member).read()
    return members


def decode(data: bytes) -> np.ndarray:
    """JPEG bytes → (3072,) uint8 in CIFAR's row-major R, G, B planes."""
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    if image.shape != (32, 32, 3):
        raise ValueError(f"expected a 32x32 RGB image, got {image.shape}")
    return image.transpose(2, 0, 1).reshape(-1)


def train_order(clean: np.ndarray) -> list[str]:
    """Archive paths of the training images in original CIFAR-10 order."""
    seen = np.zeros(len(CLASSES), dtype=np.int64)
    paths = []
    for label in clean:
        paths.append(f"train/{CLASSES[label]}/{seen[label]:04d}.jpg")
        seen[label] += 1
    return paths


def write_batch(path: Path, images: np.ndarray, labels: list[int], names: list[str], title: str) -> None:
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": title.encode(), b"labels": labels, b"data": images,
                     b"filenames": [n.encode() for n in names]}, f, protocol=4)


def read_clean_labels(labels_file: Path) -> np.ndarray:
    """CIFAR-10N's ``clean`` array: the original CIFAR-10 training labels, in the original order."""
    try:
        with np.load(labels_file, allow_pickle=False) as labels:
            clean = labels["clean"] if "clean" in labels.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        clean = None
    # a label outside 0..9 would name no class folder, or with -1 quietly the last one
    if clean is None or clean.ndim != 1 or not np.issubdtype(clean.dtype, np.integer) or \
            (clean.size and (clean.min() < 0 or clean.max() >= len(CLASSES))):
        raise ValueError(f"{labels_file} is not CIFAR-10N's label file: expected a .npz with a 'clean' array of "
                         f"class indices 0 to {len(CLASSES) - 1}, one per training image")
    return clean.astype(np.int64)


def check_one_label_per_training_image(labels_file: Path) -> None:
    """Refuses a label file with a label set of another length than CIFAR-10's training split, which the archive's
    image count would otherwise reveal only after the minute of reading it."""
    with np.load(labels_file, allow_pickle=False) as labels:
        lengths = {name: len(np.atleast_1d(labels[name])) for name in labels.files}
    for name, length in lengths.items():
        if length != TRAIN_IMAGES:
            raise error(f"{labels_file}: {length} {name} labels for the {TRAIN_IMAGES} CIFAR-10 training images; "
                        "expected one label per training image")


def convert(archive: Path, labels_file: Path, out: Path) -> Path:
    target = out / "cifar-10-batches-py"
    if target.exists():  # before the minute of reading the archive
        raise error(f"{target} already exists; remove it first")
    clean = read_clean_labels(labels_file)
    check_one_label_per_training_image(labels_file)
    members = read_archive(archive)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".cifar-10-batches-py."))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the data private once renamed into place
    try:
        paths = train_order(clean)
        missing = [p for p in paths if p not in members]
        if missing:
            raise error(f"{archive}: {len(missing)} training images missing, e.g. {missing[0]}")
        # fewer labels than images would convert only the first images of each class, and CIFAR-10N's other
        # label sets (one label per training image) would then no longer line up with them
        in_archive = sum(p.startswith("train/") for p in members)
        if in_archive != len(paths):
            raise error(f"{labels_file}: {len(paths)} clean labels for the {in_archive} training images of "
                        f"{archive}; expected one label per training image")
        images = np.stack([decode(members[p]) for p in tqdm(paths, desc="decoding train", leave=False)])
        for b, part in enumerate(np.array_split(np.arange(len(paths)), 5)):
            write_batch(staging / f"data_batch_{b + 1}", images[part], clean[part].tolist(),
                        [paths[i] for i in part], f"training batch {b + 1} of 5")
        test_paths = sorted(p for p in members if p.startswith("test/"))
        test_labels = [CLASSES.index(p.split("/")[1]) for p in test_paths]
        test_images = np.stack([decode(members[p]) for p in tqdm(test_paths, desc="decoding test", leave=False)])
        write_batch(staging / "test_batch", test_images, test_labels, test_paths, "testing batch 1 of 1")
        with open(staging / "batches.meta", "wb") as f:
            pickle.dump({b"label_names": [c.encode() for c in CLASSES], b"num_cases_per_batch": len(paths) // 5,
                         b"num_vis": 3072}, f, protocol=4)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            # another conversion into the same folder finished first: the archive and labels were not at fault
            raise error(f"{target} was written by another conversion while this one ran; it is kept as it is, and "
                        "this conversion's batches are discarded") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=path_option, default=data_file("cifar10-jpeg.tar.xz"),
                        help="the JPEG CIFAR-10 archive (default: cifar10-jpeg.tar.xz in benchmarks/data/, else in "
                             "the shared data folder beside the checkout)")
    parser.add_argument("--labels", type=path_option, default=data_file("cifar10n_labels.npz"),
                        help="CIFAR-10N's label file, whose 'clean' labels give the original training order "
                             "(default: cifar10n_labels.npz, looked for as --archive is)")
    parser.add_argument("--out", type=path_option, default=Path(__file__).resolve().parent / "data",
                        help="folder to write cifar-10-batches-py into (default: benchmarks/data/); it must not "
                             "hold one already")
    args = parser.parse_args()
    for option, path, name in (("--archive", args.archive, "cifar10-jpeg.tar.xz"),
                               ("--labels", args.labels, "cifar10n_labels.npz")):
        if path.is_dir():  # "no such file" would send one looking for a path that is there
            parser.error(f"{option} {path}: a folder; expected the file {name} (give its path, {path / name} "
                         "if it lies there)")
        if not path.is_file():
            parser.error(f"{option} {path}: no such file; put {name} in {DATA} or give {option} (the data "
                         f"folder's README.md, {ROOT.parent / 'shared' / 'data' / 'README.md'}, says where it comes from)")
    problem = writable_dir_problem(args.out)
    if problem:  # found before the minute of reading the archive, not when the batches are written
        parser.error(f"--out {args.out}: {problem}; expected a folder to write cifar-10-batches-py into")
    started = time.perf_counter()
    try:
        target = convert(args.archive, args.labels, args.out)
    except (tarfile.TarError, lzma.LZMAError, EOFError, OSError, KeyError, ValueError) as exc:
        # a damaged or different archive or label file: say which, in one line; convert() leaves no partial output
        reason = "; ".join(line.strip(" -").rstrip(":") for line in str(exc).splitlines() if line.strip(" -"))
        raise error(f"cannot convert {args.archive} with {args.labels} ({type(exc).__name__}: {reason})") from None
    print(f"wrote {target} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    # Ctrl-C and SIGTERM (the suite's --stop) end the conversion in one line, once convert() has removed its staging
    # folder: the signal's default action would end the process at once and leave that folder in --out
    run_main(main)
