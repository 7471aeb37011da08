"""Checks of the plain arguments every numeric entry point takes: seeds and random generators, float dtypes, ranges.

One place for them, so every function answers the same bad input with the same one-line ``ValueError``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .excerpt import excerpt
from .numbers import finite_float, format_number

__all__ = ["FLOAT_DTYPES", "SeedLike", "drop_probability", "finite_float", "float_dtype", "generator", "non_negative_number",
           "number_in_range", "positive_int"]

FLOAT_DTYPES: tuple[str, ...] = ("float64", "float32")

#: What :func:`generator` takes, as ``numpy.random.default_rng`` does.
SeedLike = int | np.random.Generator | np.random.SeedSequence
#: What a seed may be, as error messages (and the generated numpy modules' ``init_params``) say it.
SEED_EXPECTED = "a non-negative integer seed, a numpy.random.Generator or a numpy.random.SeedSequence"


def generator(seed_or_rng: object, name: str = "seed") -> np.random.Generator:
    """A numpy Generator from what ``numpy.random.default_rng`` takes: a Generator (used as given, its state
    advanced), a non-negative integer seed or a ``numpy.random.SeedSequence``; anything else is a one-line ValueError."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, np.random.SeedSequence):
        return np.random.default_rng(seed_or_rng)
    if isinstance(seed_or_rng, bool) or not isinstance(seed_or_rng, numbers.Integral) or seed_or_rng < 0:
        raise ValueError(f"{name}: expected {SEED_EXPECTED}, got {excerpt(seed_or_rng)}")
    return np.random.default_rng(int(seed_or_rng))


def float_dtype(dtype: object) -> np.dtype:
    """float32 or float64 in native byte order (``'>f8'`` computes as float64); anything else is a ValueError."""
    try:
        found = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        found = None
    if found is None or found.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected one of {', '.join(FLOAT_DTYPES)}, got {excerpt(dtype)}")
    return np.dtype(found.name)


def positive_int(value: object, what: str) -> int:
    """``value`` as an int when it is a positive integer (numpy's too, not a bool), else a ValueError naming ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {excerpt(value)}")
    return int(value)


def non_negative_number(value: object, what: str) -> float:
    """``value`` as a float when it is a finite real number ≥ 0 (numpy's too, not a bool), else a ValueError naming ``what``."""
    x = finite_float(value)
    if x is None or x < 0:
        raise ValueError(f"{what} must be a finite number ≥ 0, got {excerpt(value)}")
    return x


def number_in_range(name: str, value: object, low: float, high: float | None) -> float:
    """``value`` as a float in (low, high] (or (low, ∞)), else a ValueError naming the range."""
    x = finite_float(value)
    if x is not None and x > low and (high is None or x <= high):
        return x
    accepted = f"a number in ({format_number(low, 'g')}, {format_number(high, 'g')}]" if high is not None else f"a finite number > {format_number(low, 'g')}"
    raise ValueError(f"{name}: expected {accepted}, got {excerpt(value)}")


def drop_probability(value: object) -> float:
    """``value`` as dropout's drop probability p ∈ [0, 1) (PyTorch's ``Dropout(p)``, Keras' ``rate``), else a ValueError."""
    x = finite_float(value)
    if x is not None and 0.0 <= x < 1.0:
        return x
    raise ValueError(f"dropout: expected the drop probability p, a number in [0, 1) (0.2 drops 20 % of units), got {excerpt(value)}")
