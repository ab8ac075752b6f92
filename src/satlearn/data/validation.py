"""A validation split held out of the training split (``data.val_size``): which examples, and the checks that what is
left still trains every class.

The held-out examples keep their places in the training split: a run trains on the others, in their order, and
anything it writes per training example names each by its position in the whole training split.
"""

from __future__ import annotations

import numpy as np
import torch

from satlearn.data.base import DatasetSplits
from satlearn.errors import ConfigError

# mixed into data.data_seed, so that the validation draw is a stream of its own, not a replay of the one that draws
# a source's test split from the same seed
_VALIDATION_STREAM = 0x76616C


def validation_index(n: int, size: int, *, pick: str = "random", seed: int = 0) -> np.ndarray:
    """The ``(size,)`` int64 positions, in increasing order, of the examples held out of ``n`` training examples.

    ``pick``: ``"random"`` draws them uniformly without replacement with a generator seeded by ``seed``
    (``data.data_seed``), the same whatever the run's own seed, so that runs of several seeds are scored on the same
    examples; ``"last"`` takes the last ``size`` (CIFAR's last 5,000 images are the official code's validation
    split)."""
    if not 0 <= size < n:
        raise ConfigError(f"data.val_size={size}; expected 0 to {n - 1} (the training split has {n} examples, and "
                          "at least one must be left to train on)")
    if pick == "last":
        return np.arange(n - size, n, dtype=np.int64)
    if pick != "random":
        raise ConfigError(f"data.val_pick={pick!r}; expected one of: random, last")
    chosen = np.random.default_rng([seed, _VALIDATION_STREAM]).choice(n, size=size, replace=False)
    return np.sort(chosen).astype(np.int64)


def training_index(n: int, held_out: np.ndarray | torch.Tensor) -> np.ndarray:
    """The positions, in increasing order, of the ``n`` training examples that ``held_out`` leaves to train on."""
    keep = np.ones(n, dtype=bool)
    keep[np.asarray(held_out, dtype=np.int64)] = False
    return np.flatnonzero(keep).astype(np.int64)


def hold_out(data: DatasetSplits, size: int, *, pick: str = "random", seed: int = 0) -> torch.Tensor | None:
    """The positions in ``data``'s training split of a validation split of ``size`` examples (see
    :func:`validation_index`), or None for none (``size`` 0). A :class:`ConfigError` in one line where no example
    would be left to train on, or where a class that has training examples would be left with none (its examples
    all held out), as its model could not learn it."""
    if size == 0:
        return None
    n = len(data.y_train)
    held_out = validation_index(n, size, pick=pick, seed=seed)
    labels = data.y_train.numpy()
    before = np.bincount(labels, minlength=data.num_classes)
    after = before - np.bincount(labels[held_out], minlength=data.num_classes)
    emptied = np.flatnonzero((before > 0) & (after == 0))
    if len(emptied):
        first = int(emptied[0])
        name = data.class_names[first]
        label = f"class {first}" if name == str(first) else f"class {first} ({name!r})"
        others = f" (and {len(emptied) - 1} more)" if len(emptied) > 1 else ""
        remedy = ("another data.data_seed draws others" if pick == "random"
                  else "data.val_pick=random draws them from the whole split")
        count = int(before[first])
        taken = "the only training example" if count == 1 else f"all {count} training examples"
        raise ConfigError(f"data.val_size={size}, data.val_pick={pick}: the validation split takes {taken} of "
                          f"{label}{others}, which would leave it none to learn from; a smaller data.val_size, or "
                          f"{remedy}, keeps some")
    return torch.from_numpy(held_out)
