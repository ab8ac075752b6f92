"""Images in class folders, all loaded into memory: ``root/train/<class>/*.png`` and ``root/test/<class>/*.png``;
or ``root/train/<class>/`` alone, or the class folders ``root/<class>/`` alone, where ``data.test_fraction`` of the
images, drawn with a generator seeded by ``data.data_seed``, are held out as the test split.

Classes are the sorted subdirectory names of ``train`` (of ``root`` where it holds neither a ``train`` nor a ``test``
split folder); a ``test`` folder must hold the same set. A ``train`` or ``test`` folder that holds images directly
and no folders is a class like the others, so classes of those names can lie directly in ``root`` beside other
classes (a ``root`` holding no other folder, or only a validation split's ``val``, ``valid``, ``validation`` or
``dev``, is refused: its images were not sorted into classes; for this refusal the split names match in any case,
``Train`` as ``train``); one that holds folders (or nothing) is a split folder, and a ``root`` holding one of each
kind is refused. Files are read in sorted order (class by class, then by file name; folders inside a class folder are
not read, and the notes name them), converted to RGB (grey repeated in the three channels, alpha dropped; pixels as
stored, without a JPEG's EXIF orientation), and must all share one size; a drawn split keeps that order in both
splits. Images with more than 8 bits per channel (16-bit grayscale PNGs, say) are refused rather than clipped to
0..255, as is an image that is a link to a file no longer there. The per-channel mean and standard deviation are
computed from the training images.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from satlearn.data.base import SOURCES, DatasetSplits, printable, reading_bar, require_data_root
from satlearn.data.tabular import drawn_split_note, split_indices
from satlearn.errors import DataError
from satlearn.paths import user_path

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _subdirs(directory: Path) -> list[str]:
    try:
        return sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"{directory}: cannot list directory ({exc.strerror or exc})") from None


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


@dataclass(frozen=True)
class _Layout:
    """Where an image folder's classes and splits are.

    Attributes:
        class_dir: the folder whose subfolders are the classes: ``root/train``, or ``root`` itself when it holds
            neither a ``train`` nor a ``test`` split folder.
        test_dir: ``root/test``; ``None`` where there is none and the test split is drawn.
        flat: the classes are ``root``'s own folders.
        unread: the other folders beside ``train`` (``val``, say), which are not read.
        split_names_read_as_classes: in the flat layout, ``train`` and/or ``test`` where they are classes.
    """

    class_dir: Path
    test_dir: Path | None
    flat: bool = False
    unread: tuple[str, ...] = ()
    split_names_read_as_classes: tuple[str, ...] = ()


def _is_image_class(directory: Path) -> bool:
    """A ``train`` or ``test`` folder with images directly in it and no folders is a class, not a split: a split
    folder's images lie in its class folders. One holding both is a split folder whose loose images are noted as
    not read, as beside any class folders; an empty one is a split folder not yet filled."""
    return not _subdirs(directory) and bool(_image_files(directory, Counter()))


# folders that hold a validation split, not a class, beside train/ (which is not read, as any other folder there)
_VALIDATION_SPLIT_NAMES = frozenset({"val", "valid", "validation", "dev"})


def _layout(root: Path) -> _Layout:
    folders = _subdirs(root)
    if not folders:
        raise DataError(f"imagefolder: {root} holds no folders (expected one folder of images per class, or "
                        "train/<class>/ and optionally test/<class>/)")
    as_classes = tuple(name for name in ("test", "train") if name in folders and _is_image_class(root / name))
    splits = [name for name in ("test", "train") if name in folders and name not in as_classes]
    if as_classes and splits:  # one reads as a class, the other as a split: neither layout holds both
        raise DataError(_mixed_layout_error(root, as_class=as_classes[0], as_split=splits[0]))
    # matched in any case here only: Train/ and Test/ of loose images are as unsorted as train/ and test/, while
    # the split folder of the train/<class>/ layout keeps its one spelling
    unsorted = tuple(sorted((name for name in folders if name.lower() in ("test", "train")
                             and _is_image_class(root / name)), key=lambda name: (name.lower(), name)))
    beside = [name for name in folders if name not in unsorted]
    if unsorted and all(name.lower() in _VALIDATION_SPLIT_NAMES for name in beside):
        # no class beside them (a validation split is none): split folders whose images were never sorted into
        # class folders, which read as classes would teach a model which split an image is in
        raise DataError(_unsorted_splits_error(root, unsorted, beside=beside))
    if "train" in splits:
        test_dir = root / "test" if "test" in folders else None
        unread = tuple(name for name in folders if name not in ("train", "test"))
        return _Layout(class_dir=root / "train", test_dir=test_dir, unread=unread)
    if "test" in splits:  # a test split alone holds no training images to draw from
        raise DataError(f"imagefolder: {root / 'train'} is missing (expected one subdirectory per class in it)")
    return _Layout(class_dir=root, test_dir=None, flat=True, split_names_read_as_classes=as_classes)


def _mixed_layout_error(root: Path, *, as_class: str, as_split: str) -> str:
    """For a ``root`` whose ``train`` and ``test`` folders read one as a class, the other as a split folder."""
    split_dir = root / as_split
    if as_class == "test" and _subdirs(split_dir):  # most likely test images not yet sorted into class folders
        return (f"imagefolder: {root / 'test'} holds images directly, not class folders as {split_dir} does; "
                f"{_no_test_images_remedy(split_dir, root / 'test')}")
    return (f"imagefolder: {root / as_class} holds images directly but {split_dir} holds "
            f"{'folders' if _subdirs(split_dir) else 'nothing'}; expected class folders in both (train/<class>/, "
            "test/<class>/), or, where train and test are classes, images directly in both")


def _unsorted_splits_error(root: Path, names: tuple[str, ...], *, beside: list[str]) -> str:
    """For a ``root`` whose only folders are ``train`` and/or ``test``, holding images directly, and perhaps a
    validation split's folder (``beside``)."""
    holds, them = ("holds", "it") if len(names) == 1 else ("hold", "them")
    validation = f" ({', '.join(str(root / name) for name in beside)}, named as a split, is none)" if beside else ""
    return (f"imagefolder: {' and '.join(str(root / name) for name in names)} {holds} images directly, not class "
            f"folders, and {root} holds no class folder beside {them}{validation}; expected one folder of images "
            f"per class in {them} (train/<class>/, test/<class>/), or the class folders directly in {root}")


def _named_like_splits(root: Path, layout: _Layout) -> str:
    """Why ``root``'s own folders are the classes, though it holds a ``train`` or ``test`` folder."""
    named = layout.split_names_read_as_classes
    holds = "holds" if len(named) == 1 else "hold"
    return f"{' and '.join(str(root / name) for name in named)} {holds} images, not class folders"


def _nested_hint(directory: Path, layout: _Layout) -> str:
    """For a class folder without images that holds folders: the images lie a level below where classes are read,
    which in the flat layout most often means ``data.root``'s folders are splits (``val/``), not classes."""
    inner = _subdirs(directory)
    if not inner:
        return ""
    if layout.split_names_read_as_classes:
        where = (f"{_named_like_splits(layout.class_dir, layout)}, so each folder in {layout.class_dir} is read as "
                 "a class")
    elif layout.flat:
        where = f"{layout.class_dir} has no train/ folder, so each of its folders is read as a class"
    else:
        where = "the images of a class go directly in its folder"
    return f"; it holds the folders {_shown(inner)}, not images: {where}"


def _image_files(directory: Path, skipped: Counter) -> list[Path]:
    """The images of ``directory``, sorted; the suffixes of its other (not hidden) files are counted in
    ``skipped``."""
    try:
        # a link whose target is gone (a file of git-annex or DVC not fetched) is listed too, to be named when read
        files = [p for p in directory.iterdir()
                 if (p.is_file() or _is_broken_link(p)) and not p.name.startswith(".")]
    except OSError as exc:
        raise DataError(f"{directory}: cannot list directory ({exc.strerror or exc})") from None
    skipped.update(p.suffix.lower() or p.name for p in files if p.suffix.lower() not in EXTENSIONS)
    return sorted(p for p in files if p.suffix.lower() in EXTENSIONS)


def _is_broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _skipped_note(split_dir: Path, skipped: Counter) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
    return (f"{split_dir}: skipped {sum(skipped.values())} file(s) that are not {'/'.join(EXTENSIONS)} images "
            f"({kinds})")


def _inner_folders_note(split_dir: Path, inner: list[str]) -> str:
    # other image-folder readers take in a class folder's subfolders too: images kept there would be left out of a
    # class without a word
    return (f"{split_dir}: {len(inner)} folder(s) inside class folders not read ({printable(_shown(inner))}): a "
            "class's images are read only directly in its folder")


def _loose_images_note(class_dir: Path) -> str | None:
    """Images lying in the folder of class folders itself belong to no class and are not read: said, since a user
    may have meant them to be data."""
    loose = _image_files(class_dir, Counter())
    if not loose:
        return None
    return (f"{class_dir}: {len(loose)} image(s) directly in it, outside any class folder, not read (an image's "
            "class is the folder it is in)")


def _list_split(split_dir: Path, classes: list[str], *, every_class: bool, notes: list[str],
                layout: _Layout) -> tuple[list[Path], list[int]]:
    """Image files and labels of one split; ``every_class``: a class directory without images is an error. What
    the class directories hold besides images is described in ``notes``."""
    files: list[Path] = []
    labels: list[int] = []
    skipped: Counter = Counter()
    inner_folders: list[str] = []
    for label, name in enumerate(classes):
        found = _image_files(split_dir / name, skipped)
        if not found and every_class:
            # a class nobody can learn; label noise would still move labels into it
            raise DataError(f"imagefolder: {split_dir / name} holds no images ({', '.join(EXTENSIONS)}); remove the "
                            f"class directory or add its images{_nested_hint(split_dir / name, layout)}")
        files.extend(found)
        labels.extend([label] * len(found))
        inner_folders.extend(f"{name}/{inner}" for inner in _subdirs(split_dir / name))
    if skipped:
        notes.append(_skipped_note(split_dir, skipped))
    if inner_folders:
        notes.append(_inner_folders_note(split_dir, inner_folders))
    if not files:  # (a training split stops above, at its first class without images: only a test split gets here)
        raise DataError(f"imagefolder: {split_dir} holds no images ({', '.join(EXTENSIONS)}) in any of its class "
                        f"directories; {_no_test_images_remedy(layout.class_dir, split_dir)}")
    return files, labels


def _bits_per_channel(mode: str) -> int | None:
    """Bits per channel of a Pillow mode: 32 for ``I`` and ``F``, 16 for ``I;16`` and its byte orders, else 8 or
    fewer (None: not a mode name; convert() below reports it if it cannot read it). From the name alone, the same
    in every Pillow version."""
    if mode in ("I", "F") or mode.startswith(("I;32", "F;32")):
        return 32
    if mode.startswith("I;16"):
        return 16
    return 8 if mode else None


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image

    if _is_broken_link(path):
        raise DataError(f"{path}: a link to {os.readlink(path)}, which is not there; expected an image file (fetch or "
                        "restore its target, or remove the link)")
    try:
        with Image.open(path) as image:
            mode = image.mode
            bits = _bits_per_channel(mode)
            if bits is None or bits <= 8:
                if mode == "P" and "transparency" in image.info:
                    # (a palette with alpha entries, as PNG optimisers write: straight to RGB, Pillow warns on every
                    # run that it should go to RGBA; through RGBA the colours are the same, and no warning)
                    image = image.convert("RGBA")
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...) for bad files
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None
    # convert("RGB") clips such values at 255 instead of scaling them, which would flatten the image
    raise DataError(f"{path}: image mode {mode!r} has {bits} bits per channel; satlearn reads 8-bit images "
                    "(convert it to 8 bits per channel first)")


def _read_images(files: list[Path], size: tuple[int, int] | None, reference: Path | None, *,
                 progress: bool = False, what: str = "images") -> np.ndarray:
    """Returns ``(N, 3, H, W)`` uint8; every image must be ``size`` (width, height), else that of the first.
    ``progress``: a bar (:func:`~satlearn.data.base.reading_bar`) over the files, ``what`` they are."""
    out: np.ndarray | None = None
    bar = reading_bar(progress, total=len(files), unit="image", desc=f"reading {what}")
    try:
        for i, path in enumerate(files):
            pixels = _read_image(path)
            h, w = pixels.shape[:2]
            if size is None:
                size, reference = (w, h), path
            if (w, h) != size:
                raise DataError(
                    f"{path}: image is {w}x{h}, expected {size[0]}x{size[1]} like {reference} "
                    "(all images must have the same size)"
                )
            if out is None:
                out = np.empty((len(files), 3, h, w), dtype=np.uint8)
            out[i] = pixels.transpose(2, 0, 1)
            bar.update()
    finally:
        bar.close()
    assert out is not None
    return out


def channel_stats(images: np.ndarray, chunk: int = 1024) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``(N, C, H, W)`` uint8 images scaled to [0, 1] (a channel that never varies, or
    whose std is under 1e-8, is reported with std 1)."""
    channels = images.shape[1]
    total = np.zeros(channels, dtype=np.float64)
    total_sq = np.zeros(channels, dtype=np.float64)
    varies = np.zeros(channels, dtype=bool)
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]
        varies |= (part != images[:1, :, :1, :1]).any(axis=(0, 2, 3))
        part = part.astype(np.float64) / 255.0
        total += part.sum(axis=(0, 2, 3))
        total_sq += np.square(part).sum(axis=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    # a channel that never varies can still leave a rounding residue of about 1e-8 here, which would scale a
    # test image one step brighter in it into inputs in the hundreds of thousands
    std = np.where(varies & (std > 1e-8), std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def _no_test_images_remedy(train_dir: Path, test_dir: Path) -> str:
    # a test/ folder without test images is most often one made ahead or emptied: a split is drawn only without it
    return (f"add the test images, one folder per class as in {train_dir}, or remove {test_dir} to hold out "
            "data.test_fraction of the training images as the test split")


def _check_test_classes(train_dir: Path, test_dir: Path, classes: list[str]) -> None:
    test_classes = _subdirs(test_dir)
    if not test_classes:
        raise DataError(f"imagefolder: {test_dir} holds no class folders; "
                        f"{_no_test_images_remedy(train_dir, test_dir)}")
    missing = sorted(set(classes) - set(test_classes))
    extra = sorted(set(test_classes) - set(classes))
    if missing:
        raise DataError(f"imagefolder: class {missing[0]!r} is in {train_dir} but missing from {test_dir} (where "
                        f"the test set has no such images, an empty {test_dir / missing[0]} is enough)")
    if extra:
        raise DataError(f"imagefolder: class {extra[0]!r} is in {test_dir} but not in {train_dir}")


def _drawn_note(root: Path, layout: _Layout, config, *, held_out: int, total: int, classes: int) -> str:
    """What the log says of a drawn test split, so that a run on a folder without test/ does not pass for one
    scored on a test set of the user's own."""
    if layout.split_names_read_as_classes:
        where = f"{_named_like_splits(root, layout)}: the {classes} folders in {root} are the classes, and"
    elif layout.flat:
        where = f"{root} has no train/ or test/ folder: its {classes} folders are the classes, and"
    else:
        where = f"{root} has no test/ folder:"
    drawn = " " + drawn_split_note(config, held_out=held_out, total=total, examples="images")
    unread = f"; {', '.join(f'{name}/' for name in layout.unread)} beside train/ not read" if layout.unread else ""
    return where + drawn + unread


@SOURCES.register("imagefolder")
def load_imagefolder(config, *, progress: bool = True) -> DatasetSplits:
    if not config.root:
        raise DataError("imagefolder: set data.root to a directory holding a folder of images per class (or "
                        "train/<class>/ and optionally test/<class>/)")
    root = user_path(config.root)
    require_data_root(root, "imagefolder", "expected a folder of images per class in it, or train/<class>/ and "
                      "optionally test/<class>/", folder=True)
    layout = _layout(root)
    classes = _subdirs(layout.class_dir)
    if not classes:
        raise DataError(f"imagefolder: {layout.class_dir} has no class subdirectories")
    if layout.test_dir is not None:
        _check_test_classes(layout.class_dir, layout.test_dir, classes)

    beside_classes = (layout.class_dir,) if layout.test_dir is None else (layout.class_dir, layout.test_dir)
    notes: list[str] = [note for note in map(_loose_images_note, beside_classes) if note]
    files, labels = _list_split(layout.class_dir, classes, every_class=True, notes=notes, layout=layout)
    source_rows = source_size = None
    if layout.test_dir is not None:
        train_files, train_labels = files, labels
        # a test set may lack a class
        test_files, test_labels = _list_split(layout.test_dir, classes, every_class=False, notes=notes,
                                              layout=layout)
    else:
        # positions in the sorted file list: the same folder gives the same split wherever it lies (data.root may
        # change between a run and its resumption or evaluation)
        train, test = split_indices(len(files), config.test_fraction, config.data_seed,
                                    what=f"imagefolder: {layout.class_dir}")
        train_files, train_labels = [files[i] for i in train], [labels[i] for i in train]
        test_files, test_labels = [files[i] for i in test], [labels[i] for i in test]
        source_rows, source_size = train, len(files)
        notes.append(_drawn_note(root, layout, config, held_out=len(test), total=len(files), classes=len(classes)))
    x_train = _read_images(train_files, None, None, progress=progress, what="training images")
    size = (x_train.shape[3], x_train.shape[2])
    x_test = _read_images(test_files, size, train_files[0], progress=progress, what="test images")
    mean, std = channel_stats(x_train)
    return DatasetSplits(
        x_train=torch.from_numpy(x_train),
        y_train=torch.tensor(train_labels, dtype=torch.int64),
        x_test=torch.from_numpy(x_test),
        y_test=torch.tensor(test_labels, dtype=torch.int64),
        num_classes=len(classes),
        class_names=[printable(name) for name in classes],
        kind="image",
        name="imagefolder",
        mean=mean,
        std=std,
        classes_found_in=str(layout.class_dir),
        source_rows=source_rows,
        source_size=source_size,
        # names that are not UTF-8 keep their bytes as \xe9: the run's files are UTF-8
        train_files=[printable(path.relative_to(root).as_posix()) for path in train_files],
        notes=tuple(notes),
    )
