"""symdl.testing: finite-difference steps, central differences, references, error measure, stability checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symdl import testing

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)

# eps^(1/3) for the binary formats, from their definitions (eps = 2^-52, 2^-23).
CUBE_ROOT_EPS = {np.float64: 2.0 ** (-52 / 3), np.float32: 2.0 ** (-23 / 3)}


# --- fd_step ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fd_step_values(dtype):
    points = np.array([0.0, 0.5, -1.0, 1.0, 2.0, -100.0, 1e6], dtype=dtype)
    step = testing.fd_step(points)
    expected = CUBE_ROOT_EPS[dtype] * np.maximum(1.0, np.abs(points.astype(np.float64)))
    np.testing.assert_allclose(step.astype(np.float64), expected, rtol=1e-6)
    assert np.all(step > 0)


def test_fd_step_magnitudes_are_the_cube_root_of_eps():
    # central differences balance truncation h² against rounding eps/h: best step ≈ eps^(1/3), 6e-6 in float64, 5e-3 in float32
    assert 5e-6 < float(testing.fd_step(np.float64(0.3))) < 7e-6
    assert 4e-3 < float(testing.fd_step(np.float32(0.3))) < 6e-3


# --- central_difference ---------------------------------------------------------------------

KNOWN = {
    "sin": (np.sin, np.cos),
    "exp": (np.exp, np.exp),
    "cube": (lambda t: t**3, lambda t: 3 * t**2),
    "tanh": (np.tanh, lambda t: 1 / np.cosh(t) ** 2),
    "atan": (np.arctan, lambda t: 1 / (1 + t**2)),
}


@pytest.mark.parametrize("name", list(KNOWN))
@given(t=st.floats(-5, 5, allow_nan=False, allow_infinity=False))
def test_central_difference_float64(name, t):
    f, df = KNOWN[name]
    t = np.float64(t)
    got = testing.central_difference(f, [t])
    assert abs(got - df(t)) <= 1e-9 * max(1.0, abs(df(t)))


@pytest.mark.parametrize("name", list(KNOWN))
@given(t=st.floats(-5, 5, allow_nan=False, allow_infinity=False, width=32))
def test_central_difference_float32(name, t):
    f, df = KNOWN[name]
    t = np.float32(t)
    got = testing.central_difference(f, [t])
    exact = df(np.float64(t))
    assert abs(float(got) - exact) <= 2e-3 * max(1.0, abs(exact))


@given(
    a=st.floats(-3, 3, allow_nan=False, allow_infinity=False),
    b=st.floats(-3, 3, allow_nan=False, allow_infinity=False),
)
def test_central_difference_by_the_second_argument(a, b):
    def f(u, v):
        return u * v**2 + np.sin(v)

    got = testing.central_difference(f, [np.float64(a), np.float64(b)], index=1)
    assert abs(got - (2 * a * b + np.cos(b))) <= 1e-8 * max(1.0, abs(2 * a * b + np.cos(b)))


def test_central_difference_is_elementwise_over_arrays():
    t = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(testing.central_difference(np.sin, [t]), np.cos(t), rtol=1e-9, atol=1e-10)


def test_central_difference_with_explicit_step():
    t = np.array([0.7])
    coarse = testing.central_difference(np.exp, [t], h=np.array([0.1]))
    # (e^{x+h} − e^{x−h}) / 2h = e^x sinh(h)/h exactly
    np.testing.assert_allclose(coarse, np.exp(0.7) * np.sinh(0.1) / 0.1, rtol=1e-12)


# --- mpmath_reference ---------------------------------------------------------------------


def test_mpmath_reference_beats_float64_where_float64_cancels():
    got = testing.mpmath_reference(sp.log(1 + sp.exp(x)) - x, [x], [np.array([40.0, 0.0])])
    # log(1 + e^40) − 40 = log1p(e^−40)
    np.testing.assert_allclose(got, [math.log1p(math.exp(-40.0)), math.log(2.0)], rtol=1e-15)


def test_mpmath_reference_takes_the_binary_value_of_the_input():
    got = testing.mpmath_reference(x * 10 - 1, [x], [np.array([0.1])])
    # 0.1 is 0.1000000000000000055511151231257827 in binary: 10·x − 1 ≈ 5.55e-17, not 0
    assert got[0] == pytest.approx(5.551115123125783e-17, rel=1e-12, abs=0)


def test_mpmath_reference_does_not_depend_on_the_callers_mpmath_precision():
    import mpmath

    values = np.array([0.1 + 1e-9, 1.2345678901])
    want = testing.mpmath_reference(x, [x], [values])
    with mpmath.workdps(5):  # the caller's context: the inputs are still taken as the doubles they are
        got = testing.mpmath_reference(x, [x], [values])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, values)


def test_mpmath_reference_broadcasts_two_inputs():
    got = testing.mpmath_reference(x - y, [x, y], [np.array([[1.0], [2.0]]), np.array([0.5, 0.25, 0.0])])
    np.testing.assert_array_equal(got, [[0.5, 0.75, 1.0], [1.5, 1.75, 2.0]])


@pytest.mark.parametrize("tiny", [1e-60])
def test_mpmath_reference_of_cancelling_expression_at_tiny_input(tiny):
    """A reference must be right to float64 precision; e^x − 1 at x = 1e-60 is 1e-60, not 0."""
    got = testing.mpmath_reference(sp.exp(x) - 1, [x], [np.array([tiny])])
    assert got[0] == pytest.approx(tiny, rel=1e-15, abs=0)


def test_mpmath_reference_sees_a_term_absorbed_at_every_starting_precision():
    """1 + e⁻⁵⁰⁰ is 1 below 218 digits, so log(1 + e⁻⁵⁰⁰) was 0 at 50 and 100 digits: now 7.1e-218."""
    got = testing.mpmath_reference(sp.log(1 + sp.exp(x)), [x], [np.array([-500.0])])
    assert got[0] == pytest.approx(math.log1p(math.exp(-500.0)), rel=1e-15, abs=0)
    with np.errstate(all="ignore"):
        naive = np.log(1 + np.exp(np.array([-500.0])))  # the loss the agreement check is there to catch
    assert testing.relative_error(naive, got)[0] > 0.5


@given(st.floats(min_value=-700.0, max_value=-40.0))
def test_mpmath_reference_of_softplus_far_left_is_log1p_of_exp(v):
    got = testing.mpmath_reference(sp.log(1 + sp.exp(x)), [x], [np.array([v])])
    assert got[0] == pytest.approx(math.log1p(math.exp(v)), rel=1e-15, abs=0)


def test_mpmath_reference_keeps_true_zeros():
    got = testing.mpmath_reference(sp.Max(x, 0) * (1 + sp.exp(x)), [x], [np.array([-3.0, -1000.0, 0.0, 2.0])])
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 2.0 * (1 + math.exp(2.0))])


#: An error bound of the kind symdl.verify.vector_rules sums: |term|·(1 + |u|) for factors e^u, far out of float range.
MAGNITUDES = (sp.Abs(x) * sp.exp(x) * (1 + sp.Abs(x)) + sp.Abs(x * y**3) / (1 + sp.exp(x - y))
              + sp.exp(-y) * sp.Abs(y) / (sp.exp(x) + sp.exp(y)) + sp.Abs(sp.log(1 + sp.exp(2 * y))))


@given(st.floats(-1000.0, 1000.0), st.floats(-1000.0, 1000.0))
def test_mpmath_reference_of_magnitudes_is_the_converged_value(u, w):
    """One 30-digit evaluation of a sum of magnitudes gives the converged reference to float64 precision."""
    args = [np.array([u, -u, 0.0, 1e-300]), np.array([w, 1000.0, -1000.0, -w])]
    converged = testing.mpmath_reference(MAGNITUDES, [x, y], args)
    once = testing.mpmath_reference(MAGNITUDES, [x, y], args, dps=30, magnitudes=True)
    np.testing.assert_allclose(once, converged, rtol=4e-16, atol=0)


def test_mpmath_reference_of_magnitudes_evaluates_each_point_once(monkeypatch):
    """magnitudes=True skips the convergence loop (one evaluation at dps digits) but still confirms a zero."""
    used = []  # the digits of each evaluation of the expression, point by point
    function = testing._mpmath_function

    def counted(*args, **kwargs):
        evaluate = function(*args, **kwargs)
        return lambda *point: used.append(testing.mpmath.mp.dps) or evaluate(*point)

    monkeypatch.setattr(testing, "_mpmath_function", counted)
    testing.mpmath_reference(MAGNITUDES, [x, y], [np.array([-3.0, 700.0]), np.array([2.0, -1.5])], dps=30, magnitudes=True)
    assert used == [30, 30]
    used.clear()
    testing.mpmath_reference(MAGNITUDES, [x, y], [np.array([-3.0]), np.array([2.0])])
    assert used == [50, 100]  # the converged reference: two evaluations that agree
    used.clear()
    # |log(1 + e^{2y})| at y = −250 is 0 at 30 digits but 7.1e-218: the zero is evaluated again, as without the option.
    got = testing.mpmath_reference(sp.Abs(sp.log(1 + sp.exp(2 * y))), [y], [np.array([-250.0])], dps=30, magnitudes=True)
    assert got[0] == pytest.approx(math.log1p(math.exp(-500.0)), rel=1e-15, abs=0)
    assert used[0] == 30 and len(used) > 1


def test_mpmath_reference_names_the_first_point_that_does_not_converge():
    """sin(e^(e^x)) needs about e^x/2.3 digits at large x: no two precisions up to 800 agree, and the error names the
    first such point of the array (the points are evaluated together, precision by precision)."""
    wild = sp.sin(sp.exp(sp.exp(x)))
    assert np.isfinite(testing.mpmath_reference(wild, [x], [np.array([0.5, 1.0])])).all()
    with pytest.raises(ArithmeticError, match=r"no 800-digit agreement at \[10\.0\]"):
        testing.mpmath_reference(wild, [x], [np.array([0.5, 10.0, 12.0, 11.0])])


# --- relative_error -------------------------------------------------------------------------


def test_relative_error_basic():
    err = testing.relative_error(np.array([1.0, 2.0, -3.0]), np.array([1.0, 2.5, -3.0]))
    np.testing.assert_allclose(err, [0.0, 0.2, 0.0])


def test_relative_error_with_zeros():
    assert testing.relative_error(np.array([0.0]), np.array([0.0]))[0] == 0.0
    assert testing.relative_error(np.array([-0.0]), np.array([0.0]))[0] == 0.0
    assert testing.relative_error(np.array([0.0]), np.array([1.0]))[0] == 1.0
    # Zero where the reference is a tiny normal number: a complete miss, relative error 1.
    assert testing.relative_error(np.array([0.0]), np.array([1e-300]))[0] == pytest.approx(1.0)
    # Nonzero where the reference is exactly zero: a huge relative error, not 0.
    assert testing.relative_error(np.array([1e-3]), np.array([0.0]))[0] > 1e100


def test_relative_error_ignores_underflow_below_the_smallest_normal():
    # float32 output that underflowed to 0 where the true value is 1e-50: both are "zero" in float32.
    assert testing.relative_error(np.array([0.0], dtype=np.float32), np.array([1e-50]))[0] == 0.0


def test_relative_error_of_a_wildly_wrong_value_is_reported_not_raised():
    """Used inside tests (where numpy overflow raises): a result of 1e300 against 0 is an error to report."""
    err = testing.relative_error(np.array([1e300, 1.0]), np.array([0.0, 1.0]))
    assert err[0] > 1e100 and err[1] == 0.0


def test_relative_error_keeps_nan_visible():
    err = testing.relative_error(np.array([np.nan]), np.array([1.0]))
    assert not err[0] <= 1e-13  # a NaN result must never pass a tolerance check


# --- stability_grid ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stability_grid_contents(dtype):
    grid = testing.stability_grid(np.dtype(dtype))
    assert grid.dtype == dtype
    assert np.all(np.diff(grid) > 0), "sorted and without duplicates"
    assert grid[0] == -1000 and grid[-1] == 1000
    assert 0.0 in grid
    log_max = math.log(float(np.finfo(dtype).max))  # where e^x overflows
    for sign in (1, -1):
        edge = sign * grid
        assert np.any((edge < log_max) & (edge > log_max - 2)), "a point just below the overflow edge"
        assert np.any((edge > log_max) & (edge < log_max + 2)), "a point just above the overflow edge"
    # Both overflow edges, for either precision, are in every grid.
    for edge in (88.72, 709.78):
        assert np.any(np.abs(grid - edge) < 1.5) and np.any(np.abs(grid + edge) < 1.5)
    assert np.any((grid > 0) & (grid < 1e-6)), "tiny positive inputs"


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-5.0, 88.5), (-1000.0, 709.0)])
def test_stability_grid_respects_its_bounds(low, high):
    grid = testing.stability_grid(np.dtype(np.float64), low, high)
    assert grid.min() == low and grid.max() == high
    assert len(grid) > 50


# --- unstable_points ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unstable_points_catches_naive_softplus(dtype):
    grid = testing.stability_grid(np.dtype(dtype))
    count, first = testing.unstable_points(lambda t: np.log(np.exp(t) + 1), [grid])
    assert count != 0
    assert "overflow" in first


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unstable_points_accepts_logaddexp(dtype):
    grid = testing.stability_grid(np.dtype(dtype))
    assert testing.unstable_points(lambda t: np.logaddexp(0, t), [grid]) == (0, "")


def test_unstable_points_counts_non_finite_results():
    grid = np.array([-1.0, 0.0, 1.0, 2.0])
    count, first = testing.unstable_points(lambda t: np.where(t > 0.5, np.inf, t), [grid])
    assert count == 2
    assert "1.0" in first


def test_unstable_points_over_two_grids():
    grids = [np.array([-1.0, 0.0, 1.0]), np.array([0.0, 2.0])]
    assert testing.unstable_points(lambda a, b: a * b, grids) == (0, "")
    count, _ = testing.unstable_points(lambda a, b: np.where(b == 0, np.nan, a / np.where(b == 0, 1, b)), grids)
    assert count == 3


def test_unstable_points_catches_invalid_and_divide():
    grid = np.array([-1.0, 0.0, 1.0])
    assert testing.unstable_points(lambda t: np.sqrt(t), [grid])[0] != 0
    assert testing.unstable_points(lambda t: 1 / t, [grid])[0] != 0


# --- sample_points, constants ----------------------------------------------------------------


def test_sample_points_respect_ranges_and_labels():
    rng = np.random.default_rng(0)
    a, b, c = testing.sample_points(rng, [x, y, sp.Symbol("w")], 500, ranges={y: (0.0, 1.0)}, labels={x: (0.0, 1.0)})
    assert set(np.unique(a)) == {0.0, 1.0}
    assert b.min() >= 0.0 and b.max() <= 1.0
    assert c.min() >= -40.0 and c.max() <= 40.0 and c.std() > 5
    assert a.dtype == b.dtype == c.dtype == np.float64


def test_accuracy_constants_match_the_specification():
    assert testing.ACCURACY_RTOL[np.dtype(np.float64)] == 1e-13
    assert testing.ACCURACY_RTOL[np.dtype(np.float32)] == 1e-5
    assert testing.STABILITY_LIMIT == 1000.0
