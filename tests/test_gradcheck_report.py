"""The text of a GradCheckReport, word for word: what a user reads is part of the contract (numpy.testing style)."""

import numpy as np
import pytest

from symdl.testing import TOLERANCES, Tolerance
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
