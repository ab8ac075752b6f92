"""Data sources (all held in memory, every batch carrying its example indices), label noise and loaders."""

from __future__ import annotations

import inspect

from satlearn.config import Config, DataConfig, check
from satlearn.data.base import SOURCES, DatasetSplits
from satlearn.errors import DataError
from satlearn.data import mnist1d, cifar, imagefolder, npz, tabular  # noqa: E402,F401  (registration)


def load_dataset(config: DataConfig, *, progress: bool = True) -> DatasetSplits:
    """Loads ``config.source`` (a :class:`satlearn.config.DataConfig`) and validates it; ``progress``: show a
    progress bar where the source downloads its data, or reads it for long (a large CSV file, an image folder). A
    config that :func:`satlearn.config.load_config` would refuse (a string where a list belongs, say) is refused with
    the same one-line ConfigError. The splits keep a copy of ``config`` as ``loaded_from``."""
    config = _checked(config)
    loader = SOURCES.get(config.source)
    # a source registered as loader(config) alone has no bar to hide
    splits = loader(config, progress=progress) if _takes_progress(loader) else loader(config)
    if not isinstance(splits, DatasetSplits):  # a source of the user's own that forgot its return, say
        raise DataError(f"data.source={config.source!r}: its loader returned {type(splits).__name__}; expected a "
                        "satlearn.data.DatasetSplits")
    splits.validate()
    # the checked copy, not the caller's object: settings changed after loading (config.data.root = ..., say) did
    # not load these splits
    splits.loaded_from = config
    return splits


def load_earlier_form(config: DataConfig) -> DatasetSplits | None:
    """``config.source`` as an earlier satlearn prepared it, where its preparation has changed since (MNIST-1D's
    standardisation; CSV and .npz features with a column of one value that a rounding residue scaled), else None: a
    run keeps a digest of the data it trained on, and one trained then is recognised by it and goes on with those
    data."""
    as_before = {"mnist1d": mnist1d.load_mnist1d_as_before, "csv": tabular.load_csv_as_before,
                 "npz": npz.load_npz_as_before}.get(config.source)
    splits = as_before(config) if as_before is not None else None
    return splits.validate() if splits is not None else None


def _checked(config: DataConfig) -> DataConfig:
    """``config`` as load_config would have built it: one built in code has not been through its checks, and a
    string given for ``ignore_columns`` would otherwise be read letter by letter as column names."""
    return check(Config(data=config), source="load_dataset's config").data


def _takes_progress(loader) -> bool:
    try:
        parameters = inspect.signature(loader).parameters.values()
    except (TypeError, ValueError):  # (a callable whose signature Python cannot read)
        return False
    return any(p.name == "progress" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


__all__ = ["SOURCES", "DatasetSplits", "load_dataset", "load_earlier_form"]
