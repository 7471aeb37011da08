"""Mini-batches of an epoch: the sample order from ``numpy.random.default_rng((seed, epoch))``, cut into slices.

Epoch e's order depends only on (seed, e), not on the epochs before it, so
training resumed at ``initial_epoch`` sees the batches an uninterrupted run
would have seen. The last batch keeps what is left (n mod batch_size samples),
as Keras does. A model with several inputs or targets takes a tuple of
arrays on each side; every array is cut at the same rows.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..excerpt import excerpt

__all__ = ["MASK_SEED_BOUND", "Data", "batch_slices", "check_data", "check_positive", "epoch_rng", "sample_count", "take"]

#: A training step's mask seed is drawn from the epoch's generator as ``rng.integers(MASK_SEED_BOUND)``.
MASK_SEED_BOUND = 2**31 - 1

#: One array (samples, features), or a tuple of them with the same number of rows (a model with several inputs).
Data = Any


def check_positive(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {excerpt(value)}")
    return int(value)


def _array(value: object, name: str) -> Any:
    if not hasattr(value, "shape") or not hasattr(value, "ndim"):
        value = np.asarray(value)
    if value.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d array (samples, features), got shape {tuple(value.shape)}")
    # every row before the first step (a numpy array; a framework's tensor is its module's to check, batch by batch):
    # a NaN in a later batch stopped fit there, params already stepped, or fit after its first epoch (validation)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        i, j = np.argwhere(~np.isfinite(value))[0]
        raise ValueError(f"{name}[{i}, {j}] is {value[i, j]}; expected finite numbers")
    return value


def check_data(X: object, Y: object, what: str = "X, Y", names: tuple[Sequence[str], Sequence[str]] | None = None) -> tuple[Data, Data]:
    """(X, Y) with one row per sample and the same number of rows in every array, else one ValueError line.

    Each side is one array, or a tuple of arrays (a model with several inputs
    or targets), named in errors by ``names`` (``X['X2']``) or by position.
    """
    labels = what.split(", ")
    checked: list[Data] = []
    named: list[tuple[str, Any]] = []
    for k, (label, value) in enumerate(zip(labels, (X, Y))):
        if isinstance(value, tuple):
            keys = names[k] if names is not None else range(len(value))
            arrays = tuple(_array(v, f"{label}[{key!r}]") for key, v in zip(keys, value))
            named += [(f"{label}[{key!r}]", a) for key, a in zip(keys, arrays)]
            checked.append(arrays)
        else:
            checked.append(_array(value, label))
            named.append((label, checked[-1]))
    (first, a), *rest = named
    for name, b in rest:
        if b.shape[0] != a.shape[0]:
            raise ValueError(f"{what}: {a.shape[0]} samples in {first} but {b.shape[0]} in {name}")
    if a.shape[0] == 0:
        raise ValueError(f"{what}: no samples")
    return checked[0], checked[1]


def sample_count(data: Data) -> int:
    """The number of samples (rows) of one array or of a tuple of arrays."""
    return (data[0] if isinstance(data, tuple) else data).shape[0]


def take(data: Data, rows: np.ndarray | slice) -> Data:
    """The rows ``rows`` of one array, or of every array of a tuple (the same rows in each)."""
    return tuple(a[rows] for a in data) if isinstance(data, tuple) else data[rows]


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of epoch ``epoch`` (0-based): its shuffle and its dropout seeds."""
    return np.random.default_rng((seed, epoch))


def batch_slices(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray | slice]:
    """Index sets of one epoch's batches: a permutation from ``rng`` cut every ``batch_size`` (None: in order)."""
    if rng is None:
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
