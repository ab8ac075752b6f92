import os

import pytest
import torch

# Tests use tiny models: under pytest-xdist every worker gets one thread, so workers never oversubscribe the
# cores (with two threads each, a busy 2-core machine turns 20 ms steps into seconds).
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """MNIST-1D is generated once per session into a temporary cache, never into the user's home."""
    cache = tmp_path_factory.getbasetemp().parent / "satlearn-cache"
    monkeypatch.setenv("SATLEARN_CACHE", str(cache))
    yield


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
