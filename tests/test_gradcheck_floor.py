"""check_grad's rounding floor when f is a sum that cancels: f returns its terms, the floor uses Σ|terms|."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.testing import assert_grad_close, check_grad


def cancelling_terms(scale: float):
    """Terms (c·cos v₀, −c·cos v₀ + sin v₀ + v₁²): their sum sin v₀ + v₁² is O(1) while each term is O(c)."""
    return lambda v: np.array([scale * np.cos(v[0]), -scale * np.cos(v[0]) + np.sin(v[0]) + v[1] ** 2])


def gradient(v: np.ndarray) -> np.ndarray:
    return np.array([np.cos(v[0]), 2 * v[1]])


@settings(deadline=None, max_examples=30)
@given(
    scale=st.floats(1e6, 1e9),
    x=st.tuples(st.floats(-3, 3), st.floats(-3, 3)).map(np.array),
    mode=st.sampled_from(["directions", "coordinates"]),
)
def test_a_sum_that_cancels_passes_when_f_returns_its_terms_and_a_wrong_gradient_still_fails(scale, x, mode):
    terms = cancelling_terms(scale)
    assert_grad_close(terms, gradient, x, mode=mode)
    wrong = check_grad(terms, lambda v: gradient(v) + np.array([0.5, 0.0]), x, mode=mode)
    assert not wrong.passed, wrong


def test_the_floor_uses_the_size_of_the_terms_not_of_their_sum():
    # Summed to a float, the rounding of the O(1e9) terms (ulp 1.2e-7, over a step of 7e-4) is blamed on the
    # gradient: the floor eps·|f|/h allows 2e-12 where the finite difference is off by about 1e-4.
    x = np.array([0.3, 0.7])
    terms = cancelling_terms(1e9)
    summed = check_grad(lambda v: float(np.sum(terms(v))), gradient, x)
    assert not summed.passed and summed.rounding_floor < 1e-9
    split = check_grad(terms, gradient, x)
    assert split.passed, split
    size = max(math.fsum(np.abs(terms(x + s * np.array([1.0, 1.0])))) for s in (-1e-3, 0.0, 1e-3))
    assert split.rounding_floor >= 8 * np.finfo(np.float64).eps * 0.99 * size / split.step


def test_terms_are_added_exactly():
    # 1e16 + 1 − 1e16 is 0 in float64 summation, 1 with fsum: f = v₀·(that) has derivative 1, not 0.
    f = lambda v: np.array([1e16, v[0], -1e16])  # noqa: E731
    report = check_grad(f, lambda v: np.array([1.0]), np.array([2.0]), mode="coordinates")
    assert report.passed and abs(report.numeric - 1.0) < 1e-6, report
