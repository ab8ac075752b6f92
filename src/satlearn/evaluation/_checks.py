"""Input checks shared by the evaluation measures.

A measure given arrays of the wrong shape or kind would otherwise return a number anyway (numpy broadcasts,
flattens and casts to bool without complaint), so every measure checks its inputs here first.
"""

from __future__ import annotations

import numpy as np


def checked(*, finite: bool, **arrays) -> tuple[np.ndarray, ...]:
    """The arrays named by keyword, checked together and returned in the order given.

    Each must be 1-D, all of the same non-zero length. ``scores`` must hold real numbers, returned as float64,
    that are finite (``finite=True``) or at least not NaN; every other array must be bool or 0/1 integers,
    returned as bool.
    """
    values = {name: np.asarray(array) for name, array in arrays.items()}
    for name, array in values.items():
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one entry per example), got shape {array.shape}")
    lengths = {len(array) for array in values.values()}
    if len(lengths) > 1:
        described = ", ".join(f"{name} has {len(array)}" for name, array in values.items())
        raise ValueError(f"inputs must have one entry per example each, but {described}")
    if lengths == {0}:
        raise ValueError(f"no examples: {', '.join(values)} {'is' if len(values) == 1 else 'are'} empty")
    return tuple(_scores(name, array, finite) if name == "scores" else _flags(name, array)
                 for name, array in values.items())


def _scores(name: str, array: np.ndarray, finite: bool) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array) if finite else np.isnan(array))
    if len(bad):
        expected = "finite" if finite else "numbers, not NaN"
        raise ValueError(f"{name} must be {expected}: {name}[{bad[0]}] is {array[bad[0]]} "
                         f"({len(bad)} of {len(array)} are)")
    return array


def _flags(name: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "b":
        return array
    expected = f"{name} must be bool or 0/1 integers"
    if array.dtype.kind not in "iu":
        # probabilities, or NaN, cast to bool would read as True
        raise ValueError(f"{expected}, got dtype {array.dtype}")
    outside = np.flatnonzero((array != 0) & (array != 1))
    if len(outside):
        raise ValueError(f"{expected}: {name}[{outside[0]}] is {array[outside[0]]}")
    return array.astype(bool)
