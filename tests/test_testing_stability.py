"""symdl.testing's stability grid, unstable_points under any numpy error state, sample_points, held differences, the
reference's mask and non-real points, and relative_error's edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symdl import testing
from symdl.codegen.kernel import compile_kernel
from symdl.symbolic.stop_gradient import stop_gradient

x, y = sp.symbols("x y", real=True)


@pytest.mark.parametrize(("dtype", "edge"), [(np.float32, math.log(float(np.finfo(np.float32).max))),
                                             (np.float64, math.log(float(np.finfo(np.float64).max)))])
def test_the_grid_brackets_where_exp_overflows_within_one_on_each_side(dtype, edge):
    """exp overflows past 88.72 in float32 and past 709.78 in float64: a point within 1 below and above, both signs."""
    grid = testing.stability_grid(np.dtype(dtype)).astype(np.float64)
    for sign in (1, -1):
        assert np.any((sign * grid < edge) & (sign * grid > edge - 1))
        assert np.any((sign * grid > edge) & (sign * grid < edge + 1))


def test_the_grid_holds_inputs_whose_square_underflows_in_float32():
    """x² of |x| < 1e-19 is below float32's smallest normal number: naive code dividing by it meets 0."""
    for dtype in (np.float32, np.float64):
        grid = testing.stability_grid(np.dtype(dtype)).astype(np.float64)
        tiny = grid[(grid != 0) & (np.abs(grid) < math.sqrt(float(np.finfo(np.float32).tiny)))]
        assert len(tiny) >= 2 and np.any(tiny > 0) and np.any(tiny < 0)


@pytest.mark.parametrize(("low", "high"), [(-1000.0, 1000.0), (0.0, 1.0), (-5.0, 88.5)])
def test_between_the_edges_the_range_is_covered_every_hundredth_of_its_width(low, high):
    grid = testing.stability_grid(np.dtype(np.float64), low, high)
    assert grid[0] == low and grid[-1] == high
    assert 0.0 in grid if low <= 0 <= high else 0.0 not in grid  # zero, off the even spacing of [-5, 88.5]
    assert np.max(np.diff(grid)) <= (high - low) / 100 * (1 + 1e-12)


@pytest.mark.parametrize(("kernel", "grid", "problem"), [
    (lambda t: np.log(np.exp(t) + 1), np.array([0.0, 1000.0]), "overflow encountered in exp"),
    (lambda t: 1 / t, np.array([-1.0, 0.0, 1.0]), "divide by zero encountered in divide"),
    (lambda t: np.sqrt(t), np.array([-1.0, 0.0, 1.0]), "invalid value encountered in sqrt"),
])
@pytest.mark.parametrize("state", ["ignore", "warn", "raise"])
def test_numpy_errors_are_caught_whatever_the_callers_error_state(kernel, grid, problem, state):
    """Outside pytest numpy only warns by default; the check must not depend on that (the count is then −1)."""
    with np.errstate(all=state):
        assert testing.unstable_points(kernel, [grid]) == (-1, f"numpy floating-point error: {problem}")


def test_underflow_is_no_instability_even_where_the_caller_raises_on_it():
    with np.errstate(all="raise"):
        assert testing.unstable_points(np.exp, [np.array([-1000.0, 0.0])]) == (0, "")


def test_the_first_non_finite_result_is_named_in_the_grids_order_or_as_reduced():
    grids = [np.array([-1.0, 0.0, 1.0]), np.array([0.0, 2.0])]

    def bad_at_two_points(a, b):
        return np.where(((a == -1) & (b == 2)) | ((a == 1) & (b == 0)), np.inf, 0.0)

    count, first = testing.unstable_points(bad_at_two_points, grids)
    assert count == 2 and first == f"non-finite result at {(np.float64(-1.0), np.float64(2.0))}"
    assert testing.unstable_points(lambda t: np.full(1, np.inf), grids[:1]) == (1, "non-finite result at (reduced)")


def test_sample_points_are_float64_from_integer_labels_and_within_any_range():
    rng = np.random.default_rng(0)
    labels, ranged = testing.sample_points(rng, [x, y], 400, ranges={y: (2.0, 3.0)}, labels={x: [0, 1]})
    assert labels.dtype == np.float64 and set(np.unique(labels)) == {0.0, 1.0}
    assert ranged.dtype == np.float64 and 2.0 <= ranged.min() and ranged.max() <= 3.0 and ranged.max() - ranged.min() > 0.9


def test_held_central_difference_by_the_second_argument():
    """d/dy of x·y + y·sg(x·y) is x + x·y held: the stopped factor is fixed at its value, y moves everywhere else."""
    a, b = np.array([0.5, -2.0, 3.0]), np.array([1.5, 0.25, -1.0])
    expr = x * y + y * stop_gradient(x * y)
    got = testing.held_central_difference(expr, [x, y], [a, b], index=1)
    np.testing.assert_allclose(got, a + a * b, rtol=1e-8)
    np.testing.assert_allclose(testing.held_central_difference(expr, [x, y], [a, b], index=0), b, rtol=1e-8)


@pytest.mark.parametrize("index", [True, 1.0, -1, 2])
def test_central_difference_takes_only_an_integer_index_of_an_argument(index):
    """True and 1.0 are not argument numbers (True once differentiated by the second argument)."""
    args = [np.array([0.5]), np.array([1.5])]
    with pytest.raises(ValueError, match=rf"^central_difference: index {index!r} is not an argument; 2 given$"):
        testing.central_difference(lambda a, b: a * b, args, index)


def test_a_given_step_is_taken_in_the_dtype_of_x():
    """x ± h in float32 for a float32 x: the difference is divided by the float32 values' own distance."""
    t = np.array([0.7, -1.3], dtype=np.float32)
    got = testing.central_difference(np.exp, [t], h=0.01)
    upper, lower = t + np.float32(0.01), t - np.float32(0.01)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, (np.exp(upper) - np.exp(lower)) / (upper - lower))


def test_input_sensitivity_differences_in_float64_whatever_the_dtype_of_the_values():
    """Σᵢ|xᵢ ∂f/∂xᵢ| of x·e^y: float32 values are read as the float64 numbers they are."""
    kernel = compile_kernel(x * sp.exp(y), [x, y], "f")
    a32, b32 = np.array([0.3, -2.5], dtype=np.float32), np.array([1.25, -0.5], dtype=np.float32)
    a, b = a32.astype(np.float64), b32.astype(np.float64)
    got = testing.input_sensitivity(kernel, [a32, b32])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, testing.input_sensitivity(kernel, [a, b]))
    np.testing.assert_allclose(got, np.abs(a * np.exp(b)) + np.abs(b * a * np.exp(b)), rtol=1e-6)


def test_the_reference_is_nan_outside_where_and_where_the_expression_is_not_real():
    """log(x) at (−1, 2, 3) with the middle point masked out: log(−1) is not real, 2 is not evaluated."""
    got = testing.mpmath_reference(sp.log(x), [x], [np.array([-1.0, 2.0, 3.0])], where=np.array([True, False, True]))
    assert np.isnan(got[0]) and np.isnan(got[1]) and got[2] == math.log(3.0)
    roots = testing.mpmath_reference(sp.sqrt(x), [x], [np.array([-1.0, -4.0, 4.0, 9.0])])
    assert np.isnan(roots[0]) and np.isnan(roots[1]) and list(roots[2:]) == [2.0, 3.0]


def test_a_complex_intermediate_with_a_real_value_is_that_value():
    """(√x)² at x = −4 is (2i)² = −4: real, though mpmath computes it as a complex number."""
    squared = sp.Pow(sp.sqrt(x), 2, evaluate=False)
    assert list(testing.mpmath_reference(squared, [x], [np.array([-4.0, 4.0])])) == [-4.0, 4.0]


def test_relative_error_of_integer_values_uses_float64_limits():
    assert list(testing.relative_error(np.array([1, 2]), np.array([1.0, 2.5]))) == [0.0, 0.2]
    tiny = float(np.finfo(np.float64).tiny)
    assert testing.relative_error(np.array([0]), np.array([tiny]))[0] == 0.0  # |diff| at most tiny: no error


def test_relative_error_never_raises_whatever_the_error_state():
    """inf against an inf reference is inf − inf (numpy's invalid): NaN, reported, not raised."""
    with np.errstate(all="raise"):
        got = testing.relative_error(np.array([np.inf, 1e308]), np.array([np.inf, -1e308]))
    assert np.isnan(got[0]) and got[1] == np.inf


def test_a_value_first_found_at_800_digits_is_confirmed_at_1600():
    """eˣ·log(1 + e⁻ˣ) → 1 needs e⁻ˣ beside 1: 0 up to 400 digits at x = 1500 (e⁻¹⁵⁰⁰ ≈ 10⁻⁶⁵¹), 1 at 800, the same at
    1600; at x = 1820 (10⁻⁷⁹⁰) the 800-digit value keeps a few digits only, so 1600 digits disagree: refused."""
    tail = sp.exp(x) * sp.log(1 + sp.exp(-x))
    assert list(testing.mpmath_reference(tail, [x], [np.array([1500.0])])) == [1.0]
    with pytest.raises(ArithmeticError, match=r"^no 1600-digit agreement at \[1820\.0\]: the expression cancels too much"):
        testing.mpmath_reference(tail, [x], [np.array([1820.0])])


TAIL = sp.exp(x) * sp.log(1 + sp.exp(-x))  # → 1; 0 wherever 1 + e⁻ˣ rounds to 1


@given(st.floats(1850.0, 3500.0), st.booleans())
def test_a_zero_at_800_digits_among_huge_terms_is_cancellation_and_1600_digits_resolve_it(v, magnitudes):
    """At x ≥ 1843 e⁻ˣ < 10⁻⁸⁰⁰, so eˣ·log(1 + e⁻ˣ) is 0 at 50 … 800 digits; its terms reach eˣ, and it is 1."""
    assert list(testing.mpmath_reference(TAIL, [x], [np.array([v])], magnitudes=magnitudes)) == [1.0]


@given(st.floats(1850.0, 3500.0))
def test_a_branch_chosen_by_a_cancelled_zero_is_no_zero(v):
    """log(1 + e⁻ˣ) ≤ y is true at y = 0 up to 800 digits at x ≥ 1843, and picks the branch 0: the condition's
    sides count in the scale, so 1600 digits choose the other branch, (log(1 + e⁻ˣ) − y)·eˣ = 1."""
    tail = sp.log(1 + sp.exp(-x))
    relu_tail = sp.Piecewise((0, tail <= y), (tail - y, True)) * sp.exp(x)
    assert list(testing.mpmath_reference(relu_tail, [x, y], [np.array([v]), np.array([0.0])])) == [1.0]
    assert list(testing.mpmath_reference(sp.Max(y, tail) * sp.exp(x), [x, y], [np.array([v]), np.array([0.0])])) == [1.0]


@given(st.floats(3700.0, 1e6))
def test_a_zero_that_1600_digits_cannot_resolve_is_refused_naming_the_point(v):
    with pytest.raises(ArithmeticError) as refused:
        testing.mpmath_reference(TAIL, [x], [np.array([1.0, v, 2.0 * v])])
    message = str(refused.value)
    assert message.startswith(f"no trustworthy value at [{v!r}]: 0 at 800 digits and ") and "\n" not in message
    assert message.endswith(" (cancellation, not a zero)") and " at 1600, where its terms reach " in message


@given(st.floats(-1000.0, 1000.0))
def test_exact_zeros_stay_zeros_beside_large_terms(v):
    """x − y at x = y, sin(0) and max(x, 0) at x ≤ 0 are 0 at every precision: zeros, whatever the other factor."""
    at = [np.array([v]), np.array([v])]
    assert list(testing.mpmath_reference((x - y) * sp.exp(x), [x, y], at)) == [0.0]
    assert list(testing.mpmath_reference(sp.sin(x - y) * sp.exp(y), [x, y], at)) == [0.0]
    low = np.array([-abs(v)])  # e⁻²ˣ reaches 10⁸⁶⁸: past 530 a zero is judged at 1600 digits
    assert list(testing.mpmath_reference(sp.Max(x, 0) * sp.exp(-2 * x), [x], [low])) == [0.0]
    relu = sp.Piecewise((0, x <= 0), (x, True))
    assert list(testing.mpmath_reference(relu * sp.exp(-2 * x), [x], [low])) == [0.0]
    assert list(testing.mpmath_reference(sp.Max(x, 0) * sp.exp(-2 * x), [x], [low], magnitudes=True)) == [0.0]


@given(st.floats(-1000.0, -1.0), st.booleans())
def test_a_product_with_an_exactly_zero_factor_is_zero_beside_a_huge_finite_one(v, magnitudes):
    """max(0, x)·e^(e⁻ˣ) at x = −40: e^(e⁴⁰) ≈ 10^(10¹⁷) puts the scale far past what 1600 digits resolve, but
    max(0, −40) is exactly 0 and e^(e⁴⁰) is finite: 0, not a refusal. A factor that is 0 only at 800 digits
    (max(0, log(1 + e⁻ˣ)) at x ≥ 1843) or another factor that is not finite is no exact zero."""
    huge = sp.exp(sp.exp(-x))
    relu = sp.Piecewise((0, x <= 0), (x, True))
    for zero in (sp.Max(0, x), relu, x - y, sp.sin(sp.pi * (x - y))):
        got = testing.mpmath_reference(zero * huge, [x, y], [np.array([v]), np.array([v])], magnitudes=magnitudes)
        assert list(got) == [0.0], zero
    tail = sp.Max(0, sp.log(1 + sp.exp(-x))) * sp.exp(x)
    assert list(testing.mpmath_reference(tail, [x], [np.array([-v + 1850.0])], magnitudes=magnitudes)) == [1.0]


def test_an_exact_zero_needs_every_other_factor_finite_and_no_float_constant():
    zero, at = sp.Max(0, x), [-40.0, 0.0]
    assert testing._exact_zero_product(zero * sp.exp(sp.exp(-x)), (x, y), at)
    assert not testing._exact_zero_product(zero * sp.exp(sp.exp(-x)) / y, (x, y), at)  # 0/0
    assert not testing._exact_zero_product(zero * sp.exp(sp.exp(-x)), (x, y), [1.0, 0.0])
    rounded = sp.Max(0, sp.Float(1.0) + sp.Float(1e-30) * sp.exp(-x) - 1)  # 1e-30·e⁴⁰ > 0, its Float sum rounds to 0
    assert not testing._exact_zero_product(rounded * sp.exp(sp.exp(-x)), (x, y), at)
    assert not testing._exact_zero_product(sp.log(1 + sp.exp(-x)) * sp.exp(x), (x, y), [2000.0, 0.0])
    # SymPy picks the branch 0 here (it decides log(1 + e⁻²⁰⁰⁰) ≤ 0 by a few digits): not an exact comparison
    cancelled = sp.Piecewise((0, sp.log(1 + sp.exp(-x)) <= y), (sp.log(1 + sp.exp(-x)) - y, True))
    assert not testing._exact_zero_product(cancelled * sp.exp(x), (x, y), [2000.0, 0.0])
    assert not testing._exact_zero_product(sp.Max(y, sp.log(1 + sp.exp(-x))) * sp.exp(x), (x, y), [2000.0, 0.0])


def test_input_sensitivity_of_large_inputs_and_of_overflowing_points():
    """The step is relative (1e-7·|x|), so x = 1e6 is measured too; a point where f overflows counts 0, not raised."""
    kernel = compile_kernel(x * sp.exp(y), [x, y], "f")
    a, b = np.array([1e6, -3e7]), np.array([0.5, -0.25])
    np.testing.assert_allclose(testing.input_sensitivity(kernel, [a, b]),
                               np.abs(a * np.exp(b)) + np.abs(b * a * np.exp(b)), rtol=1e-6)
    with np.errstate(all="raise"):
        got = testing.input_sensitivity(compile_kernel(sp.exp(x), [x], "e"), [np.array([1000.0, 1.0])])
    assert got[0] == 0.0 and got[1] == pytest.approx(math.e, rel=1e-6)
