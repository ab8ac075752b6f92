import numpy as np
import pytest
import torch

from satlearn.config import DataConfig
from satlearn.data import load_dataset
from satlearn.errors import ConfigError, DataError


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


def test_a_cache_variable_set_empty_is_as_one_not_set(tmp_path, monkeypatch):
    # SATLEARN_CACHE= (an empty value) is no folder: read as the current directory, it would fill it with caches
    from satlearn.data.base import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SATLEARN_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "satlearn"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "satlearn"


@pytest.mark.parametrize("name", ["SATLEARN_CACHE", "XDG_CACHE_HOME"])
def test_without_a_home_directory_a_cache_variable_starting_with_a_tilde_is_named(name, monkeypatch):
    # the variable is not on the command line run: the error says where the ~ came from
    from fixtures import without_a_home_directory
    from satlearn.data.base import default_cache_dir

    without_a_home_directory(monkeypatch)
    monkeypatch.setenv(name, "~/cache")
    with pytest.raises(ConfigError, match=rf"^{name}=~/cache: there is no home directory for this process to read "
                                          "~ as"):
        default_cache_dir()


def test_without_a_root_or_a_home_directory_mnist1d_is_generated_without_a_cache(tmp_path, monkeypatch):
    # the cache only saves generating again: no place for it is no reason to refuse the data
    from fixtures import without_a_home_directory

    without_a_home_directory(monkeypatch)
    monkeypatch.chdir(tmp_path)
    data = load_dataset(DataConfig(source="mnist1d", num_samples=100))
    cached = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path / "cache"), num_samples=100))
    assert torch.equal(data.x_train, cached.x_train) and torch.equal(data.y_train, cached.y_train)
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # nothing written elsewhere


def test_a_root_in_a_folder_whose_name_starts_with_a_tilde_is_given_with_dot_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ./~name is a folder here, not the home of a user "name"
    load_dataset(DataConfig(source="mnist1d", root="./~satlearn-data", num_samples=100))
    assert list((tmp_path / "~satlearn-data").glob("mnist1d-n100-*.npz"))


def test_the_standardised_inputs_do_not_depend_on_the_thread_count(tmp_path, monkeypatch):
    # a run keeps a digest of its inputs; a resume or eval under another run.threads must find the same bits
    from satlearn.data import mnist1d

    rng = np.random.default_rng(0)
    big = {"x": rng.normal(3.0, 2.0, (10_000, 40)), "y": np.arange(10_000) % 10,
           "x_test": rng.normal(3.0, 2.0, (2_500, 40)), "y_test": np.arange(2_500) % 10}
    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: big)
    config = DataConfig(source="mnist1d", root=str(tmp_path), num_samples=12_500, data_seed=0)
    before = torch.get_num_threads()
    loaded = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            loaded.append(load_dataset(config))
    finally:
        torch.set_num_threads(before)
    for other in loaded[1:]:
        assert torch.equal(loaded[0].x_train, other.x_train) and torch.equal(loaded[0].x_test, other.x_test)
    assert abs(float(loaded[0].x_train.double().mean())) < 1e-6


def small_arrays():
    """Hand-sized MNIST-1D arrays: training values 1..8 (mean 4.5), test values 0 and 9, digits 0..8 only."""
    return {"x": np.arange(1.0, 9.0).reshape(4, 2), "y": np.array([0, 3, 5, 8]),
            "x_test": np.array([[0.0, 9.0]]), "y_test": np.array([2])}


def test_both_splits_are_standardised_with_the_training_mean_and_sample_std(tmp_path, monkeypatch):
    from satlearn.data import mnist1d

    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: small_arrays())
    data = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=10))
    # training values 1..8: mean 4.5, sample std sqrt(sum((v - 4.5)^2) / 7) = sqrt(42 / 7) = sqrt(6)
    std = np.sqrt(6.0)
    assert np.allclose(data.x_train.numpy(), (np.arange(1.0, 9.0).reshape(4, 2) - 4.5) / std)
    assert np.allclose(data.x_test.numpy(), [[-4.5 / std, 4.5 / std]])
    # the ten digits are the classes, whichever of them these examples hold
    assert data.num_classes == 10 and data.class_names == [str(d) for d in range(10)]


def test_the_earlier_form_is_standardised_with_torchs_float32_mean_and_sample_std(tmp_path, monkeypatch):
    from satlearn.data import load_earlier_form, mnist1d

    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: small_arrays())
    earlier = load_earlier_form(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=10))
    std = np.sqrt(6.0)  # as above: torch's std is the sample std too
    assert np.allclose(earlier.x_train.numpy(), (np.arange(1.0, 9.0).reshape(4, 2) - 4.5) / std)
    assert np.allclose(earlier.x_test.numpy(), [[-4.5 / std, 4.5 / std]])


def test_a_damaged_or_unwritable_cache_costs_only_generation_time(tmp_path, monkeypatch):
    from satlearn.data import mnist1d

    generated = []
    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: generated.append(seed) or small_arrays())
    config = DataConfig(source="mnist1d", root=str(tmp_path), num_samples=10, data_seed=1)
    first = load_dataset(config)
    cache = tmp_path / "mnist1d-n10-seed1.npz"
    whole = cache.read_bytes()
    cache.write_bytes(whole[:len(whole) // 2])  # a copy cut short
    assert torch.equal(load_dataset(config).x_train, first.x_train) and len(generated) == 2
    with np.load(cache) as rewritten:  # written again, whole
        assert rewritten["x"].tolist() == small_arrays()["x"].tolist()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    again = load_dataset(DataConfig(source="mnist1d", root=str(not_a_folder), num_samples=10, data_seed=1))
    assert torch.equal(again.x_train, first.x_train) and len(generated) == 3


def test_a_cache_that_cannot_be_written_is_noted_as_the_reason_every_run_generates_the_data(tmp_path, monkeypatch):
    from satlearn.data import mnist1d

    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: small_arrays())
    config = DataConfig(source="mnist1d", root=str(tmp_path / "cache"), num_samples=10)
    assert load_dataset(config).notes == () and load_dataset(config).notes == ()  # written, then read back

    def refused(*args, **kwargs):  # a read-only home directory, as on a cluster's compute nodes
        raise OSError(30, "Read-only file system", str(tmp_path / "home" / ".cache"))

    monkeypatch.setattr(mnist1d.Path, "mkdir", refused)
    config = DataConfig(source="mnist1d", root=str(tmp_path / "home" / ".cache" / "satlearn"), num_samples=10)
    assert load_dataset(config).notes == (
        f"mnist1d: cannot write the cache {tmp_path / 'home' / '.cache'} (Read-only file system), so every run "
        "generates the data again; point SATLEARN_CACHE or data.root at a folder that can be written",)


def test_a_cache_in_a_folder_that_cannot_be_entered_costs_only_generation_time(tmp_path, monkeypatch):
    import os

    from satlearn.data import mnist1d

    monkeypatch.setattr(mnist1d, "_generate", lambda num_samples, seed: small_arrays())
    shut = tmp_path / "root-only"  # a home directory of mode 0700 and another owner, as root's under docker --user
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(shut)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    data = load_dataset(DataConfig(source="mnist1d", root=str(shut / ".cache" / "satlearn"), num_samples=10))
    assert np.allclose(data.x_test.numpy(), [[-4.5 / np.sqrt(6.0), 4.5 / np.sqrt(6.0)]])


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_the_generator_cannot_take_is_refused(tmp_path, seed):
    from satlearn.data.mnist1d import load_mnist1d

    config = DataConfig(source="mnist1d", root=str(tmp_path), num_samples=100, data_seed=seed)
    # the source's own check, which a loader called without load_dataset's config checks still meets
    with pytest.raises(DataError, match=rf"^mnist1d: data\.data_seed={seed}; expected a seed from 0 to 2\*\*32 - 1$"):
        load_mnist1d(config)
    if seed < 0:  # load_dataset refuses a negative seed first, as load_config does
        with pytest.raises(ConfigError, match=r"^load_dataset's config: data\.data_seed=-1; expected a seed of 0 or "
                                              r"more$"):
            load_dataset(config)
    else:
        with pytest.raises(DataError, match=r"^mnist1d: data\.data_seed="):
            load_dataset(config)


def test_generating_mnist1d_leaves_pythons_random_stream_as_it_was(tmp_path):
    import random

    # the generator seeds Python's random module as well as NumPy's: a caller's stream after loading would then
    # depend on whether the data came from the cache
    random.seed(5)
    expected_next = random.random()
    random.seed(5)
    load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=20, data_seed=3))
    assert random.random() == expected_next


def test_a_sample_count_that_is_no_multiple_of_ten_is_said_to_generate_fewer_examples(tmp_path):
    # the generator makes num_samples // 10 of each digit
    data = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=25))
    assert len(data.y_train) + len(data.y_test) == 20
    assert [note for note in data.notes if "data.num_samples=25 generates 20 examples, 2 of each digit" in note]
    assert load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=20)).notes == ()


def test_5000_samples_with_seed_42_are_the_mnist1d_packages_standard_dataset(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset

    standard = make_dataset(get_dataset_args())
    data = load_dataset(DataConfig(source="mnist1d", root=str(tmp_path), num_samples=5000, data_seed=42))
    assert np.array_equal(data.y_train.numpy(), standard["y"])
    assert np.array_equal(data.y_test.numpy(), standard["y_test"])
    # the same sequences, standardised again with the training split's own statistics
    train = standard["x"].astype(np.float64)
    mean, std = train.mean(), train.std(ddof=1)
    assert np.allclose(data.x_train.numpy(), (train - mean) / std, atol=1e-5)
    assert np.allclose(data.x_test.numpy(), (standard["x_test"] - mean) / std, atol=1e-5)
