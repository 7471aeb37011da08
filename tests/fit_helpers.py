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


def two_input_data(n: int = 21, seed: int = 8) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Inputs A (n×3), B (n×2) and targets tanh(A[:, :2] + B) and the 0/1 label [Σ A > 0], for two-input graphs."""
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    return (A, B), (np.tanh(A[:, :2] + B), (A.sum(axis=1, keepdims=True) > 0).astype(float))
