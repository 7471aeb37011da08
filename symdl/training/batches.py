"""Mini-batches of an epoch: the sample order from ``numpy.random.default_rng((seed, epoch))``, cut into slices.

Epoch e's order depends only on (seed, e), not on the epochs before it, so
training resumed at ``initial_epoch`` sees the batches an uninterrupted run
would have seen. The last batch keeps what is left (n mod batch_size samples),
as Keras does.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["batch_slices", "check_data", "check_positive", "epoch_rng"]


def check_positive(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_data(X: object, Y: object, what: str = "X, Y") -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) as arrays with one row per sample and the same number of rows, else one ValueError line."""
    arrays: list[Any] = []  # numpy arrays, or array-likes with shape and ndim (torch, JAX) kept as given
    for name, value in zip(what.split(", "), (X, Y)):
        if not hasattr(value, "shape") or not hasattr(value, "ndim"):
            value = np.asarray(value)
        if value.ndim != 2:
            raise ValueError(f"{name}: expected a 2-d array (samples, features), got shape {tuple(value.shape)}")
        arrays.append(value)
    x, y = arrays
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what}: {x.shape[0]} samples in {what.split(', ')[0]} but {y.shape[0]} in {what.split(', ')[1]}")
    if x.shape[0] == 0:
        raise ValueError(f"{what}: no samples")
    return x, y


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of epoch ``epoch`` (0-based): its shuffle and its dropout seeds."""
    return np.random.default_rng((seed, epoch))


def batch_slices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray | slice]:
    """Index sets of one epoch's batches: a permutation from ``rng`` cut every ``batch_size`` (None: in order)."""
    if rng is None:
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
