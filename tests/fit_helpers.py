"""Data and parameter comparisons shared by the tests of generated modules' ``fit`` (test_module_fit, test_module_metrics)."""

from __future__ import annotations

import numpy as np


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n rows of 3 normal features and the targets tanh(x₀ − x₂), tanh(x₁ − x₂)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.tanh(X[:, :2] - X[:, 2:])


def copy(params: dict) -> dict:
    """A deep copy of a parameter dict as numpy arrays."""
    return {k: np.array(v, copy=True) for k, v in params.items()}


def same_weights(a: dict, b: dict) -> bool:
    """The same names and, for each, the same bytes (bit-for-bit equality, NaN payloads and signed zeros included)."""
    return set(a) == set(b) and all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() for k in a)
