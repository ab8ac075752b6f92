"""The CIFAR-10 conversion keeps original order, so CIFAR-10N label files line up with the images."""

import io
import os
import pickle
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from satlearn.config import DataConfig
from satlearn.data import load_dataset
from fixtures import load_benchmark

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "prepare_cifar10.py"
prepare = load_benchmark("prepare_cifar10")


def add_member(tar, name, image, *, image_format="PNG"):
    """``image`` (H, W, 3) stored under ``name``, by default losslessly (PNG): the converter decodes by content, not
    name."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, quality=95)
    info = tarfile.TarInfo(name)
    info.size = buffer.tell()
    buffer.seek(0)
    tar.addfile(info, buffer)


def add_jpeg(tar, name, value):
    """A 32x32 image of one grey ``value``, a JPEG as the real archive holds."""
    add_member(tar, name, np.full((32, 32, 3), value, dtype=np.uint8), image_format="JPEG")


def test_conversion_puts_images_in_original_order(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    clean = rng.permutation(np.repeat(np.arange(10), 2))  # 20 training images, 2 per class, shuffled order
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", len(clean))
    archive = tmp_path / "cifar.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for c, name in enumerate(prepare.CLASSES):
            for k in range(2):
                add_jpeg(tar, f"train/{name}/{k:04d}.jpg", 10 * c + 100 * k)  # brightness encodes (class, k)
            add_jpeg(tar, f"test/{name}/0000.jpg", 10 * c)
    np.savez(tmp_path / "labels.npz", clean=clean.astype(np.uint8))
    target = prepare.convert(archive, tmp_path / "labels.npz", tmp_path / "out")
    data = load_dataset(DataConfig(source="cifar10", root=str(target)))
    assert torch.equal(data.y_train, torch.from_numpy(clean))
    seen = np.zeros(10, int)
    for i, c in enumerate(clean):
        expected = 10 * c + 100 * seen[c]
        seen[c] += 1
        assert abs(float(data.x_train[i].float().mean()) - expected) < 3, i
    assert data.y_test.tolist() == list(range(10))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask  # as a plain mkdir would make it, not private


def test_a_missing_or_damaged_input_is_one_line_and_leaves_no_output(tmp_path):
    import subprocess
    import sys

    labels = tmp_path / "labels.npz"
    np.savez(labels, clean=np.zeros(prepare.TRAIN_IMAGES, dtype=np.int64))  # passes, so the archive is reached
    out = tmp_path / "out"
    run = lambda *args: subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(out)],  # noqa: E731
                                       capture_output=True, text=True)
    missing = run("--archive", str(tmp_path / "none.tar.xz"), "--labels", str(labels))
    assert missing.returncode == 2 and "--archive" in missing.stderr and "none.tar.xz: no such file" in missing.stderr
    folder = run("--archive", str(tmp_path), "--labels", str(labels))  # the folder that holds it, given for it
    assert folder.returncode == 2 and folder.stderr.strip().endswith(
        f"--archive {tmp_path}: a folder; expected the file cifar10-jpeg.tar.xz (give its path, "
        f"{tmp_path / 'cifar10-jpeg.tar.xz'} if it lies there)")
    damaged = tmp_path / "damaged.tar.xz"
    damaged.write_bytes(b"not an archive at all")
    result = run("--archive", str(damaged), "--labels", str(labels))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "cannot convert" in result.stderr and "damaged.tar.xz" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_labels_that_are_not_cifar10n_are_named_before_the_archive_is_read_and_an_existing_output_too(tmp_path):
    import subprocess
    import sys

    archive = tmp_path / "archive.tar.xz"
    archive.write_bytes(b"never read")
    out = tmp_path / "out"
    run = lambda labels: subprocess.run([sys.executable, str(SCRIPT), "--archive", str(archive), "--labels",  # noqa: E731
                                         str(labels), "--out", str(out)], capture_output=True, text=True)
    not_npz = tmp_path / "given.tar.xz"
    not_npz.write_bytes(b"\xfd7zXZ\x00 an archive, not labels")
    no_clean = tmp_path / "other.npz"
    np.savez(no_clean, worst=np.zeros(10, dtype=np.int64))
    for labels in (not_npz, no_clean):
        result = run(labels)
        assert result.returncode == 1 and result.stderr.strip().count("\n") == 0, result.stderr
        assert f"{labels} is not CIFAR-10N's label file: expected a .npz with a 'clean' array" in result.stderr
    (out / "cifar-10-batches-py").mkdir(parents=True)
    exists = run(no_clean)
    assert exists.stderr.strip() == (f"prepare_cifar10.py: error: {out / 'cifar-10-batches-py'} already exists; "
                                     "remove it first")


def test_an_out_that_is_a_file_or_under_one_is_named_before_the_archive_is_read(tmp_path):
    import subprocess
    import sys

    archive = tmp_path / "archive.tar.xz"
    archive.write_bytes(b"never read")
    labels = tmp_path / "labels.npz"
    np.savez(labels, clean=np.zeros(prepare.TRAIN_IMAGES, dtype=np.int64))  # passes, so the archive would be next
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out in (a_file, a_file / "data"):
        result = subprocess.run([sys.executable, str(SCRIPT), "--archive", str(archive), "--labels", str(labels),
                                 "--out", str(out)], capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().splitlines()[-1] == (f"prepare_cifar10.py: error: --out {out}: {a_file} is not a "
                                                          "directory; expected a folder to write cifar-10-batches-py "
                                                          "into")
    assert a_file.read_text() == ""


def test_conversion_keeps_every_pixel_and_channel_in_place(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    clean = rng.permutation(np.repeat(np.arange(10), 2))
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", len(clean))
    train = rng.integers(0, 256, (10, 2, 32, 32, 3), dtype=np.uint8)  # [class, k] -> (H, W, RGB)
    test = {c: rng.integers(0, 256, (1 + c % 2, 32, 32, 3), dtype=np.uint8) for c in range(10)}  # 1 or 2 a class
    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        # as `tar -cf cifar.tar .` writes it: every member under ./; the test images last class first
        for c in reversed(range(10)):
            for k, image in enumerate(test[c]):
                add_member(tar, f"./test/{prepare.CLASSES[c]}/{k:04d}.jpg", image)
        for c in range(10):
            for k in range(2):
                add_member(tar, f"./train/{prepare.CLASSES[c]}/{k:04d}.jpg", train[c, k])
    np.savez(tmp_path / "labels.npz", clean=clean.astype(np.uint8))
    target = prepare.convert(archive, tmp_path / "labels.npz", tmp_path / "out")
    data = load_dataset(DataConfig(source="cifar10", root=str(target)))
    # CIFAR's rows: the red plane, then green, then blue, each row by row; satlearn reads them as (C, H, W)
    seen = np.zeros(10, int)
    names = []
    for i, c in enumerate(clean):
        assert torch.equal(data.x_train[i], torch.from_numpy(np.moveaxis(train[c, seen[c]], -1, 0))), i
        names.append(f"train/{prepare.CLASSES[c]}/{seen[c]:04d}.jpg")
        seen[c] += 1
    with open(target / "data_batch_2", "rb") as f:
        assert pickle.load(f)[b"filenames"] == [name.encode() for name in names[4:8]]  # each image's source
    # the test split class by class in CIFAR's class order, each class's images by number
    expected_test = [(c, image) for c in range(10) for image in test[c]]
    assert data.y_test.tolist() == [c for c, _ in expected_test]
    for j, (_, image) in enumerate(expected_test):
        assert torch.equal(data.x_test[j], torch.from_numpy(np.moveaxis(image, -1, 0))), j
    assert data.class_names == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                "truck"]  # the data README's class order, index = label


def test_a_training_image_missing_from_the_archive_is_named_and_nothing_is_left(tmp_path, monkeypatch):
    clean = np.repeat(np.arange(10), 2)
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", len(clean))
    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        for c, name in enumerate(prepare.CLASSES):
            for k in range(1 if name == "cat" else 2):
                add_jpeg(tar, f"train/{name}/{k:04d}.jpg", 10 * c)
    np.savez(tmp_path / "labels.npz", clean=clean)
    with pytest.raises(SystemExit, match=rf"^prepare_cifar10\.py: error: {re.escape(str(archive))}: 1 training "
                                         r"images missing, e\.g\. train/cat/0001\.jpg$"):
        prepare.convert(archive, tmp_path / "labels.npz", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_conversion_that_another_one_into_the_same_folder_finished_first_says_so_and_keeps_its_output(
        tmp_path, monkeypatch):
    clean = np.repeat(np.arange(10), 2)
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", len(clean))
    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        for c, name in enumerate(prepare.CLASSES):
            for k in range(2):
                add_jpeg(tar, f"train/{name}/{k:04d}.jpg", 10 * c)
            add_jpeg(tar, f"test/{name}/0000.jpg", 10 * c)
    np.savez(tmp_path / "labels.npz", clean=clean)
    target = tmp_path / "out" / "cifar-10-batches-py"
    write_batch = prepare.write_batch

    def written_meanwhile(path, *args):
        if not target.exists():  # the other conversion (started in a second terminal) renames its batches in
            target.mkdir()
            (target / "data_batch_1").write_bytes(b"the other conversion's")
        write_batch(path, *args)

    monkeypatch.setattr(prepare, "write_batch", written_meanwhile)
    with pytest.raises(SystemExit, match=rf"^prepare_cifar10\.py: error: {re.escape(str(target))} was written by "
                                         r"another conversion while this one ran; it is kept as it is, and this "
                                         r"conversion's batches are discarded$"):
        prepare.convert(archive, tmp_path / "labels.npz", tmp_path / "out")
    assert [path.name for path in (tmp_path / "out").iterdir()] == [target.name]  # no staging folder left
    assert [path.name for path in target.iterdir()] == ["data_batch_1"]


def test_a_label_file_with_fewer_labels_than_the_archive_has_training_images_is_named_and_nothing_is_left(
        tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", 10)  # as many labels as the file has, fewer than the archive's images
    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        for c, name in enumerate(prepare.CLASSES):
            for k in range(2):
                add_jpeg(tar, f"train/{name}/{k:04d}.jpg", 10 * c)
    np.savez(tmp_path / "labels.npz", clean=np.arange(10))  # one label per class: the second images left over
    with pytest.raises(SystemExit, match=rf"^prepare_cifar10\.py: error: {re.escape(str(tmp_path / 'labels.npz'))}: "
                                         rf"10 clean labels for the 20 training images of {re.escape(str(archive))}; "
                                         r"expected one label per training image$"):
        prepare.convert(archive, tmp_path / "labels.npz", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("label_sets, named", [
    ({"clean": np.zeros(10, dtype=np.uint8)}, "10 clean labels"),
    ({"clean": np.zeros(50000, dtype=np.uint8), "aggre": np.zeros(49999, dtype=np.uint8)}, "49999 aggre labels"),
], ids=["clean_short", "aggre_short"])
def test_a_label_set_of_another_length_than_the_training_split_is_named_before_the_archive_is_read(
        tmp_path, monkeypatch, label_sets, named):
    labels = tmp_path / "labels.npz"
    np.savez(labels, **label_sets)

    def read_archive(archive):
        raise AssertionError(f"{archive} read before the label file was checked")

    monkeypatch.setattr(prepare, "read_archive", read_archive)
    with pytest.raises(SystemExit, match=rf"^prepare_cifar10\.py: error: {re.escape(str(labels))}: {named} for the "
                                         r"50000 CIFAR-10 training images; expected one label per training image$"):
        prepare.convert(tmp_path / "never-opened.tar.xz", labels, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("clean", [
    np.zeros((10, 2), dtype=np.int64),
    np.zeros(10, dtype=np.float32),
    np.array([0, 1, 10]),
    np.array([0, -1, 2]),  # -1 would pick the last class folder without a word
], ids=["two_dims", "floats", "above_9", "negative"])
def test_label_files_whose_clean_array_is_not_cifar10_labels_are_refused(tmp_path, clean):
    labels = tmp_path / "labels.npz"
    np.savez(labels, clean=clean)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(labels))} is not CIFAR-10N's label file: expected a "
                                         r"\.npz with a 'clean' array of class indices 0 to 9, one per training image$"):
        prepare.read_clean_labels(labels)


def test_an_image_of_another_size_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "TRAIN_IMAGES", 2)
    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "train/airplane/0000.jpg", np.zeros((32, 32, 3), np.uint8))
        add_member(tar, "train/automobile/0000.jpg", np.zeros((16, 16, 3), np.uint8))
    np.savez(tmp_path / "labels.npz", clean=np.array([0, 1]))
    monkeypatch.setattr(sys, "argv", ["prepare_cifar10.py", "--archive", str(archive), "--labels",
                                      str(tmp_path / "labels.npz"), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exit_:
        prepare.main()
    assert str(exit_.value) == (f"prepare_cifar10.py: error: cannot convert {archive} with {tmp_path / 'labels.npz'} "
                                "(ValueError: expected a 32x32 RGB image, got (16, 16, 3))")


def test_a_conversion_stopped_by_sigterm_ends_in_one_line_and_leaves_no_staging_folder(tmp_path):
    """The suite's --stop (and timeout, a job scheduler) ends the conversion with SIGTERM: a staging folder left in
    --out would hold up to the whole converted dataset, hidden by its leading dot and never removed."""
    import signal
    import subprocess
    import time

    archive = tmp_path / "cifar.tar"
    with tarfile.open(archive, "w") as tar:
        for c, name in enumerate(prepare.CLASSES):
            add_jpeg(tar, f"train/{name}/0000.jpg", 10 * c)
            add_jpeg(tar, f"test/{name}/0000.jpg", 10 * c)
    np.savez(tmp_path / "labels.npz", clean=np.arange(10, dtype=np.uint8))
    writing, out = tmp_path / "writing", tmp_path / "out"
    # the script run as itself, its label count lowered to the archive's and its first batch written slowly, so
    # that the signal comes while the staging folder holds part of the output
    driver = (
        "import pickle, pathlib, runpy, sys, time\n"
        "real_dump = pickle.dump\n"
        "def dump_slowly(*args, **kwargs):\n"
        "    real_dump(*args, **kwargs)\n"
        f"    pathlib.Path({str(writing)!r}).touch()\n"
        "    time.sleep(60)\n"
        "pickle.dump = dump_slowly\n"
        f"sys.argv = [{str(SCRIPT)!r}, '--archive', {str(archive)!r}, '--labels', "
        f"{str(tmp_path / 'labels.npz')!r}, '--out', {str(out)!r}]\n"
        "source = pathlib.Path(sys.argv[0]).read_text().replace('TRAIN_IMAGES = 50_000', 'TRAIN_IMAGES = 10')\n"
        f"sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
        "exec(compile(source, sys.argv[0], 'exec'), {'__name__': '__main__', '__file__': sys.argv[0]})\n")
    process = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not writing.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert writing.exists(), process.communicate(timeout=60)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and stderr.strip().splitlines()[-1] == "prepare_cifar10.py: interrupted", stderr
    assert list(out.iterdir()) == []
