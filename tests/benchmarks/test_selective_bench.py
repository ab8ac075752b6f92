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
