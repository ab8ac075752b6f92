"""File-based data sources: CIFAR pickles (and their checked download), image folders, .npz and CSV files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pickle
import re
import shutil
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import image_colour, without_a_home_directory, write_class_folders
from satlearn.config import DataConfig
from satlearn.data import DatasetSplits, load_dataset
from satlearn.data.cifar import download_and_extract
from satlearn.errors import DataError, MissingDataError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---------------------------------------------------------------------------------------------------------------
# Fixture writers


def write_cifar10(parent: Path, *, per_batch: int = 10, bytes_keys: bool = False) -> Path:
    """A ``cifar-10-batches-py`` directory; image i of batch b has every pixel equal to ``10 * b + i``."""
    key = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for b, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = np.repeat((10 * b + np.arange(per_batch, dtype=np.uint8))[:, None], 3072, axis=1)
        batch = {key("data"): data, key("labels"): [(b + i) % 10 for i in range(per_batch)],
                 key("batch_label"): key(name)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {key("label_names"): [key(n) for n in CIFAR10_NAMES], key("num_vis"): 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return folder


def write_cifar100(parent: Path, *, n_train: int = 12, n_test: int = 6) -> Path:
    rng = np.random.default_rng(0)
    folder = parent / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                 "coarse_labels": [int(v) for v in rng.integers(0, 20, n)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {"fine_label_names": [f"fine{i}" for i in range(100)], "coarse_label_names": [f"c{i}" for i in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    return folder


def cifar10_archive(tmp: Path) -> bytes:
    """The bytes of a tiny ``cifar-10-python.tar.gz``."""
    src = tmp / "archive-src"
    write_cifar10(src, per_batch=2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return buffer.getvalue()


def write_image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def write_imagefolder(root: Path) -> Path:
    for split, count in (("train", 3), ("test", 2)):
        for c, cls in enumerate(("cat", "dog")):
            for i in range(count):
                ext = ".png" if i % 2 == 0 else ".jpg"
                write_image(root / split / cls / f"img{i}{ext}", (200 * c, 10 * i, 50))
    return root


def data_config(source: str, root: Path, **kwargs) -> DataConfig:
    return DataConfig(source=source, root=str(root), **kwargs)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------------------------------------------------------
# CIFAR from disk


@pytest.mark.parametrize("bytes_keys", [False, True])
def test_cifar10_reads_batches_in_order_from_parent_or_batches_dir(tmp_path, bytes_keys):
    folder = write_cifar10(tmp_path, bytes_keys=bytes_keys)
    for root in (tmp_path, folder):
        data = load_dataset(data_config("cifar10", root))
        assert data.kind == "image" and data.name == "cifar10"
        assert data.x_train.shape == (50, 3, 32, 32) and data.x_train.dtype == torch.uint8
        assert data.x_test.shape == (10, 3, 32, 32)
        # Original order: batch 1 first, each image constant.
        assert data.x_train[:, 0, 0, 0].tolist() == [10 * b + i for b in range(5) for i in range(10)]
        assert data.x_test[:, 2, 31, 31].tolist() == [50 + i for i in range(10)]
        assert data.y_train[:10].tolist() == list(range(10)) and data.y_train.dtype == torch.int64
        assert data.class_names == CIFAR10_NAMES and data.num_classes == 10
        assert data.mean == (0.4914, 0.4822, 0.4465) and data.std == (0.2023, 0.1994, 0.2010)


def test_cifar10_reshapes_rows_as_rgb_planes(tmp_path):
    folder = write_cifar10(tmp_path)
    row = np.arange(3072) % 251
    batch = {"data": np.stack([row] * 10).astype(np.uint8), "labels": [0] * 10}
    (folder / "test_batch").write_bytes(pickle.dumps(batch))
    data = load_dataset(data_config("cifar10", folder))
    expected = torch.from_numpy(row.astype(np.uint8).reshape(3, 32, 32))
    assert torch.equal(data.x_test[0], expected)


def test_cifar100_uses_fine_labels_and_names(tmp_path):
    write_cifar100(tmp_path)
    data = load_dataset(data_config("cifar100", tmp_path))
    assert data.num_classes == 100 and data.class_names[:2] == ["fine0", "fine1"]
    assert data.x_train.shape == (12, 3, 32, 32) and len(data.y_test) == 6
    assert data.mean == (0.5071, 0.4865, 0.4409) and data.std == (0.2673, 0.2564, 0.2762)


def test_cifar_missing_root_names_path_and_suggests_download(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=rf"{missing}.*data\.download=true"):
        load_dataset(data_config("cifar10", missing))


def test_cifar_without_a_root_or_a_home_directory_says_how_to_give_the_data_a_place(tmp_path, monkeypatch):
    without_a_home_directory(monkeypatch)
    with pytest.raises(MissingDataError, match=r"^data\.root is null, and with no home directory there is no default "
                                               r"cache .*; set SATLEARN_CACHE or data\.root to a folder for them$"):
        load_dataset(DataConfig(source="cifar10"))
    monkeypatch.setenv("SATLEARN_CACHE", str(tmp_path / "cache"))  # the cache needs no home directory
    with pytest.raises(MissingDataError, match=rf"no CIFAR-10 data at data\.root {tmp_path / 'cache'} "):
        load_dataset(DataConfig(source="cifar10"))


def test_cifar_corrupt_or_missing_batch_names_the_file(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset(data_config("cifar10", tmp_path))
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3.*not found"):
        load_dataset(data_config("cifar10", tmp_path))


def test_cifar_label_out_of_range_names_its_batch_file(tmp_path):
    folder = write_cifar10(tmp_path)
    with open(folder / "data_batch_2", "rb") as f:
        batch = pickle.load(f)
    batch["labels"][1] = 10
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump(batch, f)
    with pytest.raises(DataError, match=r"data_batch_2: 'labels' holds the label 10 at index 1; expected 0 to 9"):
        load_dataset(data_config("cifar10", tmp_path))


def test_cifar_pickle_cannot_run_code(tmp_path):
    folder = write_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (folder / "test_batch").write_bytes(pickle.dumps({"data": Evil(), "labels": []}))
    with pytest.raises(DataError, match=r"test_batch.*refusing to load builtins\.print"):
        load_dataset(data_config("cifar10", tmp_path))


def _py2_str(raw: bytes) -> bytes:
    """A Python 2 ``str`` as pickle writes it: raw bytes, which Python 3 must be told how to decode."""
    return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<I", len(raw))) + raw


def py2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A CIFAR batch as the official archive holds it, pickled by Python 2 (protocol 2): its keys and the pixel
    bytes of its uint8 ``(N, 3072)`` array are ``str``."""
    dtype = (b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"K\x00K\x01\x87R"  # numpy.dtype('u1', 0, 1) ...
             + b"(K\x03" + _py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")  # ... and its state
    shape = b"J" + struct.pack("<i", data.shape[0]) + b"J" + struct.pack("<i", data.shape[1]) + b"\x86"
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_str(b"b") + b"\x87R"
             + b"(K\x01" + shape + dtype + b"\x89" + _py2_str(data.tobytes()) + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + array + _py2_str(b"labels") + label_list + b"u."


def test_cifar10_reads_the_python_2_pickles_of_the_official_archive(tmp_path):
    folder = write_cifar10(tmp_path)
    pixels = (np.arange(10 * 3072) % 256).astype(np.uint8).reshape(10, 3072)  # bytes above 127, as photos have
    (folder / "test_batch").write_bytes(py2_batch(pixels, [9 - i for i in range(10)]))
    data = load_dataset(data_config("cifar10", folder))
    assert data.x_test.flatten(1).tolist() == pixels.tolist()
    assert data.y_test.tolist() == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_cifar100_takes_its_labels_from_the_fine_labels(tmp_path):
    folder = write_cifar100(tmp_path)
    with open(folder / "train", "rb") as f:
        batch = pickle.load(f)
    data = load_dataset(data_config("cifar100", tmp_path))
    assert data.y_train.tolist() == batch["fine_labels"] != batch["coarse_labels"]


def rewrite_batch(folder: Path, name: str, change) -> None:
    with open(folder / name, "rb") as f:
        batch = pickle.load(f)
    batch = change(batch)
    (folder / name).write_bytes(pickle.dumps(batch))


@pytest.mark.parametrize("change,message", [
    (lambda b: {**b, "labels": [0, -1] + b["labels"][2:]}, r"'labels' holds the label -1 at index 1; expected 0 to 9"),
    (lambda b: {**b, "labels": b["labels"][:-1]}, r"10 images but 9 entries in 'labels'"),
    (lambda b: {k: v for k, v in b.items() if k != "labels"}, r"missing key 'labels' \(found: batch_label, data\)"),
    (lambda b: {**b, "data": b["data"][:, :3000]}, r"'data' must be a uint8 array of shape \(N, 3072\), got uint8 "
                                                   r"\(10, 3000\)"),
    (lambda b: {**b, "data": b["data"].astype(np.float32)}, r"'data' must be a uint8 array of shape \(N, 3072\), "
                                                           r"got float32 \(10, 3072\)"),
    (lambda b: list(b.values()), r"expected a pickled dict, got list"),
], ids=["negative_label", "fewer_labels", "no_labels", "short_rows", "float_pixels", "not_a_dict"])
def test_a_cifar_batch_that_is_not_as_expected_is_named_in_one_line(tmp_path, change, message):
    folder = write_cifar10(tmp_path)
    rewrite_batch(folder, "data_batch_2", change)
    with pytest.raises(DataError, match=rf"^{re.escape(str(folder / 'data_batch_2'))}: {message}$"):
        load_dataset(data_config("cifar10", tmp_path))


def test_cifar_class_names_must_number_the_classes(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR10_NAMES[:9]}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(folder / 'batches.meta'))}: 'label_names' must list 10 "
                                        r"class names, got 9$"):
        load_dataset(data_config("cifar10", tmp_path))


def test_a_batches_directory_missing_one_file_names_that_file(tmp_path):
    # data.root naming the batches directory itself: a file missing there is named, not the directory called empty
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match=rf"^{re.escape(str(folder / 'data_batch_3'))}: file not found"):
        load_dataset(data_config("cifar10", folder))


# ---------------------------------------------------------------------------------------------------------------
# CIFAR download against a local HTTP server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """Serves a fresh directory on 127.0.0.1; yields (directory, base URL)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_with_sha256_through_the_config(tmp_path, http_dir):
    served, base = http_dir
    archive = cifar10_archive(tmp_path)
    (served / "cifar-10-python.tar.gz").write_bytes(archive)
    dest = tmp_path / "data"
    cfg = data_config("cifar10", dest, download=True, url=f"{base}/cifar-10-python.tar.gz",
                      sha256=hashlib.sha256(archive).hexdigest())
    data = load_dataset(cfg)
    assert data.x_train.shape == (10, 3, 32, 32) and data.class_names == CIFAR10_NAMES
    assert leftovers(dest) == ["cifar-10-batches-py"]  # no temporary files remain
    # A second load finds the extracted directory and does not download again.
    (served / "cifar-10-python.tar.gz").unlink()
    assert len(load_dataset(cfg).y_test) == 2


def test_a_download_shows_its_progress_bar_unless_the_run_hides_progress(tmp_path, http_dir, capfd):
    from satlearn.config import load_config
    from satlearn.engine.trainer import prepare_data

    served, base = http_dir
    archive = cifar10_archive(tmp_path)
    (served / "cifar-10-python.tar.gz").write_bytes(archive)
    url, sha256 = f"{base}/cifar-10-python.tar.gz", hashlib.sha256(archive).hexdigest()
    capfd.readouterr()
    # satlearn train --no-progress, find-issues --no-progress: run.progress=false reaches the download
    quiet = load_config(None, ["data.source=cifar10", f"data.root={tmp_path / 'quiet'}", "data.download=true",
                               f"data.url={url}", f"data.sha256={sha256}", "run.progress=false"])
    assert len(prepare_data(quiet).labels) == 10
    assert "downloading cifar-10-python.tar.gz" not in capfd.readouterr().err
    load_dataset(data_config("cifar10", tmp_path / "shown", download=True, url=url, sha256=sha256))
    assert "downloading cifar-10-python.tar.gz" in capfd.readouterr().err


def test_a_source_registered_as_loader_of_config_alone_still_loads(monkeypatch):
    from satlearn.data import SOURCES

    x = torch.zeros(2, 3)
    toy = DatasetSplits(x_train=x, y_train=torch.tensor([0, 1]), x_test=x, y_test=torch.tensor([1, 0]),
                        num_classes=2, class_names=["a", "b"], kind="tabular", name="toy")
    monkeypatch.setitem(SOURCES._entries, "toy", lambda config: toy)  # the contract before `progress`
    assert load_dataset(DataConfig(source="toy"), progress=False) is toy


@pytest.mark.parametrize("returned", [None, (torch.zeros(2, 3), torch.tensor([0, 1]))])
def test_a_source_that_returns_no_dataset_splits_is_named_with_what_it_returned(monkeypatch, returned):
    from satlearn.data import SOURCES

    monkeypatch.setitem(SOURCES._entries, "toy", lambda config: returned)  # a loader that forgot its return, say
    with pytest.raises(DataError, match=rf"^data\.source='toy': its loader returned {type(returned).__name__}; "
                                        r"expected a satlearn\.data\.DatasetSplits$"):
        load_dataset(DataConfig(source="toy"), progress=False)


def test_a_data_config_built_in_code_with_a_wrong_type_is_refused_in_load_configs_words(tmp_path):
    from satlearn.config import load_config
    from satlearn.errors import ConfigError

    path = tmp_path / "t.csv"
    path.write_text("id,i,d,label\n" + "".join(f"{k},{k},{k},{k % 2}\n" for k in range(10)))
    # a string where the list of columns belongs would leave out columns i and d, one per letter
    with pytest.raises(ConfigError) as from_code:
        load_dataset(data_config("csv", path, ignore_columns="id"))
    with pytest.raises(ConfigError) as from_set:
        load_config(None, ["data.source=csv", f"data.root={path}", "data.ignore_columns=id"])
    assert str(from_code.value) == "load_dataset's config: data.ignore_columns: expected list of str, got 'id'"
    assert str(from_set.value).endswith(": data.ignore_columns: expected list of str, got 'id'")
    assert load_dataset(data_config("csv", path, ignore_columns=["id"])).x_train.shape[1] == 2  # columns i and d


def test_loaded_splits_keep_a_copy_of_the_settings_they_were_loaded_with(monkeypatch):
    from satlearn.data import SOURCES

    x = torch.zeros(2, 3)
    monkeypatch.setitem(SOURCES._entries, "toy", lambda config: DatasetSplits(
        x_train=x, y_train=torch.tensor([0, 1]), x_test=x, y_test=torch.tensor([1, 0]), num_classes=2,
        class_names=["a", "b"], kind="tabular", name="toy"))
    config = DataConfig(source="toy", root="first")
    loaded = load_dataset(config, progress=False)
    assert loaded.loaded_from == config
    config.root = "changed after loading"
    assert loaded.loaded_from.root == "first"
    # a field of the splits: a copy made through their __dict__ keeps it
    assert DatasetSplits(**{**loaded.__dict__, "name": "copied"}).loaded_from.root == "first"


def test_only_splits_marked_with_a_runs_own_data_settings_are_taken_for_its_sources(monkeypatch):
    from dataclasses import asdict, replace

    from satlearn.config import Config
    from satlearn.data import SOURCES
    from satlearn.engine.trainer import loaded_with

    x = torch.zeros(2, 3)
    monkeypatch.setitem(SOURCES._entries, "toy", lambda config: DatasetSplits(
        x_train=x, y_train=torch.tensor([0, 1]), x_test=x, y_test=torch.tensor([1, 0]), num_classes=2,
        class_names=["a", "b"], kind="tabular", name="toy"))
    config = Config(data=DataConfig(source="toy", root="first"))
    loaded = load_dataset(config.data, progress=False)
    assert loaded_with(loaded, config)
    # the same settings written out by hand are no mark of load_dataset's: such splits are asked for again
    assert not loaded_with(replace(loaded, loaded_from=asdict(loaded.loaded_from)), config)


def test_download_into_batches_dir_path_and_md5(tmp_path, http_dir):
    served, base = http_dir
    archive = cifar10_archive(tmp_path)
    (served / "cifar-10-python.tar.gz").write_bytes(archive)
    dest = tmp_path / "md5"
    placed = download_and_extract(f"{base}/cifar-10-python.tar.gz", dest, md5=hashlib.md5(archive).hexdigest(),
                                  progress=False)
    assert placed == [dest / "cifar-10-batches-py"] and leftovers(dest) == ["cifar-10-batches-py"]
    # root naming the (not yet existing) batches directory downloads into its parent
    other = tmp_path / "other" / "cifar-10-batches-py"
    cfg = data_config("cifar10", other, download=True, url=f"{base}/cifar-10-python.tar.gz",
                      sha256=hashlib.sha256(archive).hexdigest())
    assert len(load_dataset(cfg).y_train) == 10 and other.is_dir()


@pytest.mark.parametrize("which", ["sha256", "md5"])
def test_download_checksum_mismatch_leaves_nothing(tmp_path, http_dir, which):
    served, base = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(cifar10_archive(tmp_path))
    dest = tmp_path / "data"
    dest.mkdir()
    url = f"{base}/cifar-10-python.tar.gz"
    with pytest.raises(DataError, match=rf"{url}.*{which} checksum mismatch"):
        download_and_extract(url, dest, **{which: "0" * (64 if which == "sha256" else 32)}, progress=False)
    assert leftovers(dest) == []
    # through the config: the default (official) checksum does not match the fake archive
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset(data_config("cifar10", dest, download=True, url=url))
    assert leftovers(dest) == []


def test_download_404_leaves_nothing(tmp_path, http_dir):
    _, base = http_dir
    dest = tmp_path / "fresh" / "data"
    url = f"{base}/missing.tar.gz"
    with pytest.raises(DataError, match=rf"{url}.*HTTP 404"):
        load_dataset(data_config("cifar10", dest, download=True, url=url))
    assert not dest.exists()  # the directory created for the download is removed again


@pytest.mark.parametrize("url,reason", [
    ("notaurl", r"not a valid URL \(unknown url type: 'notaurl'\)"),
    ("http://[::1/x.tar.gz", r"not a valid URL \(Invalid IPv6 URL\)"),
    ("http://127.0.0.1:port/x.tar.gz", r"not a valid URL \(nonnumeric port: 'port'\)"),
    ("http://exa mple.com/x.tar.gz", r"not a valid URL \(URL can't contain control characters"),
    ("http://", r"no host given"),
    ("file:///nonexistent/satlearn/x.tar.gz", r"\[Errno 2\] No such file or directory"),
])
def test_download_from_a_bad_data_url_is_one_line_naming_it(tmp_path, url, reason):
    dest = tmp_path / "fresh"
    with pytest.raises(DataError, match=rf"^cifar10: data\.url: cannot download {re.escape(url)}: {reason}") as caught:
        load_dataset(data_config("cifar10", dest, download=True, url=url))
    assert "\n" not in str(caught.value) and not dest.exists()


def test_download_with_a_broken_http_reply_is_one_line(tmp_path, monkeypatch):
    import http.client

    from satlearn.data import cifar

    def broken_reply(request, timeout):
        raise http.client.IncompleteRead(b"", 100)

    monkeypatch.setattr(cifar.urllib.request, "urlopen", broken_reply)
    with pytest.raises(DataError, match=r"^cannot download http://127\.0\.0\.1:9/x\.tar\.gz: bad HTTP reply "
                                        r"\(IncompleteRead: "):
        download_and_extract("http://127.0.0.1:9/x.tar.gz", tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists()


def test_download_corrupt_archive_leaves_nothing(tmp_path, http_dir):
    served, base = http_dir
    junk = b"\x1f\x8b this is not a tarball" * 10
    (served / "junk.tar.gz").write_bytes(junk)
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match="not a valid tar archive"):
        download_and_extract(f"{base}/junk.tar.gz", dest, sha256=hashlib.sha256(junk).hexdigest(), progress=False)
    assert leftovers(dest) == []


def test_download_interrupted_by_ctrl_c_leaves_nothing(tmp_path, monkeypatch):
    from satlearn.data import cifar

    def interrupted_fetch(url, target, progress):
        target.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cifar, "_fetch", interrupted_fetch)
    dest = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        download_and_extract("http://127.0.0.1:9/x.tar.gz", dest, progress=False)
    assert not dest.exists()


def test_download_rejects_path_traversal(tmp_path, http_dir):
    served, base = http_dir
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("cifar-10-batches-py/ok", "../evil"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    (served / "evil.tar.gz").write_bytes(buffer.getvalue())
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match=r"'\.\./evil' points outside"):
        download_and_extract(f"{base}/evil.tar.gz", dest, progress=False)
    assert leftovers(dest) == [] and not (tmp_path / "evil").exists()


def test_a_download_into_a_root_naming_the_batches_directory_fills_that_directory(tmp_path, http_dir):
    served, base = http_dir
    archive = cifar10_archive(tmp_path)
    (served / "cifar-10-python.tar.gz").write_bytes(archive)
    root = tmp_path / "data" / "cifar-10-batches-py"
    load_dataset(data_config("cifar10", root, download=True, url=f"{base}/cifar-10-python.tar.gz",
                             sha256=hashlib.sha256(archive).hexdigest()))
    assert sorted(p.name for p in root.iterdir()) == ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
                                                      "data_batch_4", "data_batch_5", "test_batch"]


def test_download_of_an_archive_without_the_batches_directory_says_so(tmp_path, http_dir):
    served, base = http_dir
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/meta")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (served / "other.tar.gz").write_bytes(buffer.getvalue())
    dest = tmp_path / "data"
    url = f"{base}/other.tar.gz"
    with pytest.raises(DataError, match=rf"^cifar10: the archive from {re.escape(url)} did not contain "
                                        rf"cifar-10-batches-py/ \(looked in {re.escape(str(dest))}\)$"):
        load_dataset(data_config("cifar10", dest, download=True, url=url,
                                 sha256=hashlib.sha256(buffer.getvalue()).hexdigest()))


def test_download_rejects_links_in_the_archive(tmp_path, http_dir):
    served, base = http_dir
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        link.type, link.linkname = tarfile.SYMTYPE, "data_batch_1"  # inside the archive, yet still a link
        tar.addfile(link)
    (served / "links.tar.gz").write_bytes(buffer.getvalue())
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match=r"member 'cifar-10-batches-py/batches\.meta' is not a regular file or "
                                        r"directory$"):
        download_and_extract(f"{base}/links.tar.gz", dest, progress=False)
    assert leftovers(dest) == []


def test_download_cut_short_of_its_content_length_is_refused(tmp_path, monkeypatch):
    from satlearn.data import cifar

    class ShortReply(io.BytesIO):
        headers = {"Content-Length": "1000"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(cifar.urllib.request, "urlopen", lambda request, timeout: ShortReply(b"x" * 600))
    url = "http://127.0.0.1:9/x.tar.gz"
    with pytest.raises(DataError, match=rf"^cannot download {re.escape(url)}: connection closed after 600 of 1000 "
                                        r"bytes$"):
        download_and_extract(url, tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists()


def test_download_never_replaces_what_is_already_there(tmp_path, http_dir):
    served, base = http_dir
    (served / "cifar-10-python.tar.gz").write_bytes(cifar10_archive(tmp_path))
    dest = tmp_path / "data"
    (dest / "cifar-10-batches-py").mkdir(parents=True)
    (dest / "cifar-10-batches-py" / "mine.txt").write_text("kept")
    url = f"{base}/cifar-10-python.tar.gz"
    with pytest.raises(DataError, match=rf"^cannot download {re.escape(url)}: "
                                        rf"{re.escape(str(dest / 'cifar-10-batches-py'))} already exists$"):
        download_and_extract(url, dest, progress=False)
    assert leftovers(dest / "cifar-10-batches-py") == ["mine.txt"] and leftovers(dest) == ["cifar-10-batches-py"]


@pytest.mark.parametrize("root_names_the_batches", [False, True])
def test_a_download_that_a_run_beside_it_finished_first_takes_that_runs_data(tmp_path, http_dir, monkeypatch,
                                                                            root_names_the_batches):
    # two runs started at once on a fresh machine both download; the second to finish found the directory taken
    from satlearn.data import cifar

    served, base = http_dir
    archive = cifar10_archive(tmp_path)
    (served / "cifar-10-python.tar.gz").write_bytes(archive)
    url = f"{base}/cifar-10-python.tar.gz"
    dest = tmp_path / "data"
    real_fetch, fetches = cifar._fetch, []

    def fetch_while_the_other_run_finishes(url, target, progress):
        fetches.append(url)
        if len(fetches) == 1:  # the other run's whole download, extracted and placed meanwhile
            download_and_extract(url, dest, progress=False)
        return real_fetch(url, target, progress)

    monkeypatch.setattr(cifar, "_fetch", fetch_while_the_other_run_finishes)
    root = dest / "cifar-10-batches-py" if root_names_the_batches else dest
    cfg = data_config("cifar10", root, download=True, url=url, sha256=hashlib.sha256(archive).hexdigest())
    data = load_dataset(cfg)
    assert len(fetches) == 2 and data.x_train.shape == (10, 3, 32, 32) and data.class_names == CIFAR10_NAMES
    assert leftovers(dest) == ["cifar-10-batches-py"]  # this download's temporary files are gone


# ---------------------------------------------------------------------------------------------------------------
# Image folders


def test_imagefolder_loads_sorted_rgb_with_train_statistics(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    # a grayscale image is converted to RGB; unrelated files are ignored
    Image.new("L", (6, 4), 77).save(root / "train" / "dog" / "z_gray.bmp")
    (root / "train" / "dog" / "notes.txt").write_text("ignored")
    data = load_dataset(data_config("imagefolder", root))
    assert data.class_names == ["cat", "dog"] and data.num_classes == 2 and data.kind == "image"
    assert data.x_train.shape == (7, 3, 4, 6) and data.x_train.dtype == torch.uint8
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1, 1] and data.y_test.tolist() == [0, 0, 1, 1]
    assert data.x_train[0, :, 0, 0].tolist() == [0, 0, 50]  # cat/img0.png (lossless)
    assert data.x_train[6, :, 0, 0].tolist() == [77, 77, 77]  # dog/z_gray.bmp, last in sorted order
    x = data.x_train.double() / 255
    assert np.allclose(data.mean, x.mean(dim=(0, 2, 3)).tolist())
    assert np.allclose(data.std, x.std(dim=(0, 2, 3), unbiased=False).tolist())


def test_an_imagefolder_root_that_is_not_there_is_told_apart_from_a_file_given_for_it(tmp_path):
    expected = "expected a folder of images per class in it, or train/<class>/ and optionally test/<class>/"
    missing = tmp_path / "imgs"
    with pytest.raises(MissingDataError, match=rf"^imagefolder: there is no folder {re.escape(str(missing))} "
                                               rf"\({re.escape(expected)}\)$"):
        load_dataset(data_config("imagefolder", missing))
    a_file = tmp_path / "imgs.zip"
    a_file.write_bytes(b"")
    with pytest.raises(MissingDataError, match=rf"^imagefolder: {re.escape(str(a_file))} is not a directory "
                                               rf"\({re.escape(expected)}\)$"):
        load_dataset(data_config("imagefolder", a_file))


def image_folder_without_test(root: Path, layout: str, counts: dict[str, int]) -> tuple[Path, list[str]]:
    """Class folders under ``root/train`` (layout ``train``) or directly under ``root`` (``flat``); returns the
    folder holding the classes and every image's path relative to ``root``, in the order the source reads them."""
    class_dir = root / "train" if layout == "train" else root
    files = write_class_folders(class_dir, counts)
    prefix = "train/" if layout == "train" else ""
    return class_dir, [prefix + name for name in files]


@pytest.mark.parametrize("layout", ["train", "flat"])
def test_imagefolder_images_beside_the_class_folders_are_said_to_be_left_unread(tmp_path, layout):
    from PIL import Image

    root = tmp_path / "imgs"
    class_dir, files = image_folder_without_test(root, layout, {"cat": 4, "dog": 4})
    for name in ("stray.png", "other.jpg"):
        Image.new("RGB", (6, 4), (1, 2, 3)).save(class_dir / name)
    data = load_dataset(data_config("imagefolder", root, test_fraction=0.25))
    assert len(data.y_train) + len(data.y_test) == len(files) == 8  # the two strays are in neither split
    assert f"{class_dir}: 2 image(s) directly in it, outside any class folder, not read (an image's class is the " \
           "folder it is in)" in data.notes


def pixel_origin(x: torch.Tensor, y: torch.Tensor) -> list[tuple[int, int]]:
    """(label, image number) of each image written by write_class_folders, read back from its first pixel."""
    by_colour = {image_colour(label, i): (label, i) for label in range(3) for i in range(26)}
    return [by_colour[tuple(image[:, 0, 0].tolist())] for image in x]


@pytest.mark.parametrize("layout", ["train", "flat"])
def test_imagefolder_without_a_test_folder_draws_a_test_split_of_test_fraction(tmp_path, layout):
    counts = {"cat": 5, "dog": 7, "emu": 8}
    root = tmp_path / "imgs"
    class_dir, files = image_folder_without_test(root, layout, counts)
    data = load_dataset(data_config("imagefolder", root, test_fraction=0.25, data_seed=3))
    total = sum(counts.values())
    assert len(data.y_test) == round(total * 0.25) and len(data.y_train) == total - len(data.y_test)
    assert data.class_names == ["cat", "dog", "emu"] and data.classes_found_in == str(class_dir)
    # the training images are named by their place among all images and by their path, both in the order read
    assert data.source_size == total and data.train_files == [files[i] for i in data.source_rows]
    assert data.origin_arrays()["train_files"].tolist() == data.train_files
    # disjoint, and together every image once, each with its own class's label
    train, test = pixel_origin(data.x_train, data.y_train), pixel_origin(data.x_test, data.y_test)
    assert sorted(train + test) == [(c, i) for c, name in enumerate(sorted(counts)) for i in range(counts[name])]
    assert [label for label, _ in train] == data.y_train.tolist()
    assert [label for label, _ in test] == data.y_test.tolist()
    assert [f"{sorted(counts)[c]}/img{i:02d}.png" for c, i in train] == [name.removeprefix("train/")
                                                                          for name in data.train_files]
    x = data.x_train.double() / 255  # normalised with the training images alone
    assert np.allclose(data.mean, x.mean(dim=(0, 2, 3)).tolist())


@pytest.mark.parametrize("layout", ["train", "flat"])
def test_imagefolder_a_drawn_test_split_is_said_in_the_runs_notes(tmp_path, layout):
    root = tmp_path / "imgs"
    image_folder_without_test(root, layout, {"cat": 4, "dog": 4})
    data = load_dataset(data_config("imagefolder", root, test_fraction=0.25, data_seed=3))
    drawn = "the test split is 2 of the 8 images, drawn with data.test_fraction=0.25 and data.data_seed=3"
    if layout == "flat":
        assert data.notes == (f"{root} has no train/ or test/ folder: its 2 folders are the classes, and {drawn}",)
    else:
        assert data.notes == (f"{root} has no test/ folder: {drawn}",)


def test_imagefolder_a_drawn_split_is_fixed_by_data_seed_and_changes_with_it(tmp_path):
    root = tmp_path / "imgs"
    image_folder_without_test(root, "train", {"cat": 6, "dog": 6})

    def drawn(seed: int) -> DatasetSplits:
        return load_dataset(data_config("imagefolder", root, test_fraction=0.25, data_seed=seed))

    first, again, other = drawn(5), drawn(5), drawn(6)
    for split in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(first, split), getattr(again, split))
    assert first.train_files == again.train_files and first.notes == again.notes
    assert len(other.y_test) == len(first.y_test)
    assert sorted(pixel_origin(other.x_test, other.y_test)) != sorted(pixel_origin(first.x_test, first.y_test))


def test_imagefolder_a_drawn_split_is_the_same_wherever_the_folder_lies(tmp_path):
    # data.root may change on resume and eval, where the run's digest then has to match
    image_folder_without_test(tmp_path / "here", "flat", {"cat": 6, "dog": 6})
    before = load_dataset(data_config("imagefolder", tmp_path / "here", data_seed=1))
    shutil.move(tmp_path / "here", tmp_path / "moved")
    after = load_dataset(data_config("imagefolder", tmp_path / "moved", data_seed=1))
    assert torch.equal(before.x_test, after.x_test) and before.train_files == after.train_files


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_imagefolder_without_a_test_folder_refuses_a_test_fraction_outside_zero_to_one(tmp_path, fraction):
    root = tmp_path / "imgs"
    image_folder_without_test(root, "train", {"cat": 3, "dog": 3})
    from satlearn.data.imagefolder import load_imagefolder
    from satlearn.errors import ConfigError

    # load_dataset refuses it by the config's own check; the source, called by itself, by its own
    with pytest.raises(ConfigError, match=rf"data\.test_fraction={re.escape(repr(fraction))}; "):
        load_dataset(data_config("imagefolder", root, test_fraction=fraction))
    with pytest.raises(DataError, match=rf"^imagefolder: {re.escape(str(root / 'train'))}: data\.test_fraction="
                                        rf"{re.escape(repr(fraction))}; expected a fraction in \(0, 1\)$"):
        load_imagefolder(data_config("imagefolder", root, test_fraction=fraction))


def test_imagefolder_a_test_folder_is_used_whatever_test_fraction_and_data_seed_say(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    given = load_dataset(data_config("imagefolder", root))
    assert given.y_test.tolist() == [0, 0, 1, 1] and given.source_rows is None and given.notes == ()
    for changes in ({"test_fraction": 0.5, "data_seed": 7}, {"test_fraction": 0.9, "data_seed": 0}):
        other = load_dataset(data_config("imagefolder", root, **changes))
        assert torch.equal(other.x_test, given.x_test) and torch.equal(other.x_train, given.x_train)
        assert other.train_files == given.train_files == [f"train/{c}/img{i}.{'jpg' if i % 2 else 'png'}"
                                                          for c in ("cat", "dog") for i in range(3)]


def test_imagefolder_a_class_drawn_wholly_into_the_test_split_says_another_seed_may_keep_it(tmp_path):
    root = tmp_path / "imgs"
    image_folder_without_test(root, "train", {"ant": 1, "bee": 6, "cow": 6})
    seed = next(seed for seed in range(100)
                if 0 not in load_dataset(data_config("imagefolder", root, data_seed=seed)).y_train.tolist())
    data = load_dataset(data_config("imagefolder", root, data_seed=seed))
    with pytest.raises(DataError, match=r"class 0 \('ant'\) has no training example .* all in the test split "
                                        r"\(where that split is drawn, another data\.data_seed"):
        data.check_every_class_is_trained()


def test_imagefolder_a_train_folder_beside_other_splits_notes_those_it_does_not_read(tmp_path):
    root = tmp_path / "imgs"
    image_folder_without_test(root, "train", {"cat": 3, "dog": 3})
    write_class_folders(root / "val", {"cat": 1, "dog": 1})
    data = load_dataset(data_config("imagefolder", root, test_fraction=0.5, data_seed=0))
    assert len(data.y_train) + len(data.y_test) == 6
    assert data.notes[-1].startswith(f"{root} has no test/ folder: ")
    assert data.notes[-1].endswith("; val/ beside train/ not read")


def test_imagefolder_of_split_folders_without_train_says_how_it_read_them(tmp_path):
    # a test split alone gives no training images to draw from
    write_imagefolder(tmp_path / "half")
    shutil.rmtree(tmp_path / "half" / "train")
    with pytest.raises(DataError, match=r"half/train is missing \(expected one subdirectory per class in it\)$"):
        load_dataset(data_config("imagefolder", tmp_path / "half"))
    # folders of other names are read as classes: where they hold class folders, the error says why
    root = tmp_path / "named"
    for split in ("training", "validation"):
        write_class_folders(root / split, {"cat": 1, "dog": 1})
    with pytest.raises(DataError) as info:
        load_dataset(data_config("imagefolder", root))
    assert str(info.value) == (
        f"imagefolder: {root / 'training'} holds no images (.png, .jpg, .jpeg, .bmp, .webp); remove the class "
        f"directory or add its images; it holds the folders cat, dog, not images: {root} has no train/ folder, so "
        "each of its folders is read as a class")
    # and within train/, a class folder of folders
    write_class_folders(tmp_path / "deep" / "train" / "cat" / "2024", {"a": 1})
    write_class_folders(tmp_path / "deep" / "train", {"dog": 1})
    with pytest.raises(DataError, match=r"train/cat holds no images .* it holds the folders 2024, not images: the "
                                        r"images of a class go directly in its folder$"):
        load_dataset(data_config("imagefolder", tmp_path / "deep"))


@pytest.mark.parametrize("named", [("train",), ("test",), ("test", "train")])
def test_imagefolder_classes_named_train_or_test_among_the_class_folders_are_classes(tmp_path, named):
    # a folder of images, not of class folders, is no split folder, whatever its name
    root = tmp_path / "imgs"
    counts = {"cat": 4, "dog": 4} | {name: 4 for name in named}
    files = write_class_folders(root, counts)
    data = load_dataset(data_config("imagefolder", root, test_fraction=0.25, data_seed=3))
    assert data.class_names == sorted(counts) and data.classes_found_in == str(root)
    assert sorted(data.train_files) == sorted(files[i] for i in data.source_rows)
    # every image once, with its own folder's label
    by_colour = {image_colour(c, i): (c, i) for c in range(len(counts)) for i in range(4)}
    origins = [by_colour[tuple(image[:, 0, 0].tolist())] for image in torch.cat([data.x_train, data.x_test])]
    assert sorted(origins) == sorted(by_colour.values())
    assert [label for label, _ in origins] == torch.cat([data.y_train, data.y_test]).tolist()
    holds = "holds" if len(named) == 1 else "hold"
    assert data.notes == (f"{' and '.join(str(root / name) for name in named)} {holds} images, not class folders: "
                          f"the {len(counts)} folders in {root} are the classes, and the test split is "
                          f"{len(data.y_test)} of the {len(files)} images, drawn with data.test_fraction=0.25 and "
                          "data.data_seed=3",)
    write_class_folders(root / "emu", {"2024": 1})  # a class of folders: the error says why root's are classes
    with pytest.raises(DataError, match=rf"emu holds no images .* it holds the folders 2024, not images: "
                                        rf"{re.escape(str(root / named[0]))} .*images, not class folders, so each "
                                        rf"folder in {re.escape(str(root))} is read as a class$"):
        load_dataset(data_config("imagefolder", root))


@pytest.mark.parametrize("named", [("train",), ("test",), ("test", "train"), ("Train",), ("Test", "Train"),
                                   ("test", "TRAIN")])
def test_imagefolder_train_and_test_folders_of_images_with_no_class_beside_them_are_refused(tmp_path, named):
    # split folders whose images were never sorted into classes: read as classes, a model would learn which split
    # an image is in (in whatever case their names are written)
    root = tmp_path / "imgs"
    write_class_folders(root, {name: 4 for name in named})
    (root / ".cache").mkdir()  # (hidden: no class)
    holds, them = ("holds", "it") if len(named) == 1 else ("hold", "them")
    with pytest.raises(DataError) as info:
        load_dataset(data_config("imagefolder", root))
    assert str(info.value) == (
        f"imagefolder: {' and '.join(str(root / name) for name in named)} {holds} images directly, not class "
        f"folders, and {root} holds no class folder beside {them}; expected one folder of images per class in "
        f"{them} (train/<class>/, test/<class>/), or the class folders directly in {root}")


@pytest.mark.parametrize("train,validation", [("train", "val"), ("train", "Validation"), ("Train", "Val")])
def test_imagefolder_a_train_folder_of_images_beside_only_a_validation_split_is_refused(tmp_path, train,
                                                                                          validation):
    # a validation split is no class: train/ and val/ of loose images were not sorted into classes either
    root = tmp_path / "imgs"
    write_class_folders(root, {train: 4, validation: 2})
    with pytest.raises(DataError) as info:
        load_dataset(data_config("imagefolder", root))
    assert str(info.value) == (
        f"imagefolder: {root / train} holds images directly, not class folders, and {root} holds no class folder "
        f"beside it ({root / validation}, named as a split, is none); expected one folder of images per class in it "
        f"(train/<class>/, test/<class>/), or the class folders directly in {root}")


def test_imagefolder_a_test_folder_of_images_beside_a_train_folder_of_classes_says_where_they_go(tmp_path):
    root = tmp_path / "imgs"
    write_class_folders(root / "train", {"cat": 3, "dog": 3})
    write_image(root / "test" / "a.png", (1, 2, 3))
    with pytest.raises(DataError) as info:
        load_dataset(data_config("imagefolder", root))
    assert str(info.value) == (
        f"imagefolder: {root / 'test'} holds images directly, not class folders as {root / 'train'} does; add the "
        f"test images, one folder per class as in {root / 'train'}, or remove {root / 'test'} to hold out "
        "data.test_fraction of the training images as the test split")


@pytest.mark.parametrize("test_holds", ["folders", "nothing"])
def test_imagefolder_a_train_folder_of_images_beside_a_test_split_folder_is_refused(tmp_path, test_holds):
    root = tmp_path / "imgs"
    write_class_folders(root, {"cat": 2, "train": 2})
    (root / "test").mkdir()
    if test_holds == "folders":
        write_class_folders(root / "test", {"cat": 1})
    with pytest.raises(DataError) as info:
        load_dataset(data_config("imagefolder", root))
    assert str(info.value) == (
        f"imagefolder: {root / 'train'} holds images directly but {root / 'test'} holds {test_holds}; expected "
        "class folders in both (train/<class>/, test/<class>/), or, where train and test are classes, images "
        "directly in both")


def test_imagefolder_images_beside_the_class_folders_of_test_are_said_to_be_left_unread(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "test" / "stray.png", (1, 2, 3))
    data = load_dataset(data_config("imagefolder", root))
    assert data.y_test.tolist() == [0, 0, 1, 1]
    assert data.notes == (f"{root / 'test'}: 1 image(s) directly in it, outside any class folder, not read (an "
                          "image's class is the folder it is in)",)


def test_imagefolder_a_class_folder_of_many_folders_names_the_first_five_of_them(tmp_path):
    # data.root set a level too high: its one folder, read as a class, holds the classes, which may be hundreds
    for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c7"):
        (tmp_path / "images" / name).mkdir(parents=True)
    with pytest.raises(DataError, match=r"; it holds the folders c1, c2, c3, c4, c5, \.\.\., not images: "):
        load_dataset(data_config("imagefolder", tmp_path))


def test_imagefolder_of_no_folders_at_all_says_what_it_expected(tmp_path):
    write_image(tmp_path / "imgs" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match=rf"^imagefolder: {re.escape(str(tmp_path / 'imgs'))} holds no folders "
                                        r"\(expected one folder of images per class, or train/<class>/ and "
                                        r"optionally test/<class>/\)$"):
        load_dataset(data_config("imagefolder", tmp_path / "imgs"))


def test_imagefolder_corrupt_image_names_the_file(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    bad = root / "test" / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match=r"broken\.png.*cannot read image"):
        load_dataset(data_config("imagefolder", root))


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_imagefolder_refuses_16_bit_images_instead_of_clipping_them(tmp_path, mode):
    root = write_imagefolder(tmp_path / "imgs")
    deep = root / "train" / "cat" / "deep.png"
    Image.fromarray((np.arange(24).reshape(4, 6) * 1000).astype(np.uint16)).convert(mode).save(deep)
    assert Image.open(deep).mode.startswith("I;16")
    with pytest.raises(DataError, match=rf"deep\.png: image mode 'I;16.*' has 16 bits per channel; satlearn reads 8-bit"):
        load_dataset(data_config("imagefolder", root))


@pytest.mark.parametrize("mode,ext", [("1", ".png"), ("L", ".png"), ("LA", ".png"), ("P", ".png"), ("RGBA", ".png"),
                                      ("CMYK", ".jpg"), ("P", ".bmp")])
def test_imagefolder_reads_every_8_bit_mode(tmp_path, mode, ext):
    root = write_imagefolder(tmp_path / "imgs")
    Image.new("RGB", (6, 4), (255, 255, 255)).convert(mode).save(root / "train" / "cat" / f"z{ext}")
    data = load_dataset(data_config("imagefolder", root))
    assert data.x_train.shape == (7, 3, 4, 6)


def test_imagefolder_reads_a_palette_with_alpha_entries_without_a_warning(tmp_path, recwarn):
    # PNG optimisers write palettes whose entries carry alpha; the colours are read and the alpha dropped
    root = write_imagefolder(tmp_path / "imgs")
    palette = Image.new("P", (6, 4))
    palette.putpalette([10, 20, 30, 200, 100, 0])
    palette.putdata([0, 1] * 12)
    palette.save(root / "train" / "cat" / "z.png", transparency=bytes([0, 128]))
    data = load_dataset(data_config("imagefolder", root))
    z = data.train_files.index("train/cat/z.png")
    assert data.x_train[z, :, 0, :2].T.tolist() == [[10, 20, 30], [200, 100, 0]]
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize("mode,bits", [("I", 32), ("F", 32), ("I;32B", 32), ("I;16", 16), ("I;16B", 16),
                                       ("I;16L", 16), ("L", 8), ("RGB", 8), ("1", 8), ("", None)])
def test_imagefolder_bits_per_channel_of_pillow_modes(mode, bits):
    # older Pillow opens 16-bit PNGs as "I", which convert("RGB") would clip at 255 like I;16
    from satlearn.data.imagefolder import _bits_per_channel

    assert _bits_per_channel(mode) == bits


def test_imagefolder_a_class_folder_named_in_latin_1_keeps_its_bytes_in_a_utf_8_name(tmp_path):
    import os

    root = write_imagefolder(tmp_path / "imgs")
    for split in ("train", "test"):
        try:
            (root / split / "dog").rename(root / split / os.fsdecode(b"caf\xe9"))  # not UTF-8: as Python reads it
        except (OSError, UnicodeError):  # macOS's APFS, say, takes only UTF-8 names, so no such folder can exist
            pytest.skip("this file system refuses names that are not UTF-8")
    data = load_dataset(data_config("imagefolder", root))
    assert data.class_names == ["caf\\xe9", "cat"]
    assert data.train_files[0] == "train/caf\\xe9/img0.png"
    "".join(data.class_names + data.train_files).encode("utf-8")  # what a run writes its files in


def test_imagefolder_size_mismatch_names_file_and_expected_size(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "test" / "cat" / "big.png", (1, 2, 3), size=(8, 8))
    with pytest.raises(DataError, match=r"big\.png: image is 8x8, expected 6x4"):
        load_dataset(data_config("imagefolder", root))


def test_imagefolder_names_each_training_file_and_the_files_it_skipped(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "train" / "dog" / "scan.tif", (1, 2, 3))
    write_image(root / "train" / "dog" / "scan2.tif", (1, 2, 3))
    (root / "train" / "cat" / "Thumbs.db").write_bytes(b"x")
    (root / "train" / "cat" / ".hidden").write_bytes(b"x")
    data = load_dataset(data_config("imagefolder", root))
    assert data.train_files == ["train/cat/img0.png", "train/cat/img1.jpg", "train/cat/img2.png",
                                "train/dog/img0.png", "train/dog/img1.jpg", "train/dog/img2.png"]
    assert data.notes == (f"{root / 'train'}: skipped 3 file(s) that are not .png/.jpg/.jpeg/.bmp/.webp images "
                          "(1 .db, 2 .tif)",)
    assert data.origin_arrays()["train_files"].tolist() == data.train_files  # what labels.npz keeps of them
    assert load_dataset(data_config("imagefolder", write_imagefolder(tmp_path / "plain"))).notes == ()


def test_imagefolder_folders_inside_class_folders_are_said_to_be_left_unread(tmp_path):
    # a class folder sorted further by hand (dog/puppies/), as readers that walk the whole tree take it
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "train" / "dog" / "puppies" / "p0.png", (1, 2, 3))
    write_image(root / "test" / "cat" / "kittens" / "k0.png", (1, 2, 3))
    (root / "train" / "dog" / ".cache").mkdir()
    data = load_dataset(data_config("imagefolder", root))
    assert not any("puppies" in name for name in data.train_files) and len(data.y_test) == 4
    assert data.notes == (f"{root / 'train'}: 1 folder(s) inside class folders not read (dog/puppies): a class's "
                          "images are read only directly in its folder",
                          f"{root / 'test'}: 1 folder(s) inside class folders not read (cat/kittens): a class's "
                          "images are read only directly in its folder")


def test_imagefolder_an_image_that_is_a_link_to_nothing_is_named_rather_than_left_out(tmp_path):
    # git-annex and DVC keep images as links into their store, broken until the file is fetched
    root = write_imagefolder(tmp_path / "imgs")
    (root / "train" / "dog" / "img9.png").symlink_to(tmp_path / "store" / "img9.png")
    with pytest.raises(DataError, match=rf"^{re.escape(str(root / 'train' / 'dog' / 'img9.png'))}: a link to "
                                        rf"{re.escape(str(tmp_path / 'store' / 'img9.png'))}, which is not there; "
                                        r"expected an image file \(fetch or restore its target, or remove the link\)$"):
        load_dataset(data_config("imagefolder", root))


def test_imagefolder_class_sets_must_match(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "test" / "emu" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match="class 'emu' is in .*test but not in"):
        load_dataset(data_config("imagefolder", root))
    write_image(root / "train" / "emu" / "a.png", (0, 0, 0))
    write_image(root / "train" / "yak" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"class 'yak' is in .*train but missing from .*test \(where the test set has "
                                        r"no such images, an empty .*test/yak is enough\)"):
        load_dataset(data_config("imagefolder", root))
    (root / "test" / "yak").mkdir()
    assert load_dataset(data_config("imagefolder", root)).class_names == ["cat", "dog", "emu", "yak"]


def test_imagefolder_a_test_folder_without_test_images_says_that_removing_it_draws_a_test_split(tmp_path):
    root = tmp_path / "imgs"
    write_class_folders(root / "train", {"cat": 3, "dog": 3})
    (root / "test").mkdir()  # left empty: a split is drawn only where there is no test/ at all
    remedy = (f"add the test images, one folder per class as in {root / 'train'}, or remove {root / 'test'} to hold "
              "out data.test_fraction of the training images as the test split")
    with pytest.raises(DataError) as empty:
        load_dataset(data_config("imagefolder", root))
    assert str(empty.value) == f"imagefolder: {root / 'test'} holds no class folders; {remedy}"
    for name in ("cat", "dog"):  # the class folders alone, which a test split with a class left out would have
        (root / "test" / name).mkdir()
    with pytest.raises(DataError) as imageless:
        load_dataset(data_config("imagefolder", root))
    assert str(imageless.value) == (f"imagefolder: {root / 'test'} holds no images (.png, .jpg, .jpeg, .bmp, .webp) "
                                    f"in any of its class directories; {remedy}")
    shutil.rmtree(root / "test")
    assert len(load_dataset(data_config("imagefolder", root)).y_test) == 1


def test_imagefolder_empty_train_split(tmp_path):
    root = tmp_path / "imgs"
    (root / "train" / "cat").mkdir(parents=True)
    write_image(root / "test" / "cat" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"train/cat holds no images"):
        load_dataset(data_config("imagefolder", root))


def test_imagefolder_a_training_class_without_images_names_its_directory(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    (root / "train" / "emu").mkdir()
    (root / "train" / "emu" / "only.gif").write_bytes(b"GIF89a")  # not an extension it reads
    (root / "test" / "emu").mkdir()
    with pytest.raises(DataError, match=r"train/emu holds no images \(.png"):
        load_dataset(data_config("imagefolder", root))


def test_imagefolder_missing_root_names_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "absent")):
        load_dataset(data_config("imagefolder", tmp_path / "absent"))


def test_imagefolder_reads_upper_case_extensions_and_skips_hidden_folders(tmp_path):
    # cameras write IMG_0001.JPG; notebooks leave .ipynb_checkpoints beside the class folders
    root = write_imagefolder(tmp_path / "imgs")
    write_image(root / "train" / "dog" / "IMG_0001.PNG", (9, 9, 9))
    (root / "train" / ".ipynb_checkpoints").mkdir()
    (root / "test" / ".ipynb_checkpoints").mkdir()
    data = load_dataset(data_config("imagefolder", root))
    assert data.class_names == ["cat", "dog"]
    assert data.train_files[3] == "train/dog/IMG_0001.PNG" and data.x_train[3, :, 0, 0].tolist() == [9, 9, 9]


def test_imagefolder_a_channel_that_never_varies_gets_a_std_of_one(tmp_path):
    # no blue in any image: dividing by its spread of 0 would make every input infinite
    root = tmp_path / "imgs"
    for split in ("train", "test"):
        for c, cls in enumerate(("cat", "dog")):
            write_image(root / split / cls / "a.png", (100 * c, 40 + c, 0))
    data = load_dataset(data_config("imagefolder", root))
    assert data.std[2] == 1.0 and data.mean[2] == 0.0 and data.std[0] > 0


def test_channel_stats_count_every_image_whatever_the_chunk_size():
    from satlearn.data.imagefolder import channel_stats

    images = np.zeros((5, 2, 1, 1), dtype=np.uint8)
    images[:, 0, 0, 0] = [0, 0, 0, 0, 255]  # channel 0: one white image among five, mean 0.2, std 0.4
    images[:, 1, 0, 0] = 51  # channel 1: 0.2 everywhere
    for chunk in (1, 2, 4, 5, 1024):
        mean, std = channel_stats(images, chunk=chunk)
        assert np.allclose(mean, (0.2, 0.2)) and np.allclose(std, (0.4, 1.0)), chunk


@pytest.mark.parametrize("value", [0, 51, 251, 255])
def test_channel_stats_give_a_channel_that_never_varies_a_std_of_one(value):
    # its computed spread can be a rounding residue (about 1e-8): dividing by it would turn a test image one
    # step brighter in that channel into inputs in the hundreds of thousands
    from satlearn.data.imagefolder import channel_stats

    images = np.zeros((5000, 2, 8, 8), dtype=np.uint8)
    images[:, 0] = value
    images[::2, 1] = 255  # channel 1: half the images white, std 0.5
    mean, std = channel_stats(images)
    assert np.isclose(mean[0], value / 255) and std[0] == 1.0 and np.isclose(std[1], 0.5)


# ---------------------------------------------------------------------------------------------------------------
# .npz


def test_npz_channels_last_images(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "imgs.npz"
    x_train = rng.integers(0, 256, (8, 5, 5, 3), dtype=np.uint8)
    np.savez(path, x_train=x_train, y_train=np.arange(8) % 4,
             x_test=rng.integers(0, 256, (4, 5, 5, 3), dtype=np.uint8), y_test=np.array([0, 1, 2, 3]))
    data = load_dataset(data_config("npz", path))
    assert data.kind == "image" and data.x_train.shape == (8, 3, 5, 5)
    assert torch.equal(data.x_train[2, 1], torch.from_numpy(x_train[2, :, :, 1]))
    assert data.num_classes == 4 and data.class_names == ["0", "1", "2", "3"]
    assert np.allclose(data.mean, (x_train / 255).mean(axis=(0, 1, 2)))


@pytest.mark.parametrize("source, name, expected", [
    ("csv", "t.csv", "expected a CSV file with a header row"),
    ("npz", "d.npz", "expected a .npz file with x_train, y_train, x_test, y_test"),
])
def test_a_data_file_that_is_not_there_is_told_apart_from_a_folder_given_for_it(source, name, expected, tmp_path):
    missing = tmp_path / name
    with pytest.raises(MissingDataError, match=rf"^{source}: there is no file {re.escape(str(missing))} "
                                               rf"\({re.escape(expected)}\)$"):
        load_dataset(data_config(source, missing))
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(MissingDataError, match=rf"^{source}: {re.escape(str(folder))} is not a file "
                                               rf"\({re.escape(expected)}\)$"):
        load_dataset(data_config(source, folder))


def test_an_npz_file_under_the_home_of_no_such_user_is_no_such_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the path, left as it is, is looked for
    with pytest.raises(DataError) as refused:
        load_dataset(data_config("npz", "~satlearn-no-such-user/d.npz"))
    assert str(refused.value).startswith("npz: there is no file ~satlearn-no-such-user/d.npz (")
    assert "\n" not in str(refused.value)


def write_source(source: str, parent: Path) -> str:
    """Data of ``source`` written into ``parent``; returns the ``data.root`` inside it that reads them."""
    rng = np.random.default_rng(0)
    if source == "npz":
        np.savez(parent / "d.npz", x_train=rng.normal(size=(12, 3)), y_train=np.arange(12) % 2,
                 x_test=rng.normal(size=(4, 3)), y_test=np.arange(4) % 2)
        return "d.npz"
    if source == "csv":
        rows = "".join(f"{a!r},{b!r},{i % 3}\n" for i, (a, b) in enumerate(rng.normal(size=(30, 2)).tolist()))
        (parent / "d.csv").write_text("a,b,label\n" + rows)
        return "d.csv"
    if source == "imagefolder":
        write_imagefolder(parent / "images")
        return "images"
    write_cifar10(parent / "cifar")
    return "cifar"


@pytest.mark.parametrize("source", ["npz", "csv", "imagefolder", "cifar10"])
def test_a_data_root_starting_with_a_tilde_is_in_the_home_directory(tmp_path, monkeypatch, source):
    # as a config file gives it: no shell expanded it
    home = tmp_path / "home"
    home.mkdir()
    root = write_source(source, home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # where a ~ left unexpanded is looked for, and holds nothing
    data = load_dataset(data_config(source, f"~/{root}"))
    expected = load_dataset(data_config(source, home / root))
    assert torch.equal(data.x_train, expected.x_train) and torch.equal(data.y_test, expected.y_test)


def test_npz_rgba_images_keep_their_four_channels(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "rgba.npz"
    x_train = rng.integers(0, 256, (8, 6, 5, 4), dtype=np.uint8)
    np.savez(path, x_train=x_train, y_train=np.arange(8) % 2,
             x_test=rng.integers(0, 256, (2, 6, 5, 4), dtype=np.uint8), y_test=np.array([0, 1]))
    data = load_dataset(data_config("npz", path))
    assert data.x_train.shape == (8, 4, 6, 5)  # not 8 images of 6 channels, 5 rows and 4 columns
    assert torch.equal(data.x_train[3, 3], torch.from_numpy(x_train[3, :, :, 3]))
    assert len(data.mean) == 4
    # RGB images 4 pixels high are RGB images, as before RGBA was read
    np.savez(path, x_train=rng.integers(0, 256, (8, 4, 5, 3), dtype=np.uint8), y_train=np.arange(8) % 2,
             x_test=rng.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8), y_test=np.array([0, 1]))
    assert load_dataset(data_config("npz", path)).x_train.shape == (8, 3, 4, 5)


def test_npz_features_without_test_split_are_split_and_standardised(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "feat.npz"
    x = rng.normal(5.0, 3.0, (40, 2, 3)).astype(np.float64)
    x[:, 0, 0] = 7.0  # a constant column stays finite
    np.savez(path, x_train=x, y_train=(np.arange(40) % 2).astype(np.int32))
    cfg = data_config("npz", path, test_fraction=0.25, data_seed=3)
    data = load_dataset(cfg)
    assert data.kind == "tabular" and data.x_train.shape == (30, 6) and data.x_test.shape == (10, 6)
    assert data.x_train.dtype == torch.float32 and data.mean is None
    assert torch.allclose(data.x_train.mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(data.x_train[:, 1:].std(0, unbiased=False), torch.ones(5), atol=1e-4)
    assert torch.isfinite(data.x_test).all()
    again = load_dataset(cfg)
    assert torch.equal(again.x_test, data.x_test)  # seeded split
    other = load_dataset(data_config("npz", path, test_fraction=0.25, data_seed=4))
    assert not torch.equal(other.x_test, data.x_test)


def test_npz_a_drawn_test_split_is_said_in_the_runs_notes_and_a_given_one_is_not(tmp_path):
    path = tmp_path / "feat.npz"
    np.savez(path, x_train=np.arange(16.0).reshape(8, 2), y_train=np.arange(8) % 2)
    data = load_dataset(data_config("npz", path, test_fraction=0.25, data_seed=3))
    assert data.notes == (f"{path} has no x_test/y_test: the test split is 2 of the 8 examples of x_train, drawn "
                          "with data.test_fraction=0.25 and data.data_seed=3",)
    np.savez(path, x_train=np.ones((4, 2)), y_train=[0, 1, 0, 1], x_test=np.ones((2, 2)), y_test=[0, 1])
    assert load_dataset(data_config("npz", path, test_fraction=0.25, data_seed=3)).notes == ()


def test_npz_missing_key_names_file_and_key(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.zeros(4, dtype=np.int64), x_test=np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"partial\.npz: missing key 'y_test'"):
        load_dataset(data_config("npz", path))
    np.savez(path, x_test=np.zeros((4, 2)))
    with pytest.raises(DataError, match=r"partial\.npz: missing key 'x_train'"):
        load_dataset(data_config("npz", path))


def test_npz_float_labels_rejected(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(DataError, match=r"f\.npz: 'y_train' has dtype float64; expected integer"):
        load_dataset(data_config("npz", path))


def test_npz_negative_label_rejected(tmp_path):
    path = tmp_path / "neg.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.array([0, 1, -1, 1]))
    with pytest.raises(DataError, match=r"neg\.npz: 'y_train' holds the negative label -1 at index 2"):
        load_dataset(data_config("npz", path))


def test_validate_catches_labels_outside_range():
    x = torch.zeros(3, 2)
    splits = DatasetSplits(x_train=x, y_train=torch.tensor([0, -1, 1]), x_test=x, y_test=torch.tensor([0, 1, 1]),
                           num_classes=2, class_names=["a", "b"], kind="tabular", name="toy")
    with pytest.raises(DataError, match=r"toy: train label -1 at index 1 is outside \[0, 2\)"):
        splits.validate()
    splits.y_train = torch.tensor([0, 1, 1])
    splits.y_test = torch.tensor([0, 2, 1])
    with pytest.raises(DataError, match=r"test label 2 at index 1 is outside"):
        splits.validate()


def test_validate_names_arrays_that_are_not_tensors_and_features_that_are_not_float32():
    x, y = torch.zeros(3, 2), torch.tensor([0, 1, 1])
    splits = DatasetSplits(x_train=x, y_train=y.numpy(), x_test=x, y_test=y, num_classes=2, class_names=["a", "b"],
                           kind="tabular", name="toy")
    with pytest.raises(DataError, match=r"^toy: y_train must be a torch.Tensor, got ndarray \(torch.from_numpy "
                                        r"converts a NumPy array\)$"):
        splits.validate()
    splits.y_train = y
    splits.x_test = x.double()  # what torch.from_numpy makes of NumPy's default floats
    with pytest.raises(DataError, match=r"^toy: tabular inputs must be float32, got torch.float64 in the test split "
                                        r"\(.float\(\) converts them\)$"):
        splits.validate()
    splits.x_test = x
    assert splits.validate() is splits


def _toy_splits(**changes) -> DatasetSplits:
    x, y = torch.zeros(3, 2), torch.tensor([0, 1, 1])
    fields = dict(x_train=x, y_train=y, x_test=x.clone(), y_test=y, num_classes=2, class_names=["a", "b"],
                  kind="tabular", name="toy")
    return DatasetSplits(**{**fields, **changes})


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_validate_refuses_features_that_are_not_finite(split, bad):
    x = torch.zeros(3, 2)
    x[1, 0] = x[2, 1] = bad
    with pytest.raises(DataError, match=rf"^toy: x_{split} holds NaN or infinite values in 2 of 3 examples "
                                        r"\(first: index 1\); expected finite features$"):
        _toy_splits(**{f"x_{split}": x}).validate()


def test_validate_refuses_one_dimensional_inputs_before_the_model_sees_them():
    with pytest.raises(DataError, match=r"^toy: x_train has shape \(3,\); expected \(N, \.\.\.\), one row of features "
                                        r"per example \(\.reshape\(-1, 1\) makes a single feature such a column\)$"):
        _toy_splits(x_train=torch.zeros(3), x_test=torch.zeros(3)).validate()


@pytest.mark.parametrize("labels", [torch.tensor(1), torch.tensor([[0], [1], [1]])])
def test_validate_names_labels_of_the_wrong_shape_even_without_a_length(labels):
    with pytest.raises(DataError, match=rf"^toy: test labels must be a 1-D int64 tensor, got torch.int64 "
                                        rf"{re.escape(str(tuple(labels.shape)))}$"):
        _toy_splits(y_test=labels).validate()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_validate_refuses_channels_last_images_and_takes_them_permuted(channels):
    images = torch.zeros(3, 8, 8, channels, dtype=torch.uint8)  # (N, H, W, C), as NumPy and PIL hold images
    splits = _toy_splits(x_train=images, x_test=images, kind="image")
    with pytest.raises(DataError, match=rf"^toy: images must be \(N, C, H, W\); the train split's "
                                        rf"\(3, 8, 8, {channels}\) has its channels last \(\.permute\(0, 3, 1, 2\) puts them first\)$"):
        splits.validate()
    splits.x_train = splits.x_test = images.permute(0, 3, 1, 2)
    assert splits.validate() is splits


@pytest.mark.parametrize("count,shown", [(2.0, "2.0"), ("2", "'2'"), (True, "True"), (None, "None")])
def test_validate_refuses_a_class_count_that_is_not_a_whole_number(count, shown):
    with pytest.raises(DataError, match=rf"^toy: num_classes={re.escape(shown)}; expected a whole number \(int\) "
                                        r"of classes$"):
        _toy_splits(num_classes=count).validate()


def test_validate_takes_numpy_whole_numbers_and_sequences_of_names():
    assert _toy_splits(num_classes=np.int64(2), class_names=("a", "b")).validate()
    assert _toy_splits(class_names=np.array(["a", "b"])).validate()


@pytest.mark.parametrize("names,shown", [(None, "NoneType None"), ("ab", "str 'ab'"), ({"a", "b"}, "set")])
def test_validate_refuses_class_names_that_are_not_a_sequence_of_names(names, shown):
    with pytest.raises(DataError, match=rf"^toy: class_names must be a list of 2 names, one per class, got "
                                        rf"{re.escape(shown)}"):
        _toy_splits(class_names=names).validate()


def test_validate_names_the_kinds_it_knows_for_one_it_does_not():
    x, y = torch.zeros(3, 2), torch.tensor([0, 1, 1])
    splits = DatasetSplits(x_train=x, y_train=y, x_test=x, y_test=y, num_classes=2, class_names=["a", "b"],
                           kind="table", name="toy")
    with pytest.raises(DataError, match=r"^toy: unknown kind 'table'; expected 'image', 'sequence' or 'tabular'$"):
        splits.validate()


@pytest.mark.parametrize("y_train,y_test,message", [
    ([0, 100, 200] * 2, [0, 100], r"class 1 has no training example \(198 of the 201 classes 0\.\.200 have none\); "
                                  r"the classes are 0 to the largest label, so labels must be numbered 0\.\.K-1 "
                                  r"without gaps \(np\.unique\(y, return_inverse=True\) numbers them so\); every"),
    ([0, 100_000, 200_000] * 2, [0], r"class 1 has no training example \(199998 of the 200001 classes"),
    ([0, 1, 2] * 2, [1, 7], r"'y_test' holds label 7 \(index 1\), above the largest training label 2; 5 of the 8 "
                            r"classes 0\.\.7 it makes have no training example; expected test labels among the "
                            r"training ones$"),
    ([0, 1, 3] * 2, [0, 2], r"class 2 has no training example \(1 of the 4 classes 0\.\.3 has none\); its 1 example "
                            r"is all in the test split"),
], ids=["spread_labels", "huge_labels", "test_only_label", "test_only_middle_label"])
def test_npz_a_class_without_training_examples_is_refused(tmp_path, y_train, y_test, message):
    path = tmp_path / "gaps.npz"
    np.savez(path, x_train=np.arange(12.0).reshape(6, 2), y_train=np.array(y_train),
             x_test=np.zeros((len(y_test), 2)), y_test=np.array(y_test))
    data = load_dataset(data_config("npz", path))  # loads: a run trained on it before the rule still evaluates
    with pytest.raises(DataError, match=rf"^npz: .*gaps\.npz: {message}"):
        data.check_every_class_is_trained()  # what a new run checks


def test_npz_a_drawn_test_split_holding_the_largest_label_says_so(tmp_path):
    from satlearn.data.tabular import split_indices

    _, held_out = split_indices(12, 0.25, 42, what="t")
    y = np.arange(12) % 3
    y[held_out[1]] = 5
    path = tmp_path / "drawn.npz"
    np.savez(path, x_train=np.arange(24.0).reshape(12, 2), y_train=y)
    data = load_dataset(data_config("npz", path, test_fraction=0.25, data_seed=42))
    with pytest.raises(DataError, match=r"^npz: .*drawn\.npz: the test split holds label 5 \(its example 1\), above "
                                        r"the largest training label 2; 3 of the 6 classes 0\.\.5 it makes have no "
                                        r"training example \(where that split is drawn, another data\.data_seed"):
        data.check_every_class_is_trained()


def test_a_missing_class_of_a_fixed_class_set_is_left_alone():
    # CIFAR's and MNIST-1D's classes exist whatever a subset holds; only classes read off the data are checked
    x = torch.zeros(2, 2)
    splits = DatasetSplits(x_train=x, y_train=torch.tensor([0, 2]), x_test=x, y_test=torch.tensor([0, 1]),
                           num_classes=3, class_names=["a", "b", "c"], kind="tabular", name="toy")
    splits.check_every_class_is_trained()
    splits.classes_found_in = "toy.txt"
    with pytest.raises(DataError, match=r"^toy: toy\.txt: class 1 \('b'\) has no training example \(1 of the 3 "
                                        r"classes 0\.\.2 has none\); its 1 example is all in the test split"):
        splits.check_every_class_is_trained()


def test_npz_degenerate_data_are_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), np.array([0, 1] * 4)
    cases = {
        "empty_test": ({"x_train": x, "y_train": y, "x_test": np.zeros((0, 3)), "y_test": np.zeros(0, np.int64)},
                       r"empty_test\.npz: 'x_test' holds no examples"),
        "one_class": ({"x_train": x, "y_train": np.zeros(8, np.int64)}, r"npz: 1 class; classification needs at least 2"),
        "no_features": ({"x_train": np.zeros((8, 0)), "y_train": y}, r"the inputs have no features"),
        "huge": ({"x_train": np.where(rng.random((8, 3)) < 0.5, 1e308, -1e308), "y_train": y},
                 r"huge\.npz: feature values too large to standardise"),
        "huge_label": ({"x_train": x, "y_train": np.array([0, 1] * 3 + [2**63, 1], dtype=np.uint64)},
                       r"huge_label\.npz: 'y_train' holds the label 9223372036854775808 at index 6"),
        "mismatch": ({"x_train": x, "y_train": y, "x_test": np.zeros((2, 4)), "y_test": np.array([0, 1])},
                     r"mismatch\.npz: 'x_train' examples have shape \(3,\), 'x_test' \(4,\); expected the same "
                     r"shape in both$"),
        "wide": ({"x_train": np.where(rng.random((8, 3)) < 0.5, 1e200, -1e200), "y_train": y},  # only the spread
                 r"wide\.npz: feature values too large to standardise"),
        "nan": ({"x_train": np.where(np.arange(24).reshape(8, 3) == 10, np.nan, x), "y_train": y},
                r"nan\.npz: 'x_train' holds a non-finite value \(NaN or inf\) in example 3$"),
        "complex": ({"x_train": x + 1j, "y_train": y}, r"complex\.npz: 'x_train' has dtype complex128; expected numbers$"),
        "empty_train": ({"x_train": np.zeros((0, 3)), "y_train": np.zeros(0, np.int64), "x_test": x, "y_test": y},
                        r"empty_train\.npz: 'x_train' holds no examples$"),
        "scalar_test": ({"x_train": x, "y_train": y, "x_test": np.float64(1.0), "y_test": np.array([0])},
                        r"scalar_test\.npz: 'x_test' must have one row per example, got a scalar$"),
        "fewer_labels": ({"x_train": x, "y_train": y[:7]},
                         r"fewer_labels\.npz: 'y_train' has 7 labels but 'x_train' has 8 examples$"),
        "float_test_images": ({"x_train": np.zeros((8, 3, 4, 4), np.uint8), "y_train": y,
                               "x_test": np.zeros((2, 3, 4, 4)), "y_test": np.array([0, 1])},
                              r"float_test_images\.npz: 'x_train' holds uint8 images but 'x_test' has dtype float64$"),
        "a_million_classes": ({"x_train": x, "y_train": np.array([0, 1] * 3 + [1_000_000, 1])},
                              r"a_million_classes\.npz: largest label is 1000000; expected class indices 0\.\.C-1 "
                              r"\(C <= 1000000\)$"),
    }
    for name, (arrays, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(DataError, match=message):
            load_dataset(data_config("npz", path))
    # the largest label allowed: a million classes
    np.savez(tmp_path / "most.npz", x_train=x, y_train=np.array([0, 1] * 3 + [999_999, 1]))
    assert load_dataset(data_config("npz", tmp_path / "most.npz")).num_classes == 1_000_000


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"definitely not a zip file")
    with pytest.raises(DataError, match=r"junk\.npz: not a \.npz archive \(no zip structure\)"):
        load_dataset(data_config("npz", path))
    path.write_text("x_train,y_train\n1,0\n")  # numpy's own message would speak of pickled data
    with pytest.raises(DataError, match=r"not a \.npz archive") as caught:
        load_dataset(data_config("npz", path))
    assert "pickle" not in str(caught.value)
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(path)
    with pytest.raises(DataError, match=r"junk\.npz: holds a single array"):
        load_dataset(data_config("npz", path))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not an array")
    with pytest.raises(DataError, match=r"junk\.npz: missing key 'x_train' \(found: notes\.txt\)"):
        load_dataset(data_config("npz", path))


@pytest.mark.parametrize("shape,channels_last", [
    ((8, 6, 5, 1), True),   # grayscale, channels last
    ((8, 3, 6, 3), False),  # RGB, channels first, 3 pixels wide: already (N, C, H, W)
    ((8, 1, 6, 3), False),  # grayscale, channels first, 3 pixels wide
], ids=["grey_last", "rgb_first_3_wide", "grey_first_3_wide"])
def test_npz_images_come_out_channels_first_whichever_way_they_were_stored(tmp_path, shape, channels_last):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "imgs.npz"
    np.savez(path, x_train=x_train, y_train=np.arange(8) % 2, x_test=x_train[:2], y_test=np.array([0, 1]))
    data = load_dataset(data_config("npz", path))
    expected = np.moveaxis(x_train, -1, 1) if channels_last else x_train  # [n, c, h, w] = stored [n, h, w, c]
    assert data.x_train.numpy().tolist() == expected.tolist()
    assert len(data.mean) == expected.shape[1]


def test_npz_labels_may_be_a_column_or_booleans(tmp_path):
    x = np.arange(16.0).reshape(8, 2)
    path = tmp_path / "labels.npz"
    np.savez(path, x_train=x, y_train=np.array([[0], [2], [1], [2], [0], [1], [2], [0]]), x_test=x[:2],
             y_test=np.array([[1], [0]]))
    data = load_dataset(data_config("npz", path))
    assert data.y_train.tolist() == [0, 2, 1, 2, 0, 1, 2, 0] and data.y_test.tolist() == [1, 0]
    np.savez(path, x_train=x, y_train=np.array([True, False] * 4), x_test=x[:2], y_test=np.array([False, True]))
    data = load_dataset(data_config("npz", path))
    assert data.y_train.tolist() == [1, 0] * 4 and data.y_test.tolist() == [0, 1] and data.num_classes == 2


def test_npz_uint8_arrays_of_other_than_four_dimensions_are_features(tmp_path):
    path = tmp_path / "grey.npz"
    x = np.arange(8 * 16, dtype=np.uint8).reshape(8, 4, 4)  # (N, H, W) without a channel axis: not read as images
    np.savez(path, x_train=x, y_train=np.arange(8) % 2, x_test=x[:2], y_test=np.array([0, 1]))
    data = load_dataset(data_config("npz", path))
    assert data.kind == "tabular" and data.input_shape == (16,) and data.mean is None


def test_npz_rgba_images_four_pixels_wide_stored_channels_first_stay_as_they_are(tmp_path):
    # (N, 4, H, 4): the second axis can be RGBA's channels, so the array is taken as (N, C, H, W) already
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (8, 4, 6, 4), dtype=np.uint8)
    path = tmp_path / "rgba.npz"
    np.savez(path, x_train=x_train, y_train=np.arange(8) % 2, x_test=x_train[:2], y_test=np.array([0, 1]))
    assert load_dataset(data_config("npz", path)).x_train.numpy().tolist() == x_train.tolist()


# ---------------------------------------------------------------------------------------------------------------
# CSV


def test_csv_maps_string_labels_splits_and_standardises(tmp_path):
    path = tmp_path / "table.csv"
    rows = ["a,species,b"] + [f"{i},{['setosa', 'virginica', 'versicolor'][i % 3]},{2 * i + 1}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n\n")
    cfg = data_config("csv", path, label_column="species", test_fraction=0.2, data_seed=1)
    data = load_dataset(cfg)
    assert data.kind == "tabular" and data.class_names == ["setosa", "versicolor", "virginica"]
    assert data.x_train.shape == (16, 2) and data.x_test.shape == (4, 2)
    assert torch.allclose(data.x_train.mean(0), torch.zeros(2), atol=1e-5)
    # labels follow the rows: recover each row from its standardised first column
    all_y = torch.cat([data.y_train, data.y_test]).tolist()
    assert sorted(all_y) == sorted([[0, 2, 1][i % 3] for i in range(20)])
    assert torch.equal(load_dataset(cfg).x_test, data.x_test)


@pytest.mark.parametrize("source", ["csv", "npz"])
def test_a_drawn_split_names_the_source_rows_and_the_standardisation_of_its_examples(tmp_path, source):
    rng = np.random.default_rng(0)
    x = rng.normal(50.0, 9.0, (20, 3)).round(3)
    y = np.arange(20) % 2
    path = tmp_path / f"table.{source}"
    if source == "csv":
        path.write_text("a,b,c,label\n" + "".join(f"{r[0]},{r[1]},{r[2]},{label}\n" for r, label in zip(x, y)))
    else:
        np.savez(path, x_train=x, y_train=y)
    data = load_dataset(data_config(source, path, test_fraction=0.25, data_seed=2))
    assert data.source_size == 20 and len(data.source_rows) == 15 == len(data.x_train)
    assert data.y_train.tolist() == y[data.source_rows].tolist()
    standardised = (x[data.source_rows] - data.feature_mean) / data.feature_std
    assert np.allclose(data.x_train.numpy(), standardised, atol=1e-5)
    assert set(data.origin_arrays()) == {"source_rows"}


def test_a_given_test_split_keeps_the_files_order_and_names_no_rows(tmp_path):
    path = tmp_path / "split.npz"
    np.savez(path, x_train=np.ones((4, 2)), y_train=[0, 1, 0, 1], x_test=np.ones((2, 2)), y_test=[0, 1])
    data = load_dataset(data_config("npz", path))
    assert data.source_rows is None and data.origin_arrays() == {} and data.feature_mean is not None


def test_csv_a_large_table_is_read_in_a_few_times_its_own_size(tmp_path):
    import tracemalloc

    rows, columns = 10_000, 20
    x = np.random.default_rng(0).normal(0.0, 3.0, (rows, columns))
    path = tmp_path / "large.csv"
    with path.open("w") as f:
        f.write(",".join(f"f{i}" for i in range(columns)) + ",label\n")
        np.savetxt(f, np.column_stack([x, np.arange(rows) % 5]), fmt=["%.4f"] * columns + ["%d"], delimiter=",")
    tracemalloc.start()
    try:
        data = load_dataset(data_config("csv", path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data.x_train) + len(data.x_test) == rows
    # each value read as a Python float in a list per row took about ten times the table's float64 size (1.8 GB
    # for a million rows of 20 features); the values now go to one flat array of float64s
    assert peak < 6 * rows * columns * 8


def test_csv_its_drawn_test_split_is_said_in_the_runs_notes(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(8)))
    data = load_dataset(data_config("csv", path, test_fraction=0.25, data_seed=3))
    assert data.notes == (f"{path} is one table, with no test split of its own: the test split is 2 of the 8 data "
                          "rows, drawn with data.test_fraction=0.25 and data.data_seed=3",)


def test_csv_integer_labels_sort_numerically(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{[10, 2, 7][i % 3]}\n" for i in range(12)))
    data = load_dataset(data_config("csv", path))
    assert data.class_names == ["2", "7", "10"] and data.num_classes == 3


def test_csv_decimal_labels_sort_by_value(tmp_path):
    # a label column written as floats (pandas does so once a column held a missing value) must not sort as text,
    # or "10.0" would come before "2.0" and integer labels in a noise file would name other classes
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{[10.0, 2.0, 7.5][i % 3]}\n" for i in range(12)))
    data = load_dataset(data_config("csv", path))
    assert data.class_names == ["2.0", "7.5", "10.0"]
    big = ["123456789012345678901", "123456789012345678902"]  # float64 rounds both to one value
    path.write_text("x,label\n" + "".join(f"{i},{big[i % 2]}\n" for i in range(12)))
    assert load_dataset(data_config("csv", path)).class_names == big


@pytest.mark.parametrize("spellings", [("1", "01"), ("1", "1.0"), ("2", "2e0")])
def test_csv_one_number_written_two_ways_is_refused(tmp_path, spellings):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "".join(f"{i},{[spellings[0], '3', spellings[1]][i % 3]}\n" for i in range(12)))
    first, second = sorted(spellings, key=lambda v: (float(v), v))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: labels '{first}' and '{second}' in column 'y' are one "
                                        r"number written two ways; expected each class written one way$"):
        load_dataset(data_config("csv", path, label_column="y"))


@pytest.mark.parametrize("odd", ["nan", "NA", "3x"])
def test_csv_one_text_label_among_numbers_is_refused_naming_its_line(tmp_path, odd):
    # sorted as text, the numbers would reorder ('10' before '2') and the stray label would become a class
    labels = [str(i % 12) for i in range(24)]
    labels[5] = odd
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: line 7: label '{odd}' in column 'label' is not a "
                                        r"number, but 23 other labels there are numbers; expected every label a "
                                        r"number, or every label a name$"):
        load_dataset(data_config("csv", path))


def test_csv_one_number_among_names_is_refused(tmp_path):
    labels = ["cat", "dog", "emu"] * 4
    labels[2] = "7"
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    with pytest.raises(DataError, match=r"t\.csv: line 4: label '7' in column 'label' is a number, but 11 other "
                                        r"labels there are not; expected every label a number, or every label a name$"):
        load_dataset(data_config("csv", path))
    labels[2] = "nan"  # a name like any other where no label is a number
    path.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    assert load_dataset(data_config("csv", path)).class_names == ["cat", "dog", "emu", "nan"]


def test_csv_a_label_found_only_in_the_test_split_is_refused(tmp_path):
    from satlearn.data.tabular import split_indices

    _, held_out = split_indices(10, 0.2, 42, what="t")
    labels = ["cat", "dog"] * 5
    labels[held_out[0]] = "emu"
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    with pytest.raises(DataError, match=r"^csv: .*t\.csv: class 2 \('emu'\) has no training example \(1 of the 3 "
                                        r"classes 0\.\.2 has none\); its 1 example is all in the test split \(where "
                                        r"that split is drawn, another data\.data_seed or data\.test_fraction"):
        load_dataset(data_config("csv", path, test_fraction=0.2, data_seed=42)).check_every_class_is_trained()
    # numbers as labels, the largest only in the test split: a CSV's classes are its distinct labels, not 0 up to
    # the largest, so the class is named as any other (not as a label above the training ones making classes)
    labels = ["0", "1"] * 5
    labels[held_out[0]] = "2"
    path.write_text("x,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    with pytest.raises(DataError, match=r"^csv: .*t\.csv: class 2 has no training example \(1 of the 3 classes "
                                        r"0\.\.2 has none\); its 1 example is all in the test split"):
        load_dataset(data_config("csv", path, test_fraction=0.2, data_seed=42)).check_every_class_is_trained()


def test_csv_missing_label_column_lists_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y,target\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match=r"t\.csv: no label column 'label'.*columns: x, y, target"):
        load_dataset(data_config("csv", path))
    assert "separated" not in str(pytest.raises(DataError, load_dataset, data_config("csv", path)).value)


@pytest.mark.parametrize("separator, named", [(";", "semicolons"), ("\t", "tabs")])
def test_csv_read_as_one_column_says_which_separator_it_seems_to_use(tmp_path, separator, named):
    path = tmp_path / "t.csv"
    path.write_text(separator.join(("x", "y", "label")) + "\n" + separator.join("120") + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(data_config("csv", path))
    assert str(info.value).endswith(f"(one column: the file seems separated by {named}; expected commas)")


def test_csv_without_a_header_row_says_so_rather_than_only_asking_for_a_label_column(tmp_path):
    # naming one of the first row's cells as data.label_column would have dropped that row as a header
    path = tmp_path / "t.csv"
    path.write_text("5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,3.3,virginica\n")
    with pytest.raises(DataError) as info:
        load_dataset(data_config("csv", path))
    assert str(info.value).startswith(f"{path}: no label column 'label'")
    assert str(info.value).endswith("(its first line holds numbers: the file seems to have no header row; expected "
                                    "one naming the columns)")


def test_csv_ignore_columns_leaves_them_out_of_the_features(tmp_path):
    path = tmp_path / "t.csv"
    rows = [f"r{i},{i % 2},{float(i)},note {i},{2.0 * i}" for i in range(10)]
    path.write_text("id,label,x,text,y\n" + "\n".join(rows) + "\n")
    data = load_dataset(data_config("csv", path, ignore_columns=["id", "text"], test_fraction=0.2))
    assert data.input_shape == (2,)
    # the kept columns, x and y (y = 2x), standardised: equal after standardising, row by row
    assert torch.allclose(data.x_train[:, 0], data.x_train[:, 1])
    # column x holds each row's number, so undoing the standardisation gives the rows the split drew
    unstandardised = data.x_train[:, 0].double().numpy() * data.feature_std[0] + data.feature_mean[0]
    assert np.allclose(unstandardised, data.source_rows, atol=1e-5)


def test_csv_ignore_columns_must_name_feature_columns_of_the_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,label,x\nr0,0,1\nr1,1,2\n")
    with pytest.raises(DataError) as info:
        load_dataset(data_config("csv", path, ignore_columns=["id", "ID", "notes"]))
    assert str(info.value) == (f"{path}: data.ignore_columns names 'ID', 'notes', not in the header; "
                               "columns: id, label, x")
    with pytest.raises(DataError, match=r"t\.csv: data\.ignore_columns holds the label column 'label'; expected "
                                        r"feature columns to leave out$"):
        load_dataset(data_config("csv", path, ignore_columns=["label"]))
    with pytest.raises(DataError, match=r"t\.csv: no feature columns besides the label column 'label' and the "
                                        r"ignored columns$"):
        load_dataset(data_config("csv", path, ignore_columns=["id", "x"]))


def test_csv_non_numeric_cell_names_column_and_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y,label\n1,2,a\n3,oops,b\n5,6,a\n")
    with pytest.raises(DataError, match=r"t\.csv: column 'y', line 3: 'oops' is not a finite number"):
        load_dataset(data_config("csv", path))


def test_csv_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "none.csv")):
        load_dataset(data_config("csv", tmp_path / "none.csv"))


@pytest.mark.parametrize("n,fraction,held_out", [
    (10, 0.2, 2),
    (9, 0.3, 3),     # 2.7 rounds up, not down
    (10, 0.01, 1),   # 0.1 would hold out nothing: one is held out all the same
    (10, 0.99, 9),   # 9.9 would leave nothing to train on: one row stays for training
    (2, 0.5, 1),
])
def test_split_indices_hold_out_the_rounded_fraction_and_keep_the_original_order(n, fraction, held_out):
    from satlearn.data.tabular import split_indices

    train, test = split_indices(n, fraction, 7, what="t")
    assert len(test) == held_out and len(train) == n - held_out
    assert sorted(train.tolist() + test.tolist()) == list(range(n))  # each row in exactly one split
    assert train.tolist() == sorted(train.tolist()) and test.tolist() == sorted(test.tolist())


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_split_indices_refuse_a_fraction_outside_zero_to_one(fraction):
    from satlearn.data.tabular import split_indices

    with pytest.raises(DataError, match=rf"^t: data\.test_fraction={fraction!r}; expected a fraction in \(0, 1\)$"):
        split_indices(10, fraction, 0, what="t")


def test_csv_held_out_rows_keep_their_labels_and_the_training_standardisation(tmp_path):
    # column x holds each row's number, so every standardised row leads back to the row it came from
    names = ["cat", "emu", "dog", "yak"]
    labels = [names[(3 * i) % 4] for i in range(24)]
    path = tmp_path / "t.csv"
    path.write_text("x,label,w\n" + "".join(f"{i},{label},{i % 5 + 0.5}\n" for i, label in enumerate(labels)))
    data = load_dataset(data_config("csv", path, test_fraction=0.25, data_seed=3))
    assert data.class_names == ["cat", "dog", "emu", "yak"]
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        rows = x[:, 0].double().numpy() * data.feature_std[0] + data.feature_mean[0]
        assert np.allclose(rows, np.round(rows), atol=1e-4)
        assert [data.class_names[c] for c in y.tolist()] == [labels[int(r)] for r in np.round(rows)]
    # the training rows' mean and spread (population std) standardise both splits
    train_rows = data.source_rows
    assert np.isclose(data.feature_mean[0], train_rows.mean()) and np.isclose(data.feature_std[0], train_rows.std())
    test_rows = sorted(set(range(24)) - set(train_rows.tolist()))
    expected = (np.array(test_rows) - train_rows.mean()) / train_rows.std()
    assert np.allclose(data.x_test[:, 0].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("value", [0.3, 1234567.89])
def test_a_constant_feature_column_standardises_to_zero(value):
    from satlearn.data.tabular import standardize

    # thirty times one value: its computed spread is a rounding residue (about 6e-17 for 0.3, 2e-10 for
    # 1234567.89), not a spread to divide by; dividing by it would scale a new row's value by billions
    train = np.column_stack([np.full(30, value), np.arange(30.0)])
    x_train, x_test, _, std = standardize(train, train[:2])
    assert std[0] == 1.0  # as documented: a column that never varies gets std 1
    assert np.abs(x_train[:, 0]).max() < 1e-6 and np.abs(x_test[:, 0]).max() < 1e-6


@pytest.mark.parametrize("value", [7.0, 0.3, 1234567.89])
def test_the_earlier_form_of_a_table_is_given_only_where_a_rounding_residue_scaled_a_constant_column(tmp_path, value):
    from satlearn.data import load_earlier_form
    from satlearn.data.tabular import residue_scaled_columns

    x = np.column_stack([np.arange(30.0), np.full(30, value)])
    y = np.arange(30) % 2
    (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{a!r},{b!r},{label}\n"
                                                            for (a, b), label in zip(x.tolist(), y.tolist())))
    np.savez(tmp_path / "t.npz", x_train=x, y_train=y)
    residue = bool(len(residue_scaled_columns(x)))
    for source, name in (("csv", "t.csv"), ("npz", "t.npz")):
        config = data_config(source, tmp_path / name, test_fraction=0.2)
        earlier, now = load_earlier_form(config), load_dataset(config)
        if not residue:  # the earlier rule gave these data the same inputs: nothing to recognise a run by
            assert earlier is None, source
            continue
        assert earlier.feature_std[1] not in (1.0, 0.0) and now.feature_std[1] == 1.0
        assert torch.equal(earlier.x_train[:, 0], now.x_train[:, 0]) and not torch.equal(earlier.x_train, now.x_train)
    assert residue == (value == 1234567.89)  # each kind of column is met above
    np.savez(tmp_path / "images.npz", x_train=np.zeros((4, 1, 2, 2), np.uint8), y_train=np.arange(4) % 2)
    assert load_earlier_form(data_config("npz", tmp_path / "images.npz", test_fraction=0.5)) is None


@pytest.mark.parametrize("text,message", [
    ("x,label\n1,a\n2,b,3\n3,a\n", r"line 3 has 3 fields, the header has 2$"),
    ("x,label\n1,a\n2,\n3,b\n", r"line 3: empty label in column 'label'$"),
    ("x,label,x\n1,a,2\n2,b,3\n", r"column 'x' appears more than once in the header$"),
    ("x,label\n1,a\ninf,b\n3,a\n", r"column 'x', line 3: 'inf' is not a finite number \(a column that is not a "
                                   r"feature can be left out with data\.ignore_columns\)$"),
    ("x,label\n\n\n", r"no data rows after the header$"),
    ("", r"empty file \(expected a header row naming the columns\)$"),
], ids=["extra_field", "empty_label", "duplicate_column", "infinite_value", "no_rows", "empty_file"])
def test_csv_rows_that_do_not_fit_are_named_in_one_line(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: {message}"):
        load_dataset(data_config("csv", path))


@pytest.mark.parametrize("text,line", [
    ('x,label\n1,a\n\n2,"b\n3,a\n4,b\n5,a\n', 4),
    ('x,label\n1,a\n2,b\n3,"a\n', 4),
    ('x,"label\n1,a\n2,b\n', 1),
], ids=["in_a_label", "on_the_last_line", "in_the_header"])
def test_csv_a_quote_that_never_closes_is_named_by_its_line_rather_than_read_to_the_end(tmp_path, text, line):
    # read as it is, every line after the quote becomes part of one label: a class of its own, and rows lost
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: line {line}: a quoted field there is never "
                                        r'closed \(the file ends inside it\); expected a closing " before the end of '
                                        r"its row$"):
        load_dataset(data_config("csv", path))


def test_csv_a_quoted_label_may_span_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('x,label\n1,a\n2,"b\nc"\n3,a\n4,"b\nc"\n5,a')
    data = load_dataset(data_config("csv", path, test_fraction=0.2))
    assert data.class_names == ["a", "b\nc"] and data.source_size == 5


def test_csv_a_byte_that_is_not_utf_8_is_placed_in_the_file_not_in_the_readers_chunk(tmp_path):
    # Latin-1 text far enough in that the reader decodes it in a later chunk than the first
    rows = ["x,label"] + [f"{i},{'café' if i == 3000 else 'tea'}" for i in range(5000)]
    data = ("\n".join(rows) + "\n").encode("latin-1")
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    at = data.index("é".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: not UTF-8 text \(invalid continuation byte at "
                                        rf"byte {at}, line {rows.index('3000,café') + 1}\)$"):
        load_dataset(data_config("csv", path))


def test_csv_as_spreadsheets_write_it_byte_order_mark_and_spaces_included(tmp_path):
    # a spreadsheet's UTF-8 export starts with a byte-order mark; hand-written headers and labels carry spaces
    path = tmp_path / "t.csv"
    rows = [f"{['cat', ' cat', 'dog ', 'dog'][i % 4]}, {i}, row {i}" for i in range(12)]
    path.write_text("label , x , note\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    data = load_dataset(data_config("csv", path, ignore_columns=["note"]))
    assert data.class_names == ["cat", "dog"] and data.input_shape == (1,)
    all_rows = np.concatenate([data.source_rows, sorted(set(range(12)) - set(data.source_rows.tolist()))])
    assert torch.cat([data.y_train, data.y_test]).tolist() == [0 if r % 4 < 2 else 1 for r in all_rows]


def test_validate_names_test_images_that_are_not_uint8_as_well_as_training_ones():
    # a test split of float images would skip the loader's scaling and normalisation, and be scored as it is
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    y = torch.tensor([0, 1])
    splits = DatasetSplits(x_train=images, y_train=y, x_test=images.float() / 255, y_test=y, num_classes=2,
                           class_names=["a", "b"], kind="image", name="toy")
    with pytest.raises(DataError, match=r"^toy: images must be uint8 \(N, C, H, W\), got torch.float32 "
                                        r"\(2, 3, 4, 4\) in the test split$"):
        splits.validate()
    splits.x_test = images
    assert splits.validate() is splits


@pytest.mark.parametrize("given,message", [
    ({"mean": (0.5, 0.5, 0.5)}, r"mean must hold one finite number per channel of the \(N, C, H, W\) images, 1 here; "
                                r"got \(0\.5, 0\.5, 0\.5\)"),
    ({"std": (0.0,)}, r"std must hold one positive finite number per channel of the \(N, C, H, W\) images, 1 here; "
                      r"got \(0\.0,\)"),
    ({"std": (float("inf"),)}, r"std must hold one positive finite number per channel .* got \(inf,\)"),
    ({"mean": 0.5}, r"mean must hold one finite number per channel .* got 0\.5"),
    # a mean image, which NumPy and torch print over many lines: its shape
    ({"mean": np.full((1, 4, 4), 0.5)}, r"mean must hold one finite number per channel .* got an array of shape "
                                        r"\(1, 4, 4\)"),
    ({"std": torch.zeros(1)}, r"std must hold one positive finite number per channel .* got \[0\.0\]"),
])
def test_validate_names_image_statistics_that_do_not_fit_the_channels(given, message):
    # the loaders broadcast them over the channels: three means for one channel would hand the model three channels
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    y = torch.tensor([0, 1])
    splits = DatasetSplits(x_train=images, y_train=y, x_test=images, y_test=y, num_classes=2, class_names=["a", "b"],
                           kind="image", name="toy", **given)
    with pytest.raises(DataError, match=rf"^toy: {message}$"):
        splits.validate()
    splits.mean, splits.std = [0.4], [0.2]
    assert splits.validate() is splits


def toy_splits(**changes) -> DatasetSplits:
    """Three training and two test examples of two features, two classes; ``changes`` replace fields."""
    fields = dict(x_train=torch.zeros(3, 2), y_train=torch.tensor([0, 1, 1]), x_test=torch.zeros(2, 2),
                  y_test=torch.tensor([1, 0]), num_classes=2, class_names=["a", "b"], kind="tabular", name="toy")
    return DatasetSplits(**{**fields, **changes})


@pytest.mark.parametrize("changes,message", [
    ({"y_train": torch.zeros(0, dtype=torch.int64), "x_train": torch.zeros(0, 2)}, r"the train split is empty"),
    ({"y_train": torch.tensor([0, 1])}, r"train split has 3 inputs but 2 labels"),
    ({"y_test": torch.tensor([1, 0], dtype=torch.int32)}, r"test labels must be a 1-D int64 tensor, got torch\.int32 "
                                                          r"\(2,\)"),
    ({"y_train": torch.tensor([[0], [1], [1]])}, r"train labels must be a 1-D int64 tensor, got torch\.int64 \(3, 1\)"),
    ({"x_test": torch.zeros(2, 3)}, r"train inputs have shape \(2,\), test inputs \(3,\)"),
    ({"class_names": ["a", "b", "c"]}, r"3 class names for 2 classes"),
    ({"source_rows": np.array([0, 1, 3]), "source_size": 3}, r"source_rows must give each of the 3 training examples "
                                                             r"a row in \[0, source_size=3\), got int64 of shape \(3,\)"),
    ({"source_rows": np.array([0, -1, 2]), "source_size": 3}, r"source_rows .* row in \[0, source_size=3\), got "
                                                              r"int64 of shape \(3,\)"),
    ({"source_rows": np.array([0, 1]), "source_size": 3}, r"source_rows .* got int64 of shape \(2,\)"),
    ({"source_rows": np.array([0, 1, 2])}, r"source_rows .* \[0, source_size=None\), got int64 of shape "
                                            r"\(3,\)"),
    ({"source_rows": np.array([0.0, 1.0, 2.0]), "source_size": 3}, r"source_rows .* got float64 of shape \(3,\)"),
    ({"train_files": ["a.png", "b.png"]}, r"2 train_files for 3 training examples"),
    ({"kind": "image", "x_train": torch.zeros(3, 4, 4, dtype=torch.uint8),
      "x_test": torch.zeros(2, 4, 4, dtype=torch.uint8)},
     r"images must be uint8 \(N, C, H, W\), got torch\.uint8 \(3, 4, 4\) in the train split"),
], ids=["empty", "fewer_labels", "int32_labels", "column_labels", "test_shape", "names", "row_past_end",
        "negative_row", "rows_short", "no_size", "float_rows", "files", "three_dim_images"])
def test_validate_names_what_does_not_fit_in_one_line(changes, message):
    with pytest.raises(DataError, match=rf"^toy: {message}$"):
        toy_splits(**changes).validate()


def test_origin_arrays_lead_back_to_the_users_rows_or_files():
    rows = toy_splits(source_rows=np.array([4, 0, 2], dtype=np.int32), source_size=5).validate().origin_arrays()
    assert list(rows) == ["source_rows"] and rows["source_rows"].dtype == np.int64
    assert rows["source_rows"].tolist() == [4, 0, 2]
    files = toy_splits(train_files=["c/1.png", "a/2.png", "b/3.png"]).validate().origin_arrays()
    assert list(files) == ["train_files"] and files["train_files"].tolist() == ["c/1.png", "a/2.png", "b/3.png"]
    # images drawn from a folder have both: a run's files name each by its path, which says more than a position
    both = toy_splits(source_rows=np.array([4, 0, 2]), source_size=5,
                      train_files=["c/1.png", "a/2.png", "b/3.png"]).validate().origin_arrays()
    assert list(both) == ["train_files"] and both["train_files"].tolist() == ["c/1.png", "a/2.png", "b/3.png"]
    assert toy_splits().validate().origin_arrays() == {}


def recorded_bars(monkeypatch, module) -> list:
    """The reading bars ``module`` makes, each kept with what it was made with."""
    import satlearn.data.base as base

    bars = []

    def record(progress, **made):
        bar = base.reading_bar(progress, **made)
        bar.made = {"progress": progress, **made}
        bar.shown = not bar.disable  # (closing a bar disables it)
        bars.append(bar)
        return bar

    monkeypatch.setattr(module, "reading_bar", record)
    return bars


@pytest.mark.parametrize("progress", [True, False])
def test_a_large_csv_is_read_under_a_bar_of_its_bytes(tmp_path, monkeypatch, progress):
    import satlearn.data.tabular as tabular

    rng = np.random.default_rng(0)
    table = tmp_path / "table.csv"
    rows = rng.normal(size=(10000, 2))
    table.write_text("a,b,label\n" + "".join(f"{u:.3f},{v:.3f},{int(u > 0)}\n" for u, v in rows))
    bars = recorded_bars(monkeypatch, tabular)
    load_dataset(data_config("csv", table), progress=progress)
    (bar,) = bars
    assert bar.made == {"progress": progress, "total": table.stat().st_size, "unit": "B", "desc": "reading table.csv"}
    assert bar.shown is progress
    if progress:  # moved on as rows were read (each 4096), by what the file had given up to there
        assert 0 < bar.n <= bar.total


def test_an_image_folder_is_read_under_a_bar_of_its_images(tmp_path, monkeypatch):
    import satlearn.data.imagefolder as imagefolder

    bars = recorded_bars(monkeypatch, imagefolder)
    load_dataset(data_config("imagefolder", write_imagefolder(tmp_path / "images")), progress=True)
    assert [(bar.made["desc"], bar.made["total"], bar.n) for bar in bars] == [
        ("reading training images", 6, 6), ("reading test images", 4, 4)]
    assert all(bar.made["unit"] == "image" and bar.shown for bar in bars)
