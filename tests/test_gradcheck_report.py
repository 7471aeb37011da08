"""The text of a GradCheckReport, word for word: what a user reads is part of the contract (numpy.testing style)."""

import numpy as np
import pytest

from symdl.testing import TOLERANCES, Tolerance, check_grad
from symdl.testing.gradcheck import GradCheckReport

TOL = Tolerance(rtol=1e-6, atol=1e-10)


def report(analytic: float, numeric: float, **changes) -> GradCheckReport:
    fields = dict(mode="directions", worst="direction 3", analytic=analytic, numeric=numeric,
                  abs_error=abs(analytic - numeric), rel_error=abs(analytic - numeric) / max(abs(analytic), abs(numeric)),
                  error_estimate=2.5e-11, rounding_floor=6.25e-12, tolerance=TOL, step=0.00074, evaluations=80, checked=20)
    return GradCheckReport(**{**fields, **changes})


def test_the_one_line_summary_of_a_passed_and_a_failed_check():
    assert str(report(0.5, 0.5000000001)) == (
        "gradient check passed (directions, 20 checked, 80 evaluations): worst direction 3: analytic 0.5, "
        "finite difference 0.50000000010000001, abs error 1e-10, rel error 2e-10 (tolerance rtol=1e-06, atol=1e-10; "
        "step 0.00074; FD error estimate 2.5e-11, rounding floor 6.25e-12)"
    )
    assert str(report(1.25, 1.0, mode="coordinates", worst="coordinate (1,)", checked=3, evaluations=12)).startswith(
        "gradient check FAILED (coordinates, 3 checked, 12 evaluations): worst coordinate (1,): analytic 1.25, "
        "finite difference 1, abs error 0.25, rel error 0.2 ("
    )


def test_the_failure_message_one_fact_a_line_and_the_coordinate_located_after_it():
    worst = report(0.292372009660542, 0.3236150272135136)
    located = report(1.1000000000000001, 1.0000000000000617, mode="coordinates", worst="coordinate (3,)", checked=5)
    assert worst.failure_message().splitlines() == [
        "Gradient check failed (directions, 20 checked, 80 evaluations)",
        "Worst direction 3",
        " ACTUAL (analytic):           0.292372009660542",
        " DESIRED (finite difference): 0.3236150272135136",
        "Absolute difference: 0.0312, relative difference: 0.0965",
        "Tolerance: rtol=1e-06, atol=1e-10 (+ rounding floor 6.25e-12); step 0.00074, FD error estimate 2.5e-11",
    ]
    assert worst.failure_message(located).splitlines()[6:] == [
        "Checked one by one (5 coordinates):",
        "Worst coordinate (3,)",
        " ACTUAL (analytic):           1.1000000000000001",
        " DESIRED (finite difference): 1.0000000000000617",
        "Absolute difference: 0.1, relative difference: 0.0909",
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_passed_is_the_tolerance_plus_the_rounding_floor_inclusive(dtype):
    tol = TOLERANCES[np.dtype(dtype)]
    edge = tol.atol + tol.rtol * 2.0 + 1e-3  # |error| at exactly atol + rtol·max(|a|, |n|) + floor passes
    at = report(2.0, 2.0 - edge, tolerance=tol, rounding_floor=1e-3, abs_error=edge)
    assert at.passed
    assert not report(2.0, 2.0 - edge, tolerance=tol, rounding_floor=1e-3, abs_error=edge * (1 + 1e-9)).passed
    assert not report(2.0, 2.0 - edge, tolerance=tol, rounding_floor=0.0, abs_error=edge).passed


def test_each_number_has_its_own_format():
    # Values whose .17g, .3g and g forms differ from their shortest repr (and carry exponents: e, not E).
    r = report(1 / 3, 0.1, error_estimate=1e-10 / 7, rounding_floor=2e-20 / 3, step=7.4300000001e-4,
               tolerance=Tolerance(rtol=1.23456789e-6, atol=9.87654321e-20))
    assert str(r) == (
        "gradient check FAILED (directions, 20 checked, 80 evaluations): worst direction 3: analytic 0.33333333333333331, "
        "finite difference 0.10000000000000001, abs error 0.233, rel error 0.7 (tolerance rtol=1.23457e-06, "
        "atol=9.87654e-20; step 0.000743; FD error estimate 1.43e-11, rounding floor 6.67e-21)"
    )
    assert r.failure_message().splitlines()[2:] == [
        " ACTUAL (analytic):           0.33333333333333331",
        " DESIRED (finite difference): 0.10000000000000001",
        "Absolute difference: 0.233, relative difference: 0.7",
        "Tolerance: rtol=1.23457e-06, atol=9.87654e-20 (+ rounding floor 6.67e-21); step 0.000743, FD error estimate 1.43e-11",
    ]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_floor_and_the_error_estimate_are_the_documented_quantities(sign):
    # f = 1000 ± 1000v + v³ at 0 with h = 1/2: every value exact. D(h) = ±1000 + h², D(h/2) = ±1000 + h²/4,
    # R = ±1000, |R − D(h/2)| ... estimate |D(h/2) − D(h)|/3 = h²/4; the largest |f| (1500) is at +h or at −h.
    eps = np.finfo(np.float64).eps
    f = lambda v: 1000 + sign * 1000 * v[0] + v[0] ** 3  # noqa: E731
    x = np.array([0.0])
    r = check_grad(f, lambda v: np.array([sign * 1000]), x, mode="coordinates", step=0.5)
    top = 1500 + sign * 0.125  # the largest |f|: f(±h) = 1500 ± 1/8
    assert (r.numeric, r.error_estimate, r.rounding_floor) == (sign * 1000, 0.0625, 8 * eps * top / 0.5), r
    plain = check_grad(f, lambda v: np.array([sign * 1000]), x, mode="coordinates", step=0.5, richardson=False)
    assert plain.numeric == sign * 1000 + 0.25 and plain.rounding_floor == 2 * eps * top / 0.5
    assert np.isnan(plain.error_estimate) and plain.evaluations == 2


def test_the_relative_error_is_over_the_larger_of_the_two_values():
    r = check_grad(lambda v: float(v[0] ** 2), lambda v: np.array([1.0]), np.array([1.0]), mode="coordinates")
    assert not r.passed and abs(r.rel_error - 0.5) < 1e-9 and abs(r.abs_error - 1.0) < 1e-9


def test_the_worst_coordinate_is_the_one_furthest_outside_its_tolerance():
    grad = lambda v: 2 * v + np.array([0.0, 0.5, 0.0, 0.01])  # noqa: E731
    r = check_grad(lambda v: float(np.sum(v ** 2)), grad, np.array([1.0, 2.0, 3.0, 4.0]), mode="coordinates")
    assert r.worst == "coordinate (1,)" and abs(r.abs_error - 0.5) < 1e-9


def test_a_kink_away_from_0_shortens_the_step_too():
    f = lambda v: float(np.sum(np.maximum(v - 0.5, 0.0)))  # noqa: E731
    x = np.array([0.5 + 1e-4, 3.0])
    assert check_grad(f, lambda v: (v > 0.5).astype(float), x, kinks=[0.5]).passed
    with pytest.raises(ValueError, match=r"x\[1\] = 0.5 sits on a declared kink"):
        check_grad(f, lambda v: (v > 0.5).astype(float), np.array([3.0, 0.5]), kinks=[0.5])


def test_one_direction_is_enough_and_the_default_seed_is_0():
    f, g, x = (lambda v: float(np.sum(np.sin(v)))), np.cos, np.array([0.1, 0.2, 0.3])
    assert check_grad(f, g, x, directions=1).checked == 1
    assert check_grad(f, g, x) == check_grad(f, g, x, seed=0) != check_grad(f, g, x, seed=1)


def test_a_failed_coordinates_check_is_not_located_again_and_the_locate_limit_is_inclusive():
    from symdl.testing import assert_grad_close
    from symdl.testing.gradcheck import LOCATE_LIMIT

    f = lambda v: float(np.sum(v ** 2))  # noqa: E731
    with pytest.raises(AssertionError) as caught:
        assert_grad_close(f, lambda v: 2 * v + 1, np.ones(3), mode="coordinates")
    assert "Checked one by one" not in str(caught.value)
    with pytest.raises(AssertionError) as caught:
        assert_grad_close(f, lambda v: 2 * v + 1, np.ones(LOCATE_LIMIT), directions=2)
    assert f"Checked one by one ({LOCATE_LIMIT} coordinates)" in str(caught.value)
