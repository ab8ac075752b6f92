"""Learning-rate schedules as pure functions of the 0-based epoch (so resume needs no scheduler object)."""

from __future__ import annotations

import math

from satlearn.errors import ConfigError


def learning_rate(optim, epoch: int, epochs: int) -> float:
    """Learning rate for ``epoch`` under ``optim`` (a :class:`satlearn.config.OptimConfig`).

    ``cosine`` anneals from ``lr`` to 0 over ``epochs`` (as ``CosineAnnealingLR(T_max=epochs)`` stepped once per
    epoch); ``step`` multiplies by ``gamma`` at each milestone reached; ``constant`` keeps ``lr``. Another name is a
    :class:`~satlearn.errors.ConfigError` (a ``ValueError``).
    """
    if optim.schedule == "cosine":
        return optim.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    if optim.schedule == "step":
        return optim.lr * optim.gamma ** sum(1 for m in optim.milestones if epoch >= m)
    if optim.schedule == "constant":
        return optim.lr
    # the config refuses other names; a direct call with a misspelt one would otherwise train at a constant rate
    raise ConfigError(f"optim.schedule={optim.schedule!r}; expected cosine, step or constant")
