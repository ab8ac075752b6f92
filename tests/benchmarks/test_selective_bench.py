"""benchmarks/selective.py finds bad settings and an unwritable results folder before its first training."""

import sys

import pytest

from fixtures import load_benchmark
from satlearn.errors import ConfigError


@pytest.fixture
def selective(monkeypatch):
    """The benchmark with its trainings replaced by a record of them: none may start in these tests."""
    module = load_benchmark("selective")
    monkeypatch.setattr(module, "fit", lambda config, run_dir, **_: pytest.fail(
        f"trained {run_dir} before the bad input was found"))
    return module


def test_a_setting_that_a_later_training_refuses_stops_the_benchmark_before_the_first_trains(selective, tmp_path,
                                                                                           monkeypatch):
    # the SAT model trains first; Deep Gamblers' cross-entropy epochs do not fit in so few epochs
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "--set", "run.epochs=2", "--results-dir",
                                      str(tmp_path / "results"), "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError, match=r"^--set run\.epochs=2: .* so the gamblers loss would never start"):
        selective.main()
    assert not (tmp_path / "results").exists() and not (tmp_path / "S.md").exists()


def test_a_results_folder_that_cannot_be_made_stops_the_benchmark_before_the_first_training(selective, tmp_path,
                                                                                          monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "--results-dir", str(a_file / "results"),
                                      "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError) as refused:
        selective.main()
    assert str(refused.value) == (f"--results-dir {a_file / 'results'}: {a_file} is not a directory; expected a "
                                  "directory this process can write in")
    assert not (tmp_path / "S.md").exists()
