import os

import pytest
import torch

# Tests share one CPU budget; keep torch from oversubscribing the cores when pytest-xdist runs workers.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """MNIST-1D is generated once per session into a temporary cache, never into the user's home."""
    cache = tmp_path_factory.getbasetemp().parent / "satlearn-cache"
    monkeypatch.setenv("SATLEARN_CACHE", str(cache))
    yield
