import os

import pytest
import torch

# Tests use tiny models: under pytest-xdist every worker gets one thread, so workers never oversubscribe the
# cores (with two threads each, a busy 2-core machine turns 20 ms steps into seconds).
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


def _cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.getbasetemp().parent / "satlearn-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """MNIST-1D is generated once per session into a temporary cache, never into the user's home."""
    monkeypatch.setenv("SATLEARN_CACHE", _cache_dir(tmp_path_factory))
    yield


@pytest.fixture(scope="session")
def finished_sat_run(tmp_path_factory):
    """A tiny finished SAT run on MNIST-1D with 40 % symmetric noise, trained once per test run. Tests that change
    its files work on a copy (shutil.copytree)."""
    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    root = tmp_path_factory.mktemp("finished-sat-run")
    config = load_config(None, tiny_overrides(root, "method.name=sat", "data.noise.kind=symmetric",
                                              "data.noise.rate=0.4", "run.epochs=2"))
    with pytest.MonkeyPatch.context() as patch:  # set up before the first test's _isolated_cache: the same cache
        patch.setenv("SATLEARN_CACHE", _cache_dir(tmp_path_factory))
        return fit(config, root / "sat", log=lambda message: None).run_dir


@pytest.fixture
def method_with_settings(monkeypatch):
    """A method of the user's own, ``label_smoothing``, with settings of its own; registered for one test only."""
    from dataclasses import dataclass, field

    import torch.nn.functional as F

    from satlearn.methods import METHODS, TargetsMethod

    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))

    @METHODS.register("label_smoothing")
    class LabelSmoothing(TargetsMethod):
        @dataclass
        class Settings:
            smoothing: float = 0.1
            warmup: int | None = None
            tags: list[str] = field(default_factory=list)

        def training_step(self, batch, epoch):
            x, y, _ = batch
            return F.cross_entropy(self.model(x), y, label_smoothing=self.settings.smoothing), {}

    return LabelSmoothing
