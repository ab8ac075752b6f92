import numpy as np
import torch

from satlearn.config import DataConfig
from satlearn.data import load_dataset


def test_mnist1d_is_generated_offline_cached_and_standardised(tmp_path):
    config = DataConfig(source="mnist1d", root=str(tmp_path), num_samples=200, data_seed=3)
    np.random.seed(5)
    expected_next = np.random.rand()
    np.random.seed(5)
    data = load_dataset(config)
    assert np.random.rand() == expected_next  # the generator's global reseeding does not leak out
    assert data.x_train.shape == (160, 40) and data.x_test.shape == (40, 40)
    assert data.num_classes == 10 and data.kind == "sequence"
    assert abs(float(data.x_train.mean())) < 1e-4 and abs(float(data.x_train.std()) - 1) < 1e-3
    assert list(tmp_path.glob("mnist1d-n200-seed3.npz"))
    again = load_dataset(config)
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_train, data.y_train)
    other = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=200, data_seed=4))
    assert not torch.equal(other.y_train, data.y_train)


def test_mnist1d_is_read_back_from_its_cache_without_generating_again(tmp_path, monkeypatch):
    from satlearn.data import mnist1d

    config = DataConfig(source="mnist1d", root=str(tmp_path), num_samples=100, data_seed=7)
    first = load_dataset(config)

    def generate(num_samples, seed):
        raise AssertionError("generated again although the cache holds the data")

    monkeypatch.setattr(mnist1d, "_generate", generate)
    again = load_dataset(config)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(again, name), getattr(first, name)), name


def test_a_tiny_mnist1d_subset_keeps_all_ten_digits_even_when_training_lacks_one(tmp_path):
    data = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=10))
    assert data.num_classes == 10 and len(data.y_train.unique()) < 10


def test_a_root_or_cache_starting_with_a_tilde_is_in_the_home_directory(tmp_path, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    load_dataset(DataConfig(source="mnist1d", root="~/c", num_samples=100))
    assert list((home / "c").glob("mnist1d-n100-*.npz"))
    monkeypatch.setenv("SATLEARN_CACHE", "~/cache")
    load_dataset(DataConfig(source="mnist1d", num_samples=100))
    assert list((home / "cache").glob("mnist1d-n100-*.npz"))
    monkeypatch.delenv("SATLEARN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "~/xdg")
    load_dataset(DataConfig(source="mnist1d", num_samples=100))
    assert list((home / "xdg" / "satlearn").glob("mnist1d-n100-*.npz"))
    assert list(cwd.iterdir()) == []  # no literal '~' directory
