"""Data sources (all held in memory, every batch carrying its example indices), label noise and loaders."""

from __future__ import annotations

from satlearn.data.base import SOURCES, DatasetSplits
from satlearn.data import mnist1d, cifar, imagefolder, npz, tabular  # noqa: E402,F401  (registration)


def load_dataset(config, *, progress: bool = True) -> DatasetSplits:
    """Loads ``config.source`` (a :class:`satlearn.config.DataConfig`) and validates it; ``progress``: show a
    progress bar where the source downloads its data."""
    return SOURCES.get(config.source)(config, progress=progress).validate()


__all__ = ["SOURCES", "DatasetSplits", "load_dataset"]
