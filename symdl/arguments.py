"""Checks of the plain arguments every numeric entry point takes: seeds and random generators, float dtypes.

One place for them, so every function answers the same bad input with the same one-line ``ValueError``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["FLOAT_DTYPES", "float_dtype", "generator"]

FLOAT_DTYPES: tuple[str, ...] = ("float64", "float32")


def generator(seed_or_rng: object, name: str = "seed") -> np.random.Generator:
    """A numpy Generator as given, or ``numpy.random.default_rng(seed)`` for a non-negative integer seed."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, bool) or not isinstance(seed_or_rng, numbers.Integral) or seed_or_rng < 0:
        raise ValueError(f"{name}: expected a numpy Generator or a non-negative integer seed, got {seed_or_rng!r}")
    return np.random.default_rng(int(seed_or_rng))


def float_dtype(dtype: object) -> np.dtype:
    """float32 or float64 in native byte order (``'>f8'`` computes as float64); anything else is a ValueError."""
    try:
        found = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        found = None
    if found is None or found.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected one of {', '.join(FLOAT_DTYPES)}, got {dtype!r}")
    return np.dtype(found.name)
