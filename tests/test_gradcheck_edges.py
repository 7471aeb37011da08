"""check_grad and assert_subgradient at their edges: which case is the worst, inclusive bounds, tolerances by dtype,
non-finite values, exact messages, and the frames pytest hides."""

import numpy as np
import pytest

from symdl.testing import Tolerance, assert_grad_close, assert_subgradient, check_grad
from symdl.testing.gradcheck import LOCATE_LIMIT, GradCheckReport

relu = lambda z: np.maximum(z, 0.0)  # noqa: E731


def failure(call, *args, **kwargs) -> list[str]:
    with pytest.raises(AssertionError) as caught:
        call(*args, **kwargs)
    return str(caught.value).splitlines()


def test_every_number_of_a_report_keeps_a_lowercase_exponent():
    tiny = GradCheckReport("directions", "direction 0", 1e-20 / 3, 2e-20 / 3, 1e-20 / 3, 1e-4 / 3, 1e-30 / 3, 1e-31 / 3,
                           Tolerance(1e-6, 1e-25), 1e-9 / 3, 4, 1)
    assert str(tiny).split(": ", 2)[2] == (
        "analytic 3.3333333333333333e-21, finite difference 6.6666666666666666e-21, abs error 3.33e-21, rel error 3.33e-05 "
        "(tolerance rtol=1e-06, atol=1e-25; step 3.33e-10; FD error estimate 3.33e-31, rounding floor 3.33e-32)"
    )
    assert tiny.failure_message().splitlines()[2:] == [
        " ACTUAL (analytic):           3.3333333333333333e-21",
        " DESIRED (finite difference): 6.6666666666666666e-21",
        "Absolute difference: 3.33e-21, relative difference: 3.33e-05",
        "Tolerance: rtol=1e-06, atol=1e-25 (+ rounding floor 3.33e-32); step 3.33e-10, FD error estimate 3.33e-31",
    ]


def test_the_worst_coordinate_is_judged_against_its_own_tolerance_and_ties_name_the_first():
    # Coordinate 0 is off by 1e-3 at a scale of 1e6 (within rtol·1e6 = 1), coordinate 1 by 1e-4 at a scale of 1.
    grad = lambda v: np.array([2e6 * v[0] + 1e-3, 2 * v[1] + 1e-4])  # noqa: E731
    r = check_grad(lambda v: float(1e6 * v[0] ** 2 + v[1] ** 2), grad, np.array([0.5, 0.5]), mode="coordinates")
    assert r.worst == "coordinate (1,)" and not r.passed
    same = check_grad(lambda v: float(np.sum(v**2)), lambda v: 2 * v + 1, np.ones(3), mode="coordinates")
    assert same.worst == "coordinate (0,)"


def test_the_rounding_floor_scales_with_f_even_when_f_is_small():
    # f = 1e-3·v³ at 0 with h = 1/2: the largest |f| is 1e-3/8, so the floor is 8·eps·(1e-3/8)/h, not 8·eps·1/h.
    r = check_grad(lambda v: 1e-3 * v[0] ** 3, np.array([0.0]), np.array([0.0]), mode="coordinates", step=0.5)
    assert r.rounding_floor == 8 * np.finfo(np.float64).eps * (1e-3 / 8) / 0.5


def test_a_non_finite_value_of_f_fails_the_check():
    for out in (lambda v: np.array([v[0] ** 2, np.inf]), lambda v: np.array([v[0], np.nan])):
        r = check_grad(out, lambda v: np.array([2 * v[0]]), np.array([1.0]), mode="coordinates")
        assert not r.passed and np.isnan(r.numeric) and np.isnan(r.abs_error)


def test_more_coordinates_than_the_locate_limit_are_not_located():
    lines = failure(assert_grad_close, lambda v: float(np.sum(v**2)), lambda v: 2 * v + 1, np.ones(LOCATE_LIMIT + 1),
                    directions=1)
    assert lines[0] == "Gradient check failed (directions, 1 checked, 4 evaluations)"
    assert not any(line.startswith("Checked one by one") for line in lines)


@pytest.mark.parametrize(("call", "caller"), [(check_grad, "check_grad"), (assert_subgradient, "assert_subgradient")])
def test_tolerance_errors_name_the_function_and_the_keyword(call, caller):
    x, g = np.array([0.5]), np.array([1.0])
    f = lambda v: float(v[0]) if call is check_grad else v  # noqa: E731
    with pytest.raises(ValueError, match=rf"^{caller}: atol must be a finite number ≥ 0, got inf$"):
        call(f, g, x, atol=float("inf"))
    with pytest.raises(ValueError, match=rf"^{caller}: give tolerance= or rtol=/atol=, not both$"):
        call(f, g, x, tolerance=Tolerance(0, 0), rtol=0.0)
    call(f, g, x, rtol=0, atol=0.0)  # 0 is a tolerance


def test_the_subgradient_bounds_are_inclusive():
    # relu's one-sided derivatives at 0 are 0 and 1 exactly: with atol = 1/4, [−1/4, 5/4] passes and no more.
    x = np.zeros(2)
    assert_subgradient(relu, np.array([-0.25, 1.25]), x, atol=0.25, rtol=0)
    for value in (np.nextafter(-0.25, -1), np.nextafter(1.25, 2)):
        assert failure(assert_subgradient, relu, np.array([0.5, value]), x, atol=0.25, rtol=0)[1] == (
            "Worst element: x[1] (1 of 2 outside)")


def test_the_worst_element_is_the_furthest_outside_relative_to_its_slack_on_either_side():
    # atol = 1/2 around [0, 1]: 3 is (3 − 1.5)/0.5 = 3 slacks above, −2.25 is (2.25 − 0.5)/0.5 = 3.5 below, 3.5 is 4 above.
    x = np.zeros(2)
    assert failure(assert_subgradient, relu, np.array([3.0, -2.25]), x, atol=0.5, rtol=0)[1].startswith("Worst element: x[1]")
    assert failure(assert_subgradient, relu, np.array([3.5, -2.25]), x, atol=0.5, rtol=0)[1].startswith("Worst element: x[0]")
    # rtol scales with the derivatives: 1002 is 1 slack (1e-3·1000) above 1000 + 1, 1.1 is 99 slacks above 1 + 1e-3.
    scaled = lambda z: np.maximum(z, 0.0) * np.array([1000.0, 1.0])  # noqa: E731
    lines = failure(assert_subgradient, scaled, np.array([1002.0, 1.1]), x, rtol=1e-3, atol=0)
    assert lines[1] == "Worst element: x[1] (2 of 2 outside)"
    assert_subgradient(scaled, np.array([1000.5, 1.0]), x, rtol=1e-3, atol=0)


def test_the_subgradient_message_word_for_word():
    x = np.zeros((2, 3))
    value = np.full((2, 3), 0.5)
    value[1, 2] = 2.0
    assert failure(assert_subgradient, relu, value, x, rtol=0.1 + 0.2, atol=0.1 + 0.2) == [
        "not a subgradient at x = 0.0: value 2.0 is outside the one-sided derivatives",
        "Worst element: x[1, 2] (1 of 6 outside)",
        " ACTUAL (value):                     2.0",
        " DESIRED (between the one-sided ones): [0.0, 1.0]",
        "Tolerance: rtol=0.3, atol=0.3",
    ]
    assert failure(assert_subgradient, relu, 2.0, np.array(0.0))[1] == "Worst element: x (1 of 1 outside)"


def test_subgradient_tolerances_follow_the_dtype_of_x_or_the_ones_given():
    # 1 + 1e-4 is within float32's smoke tolerance of relu'(0) ∈ [0, 1], not within float64's.
    assert_subgradient(relu, np.float32(1 + 1e-4), np.zeros(1, np.float32))
    assert failure(assert_subgradient, relu, 1 + 1e-4, np.zeros(1))[-1] == "Tolerance: rtol=1e-06, atol=1e-10"
    assert_subgradient(relu, 1 + 1e-4, np.zeros(1), tolerance=Tolerance(0, 1e-3))
    assert_subgradient(relu, 1 + 1e-4, np.zeros(1), rtol=1e-3)
    assert_subgradient(relu, 0.5, np.zeros(1, np.float16))  # no float16 entry: float64's tolerance


def test_pytest_shows_the_callers_line_not_the_raise_inside_symdl():
    def raising_lines(call, *args):
        with pytest.raises(AssertionError) as caught:
            call(*args)
        return [str(e.statement) for e in caught.traceback.filter(caught) if "raise AssertionError" in str(e.statement)]

    assert raising_lines(assert_grad_close, lambda v: float(np.sum(v**2)), lambda v: 2 * v + 1, np.ones(2)) == []
    assert raising_lines(assert_subgradient, relu, 2.0, np.zeros(1)) == []


@pytest.mark.parametrize(("options", "x", "message"), [
    ({}, np.array([0.5, np.nan]), r"^check_grad: x\[1\] = nan; accepted: a point of finite numbers$"),
    ({}, np.array([[0.5, -np.inf]]), r"^check_grad: x\[0, 1\] = -inf; accepted: a point of finite numbers$"),
    ({"step": 0.0}, np.ones(2), r"^check_grad: step must be a finite number > 0, got 0\.0$"),
    ({"step": float("nan")}, np.ones(2), r"^check_grad: step must be a finite number > 0, got nan$"),
    ({"directions": 2.5}, np.ones(2), r"^check_grad: directions must be an integer ≥ 1, got 2\.5$"),
    ({"kinks": [np.nan]}, np.ones(2), r"^check_grad: kinks must be finite numbers, got \[nan\]$"),
])
def test_check_grad_refuses_a_meaningless_point_or_setting_in_one_line(options, x, message):
    """A NaN point "failed" the check (and an infinite one made f warn), step=0 divided by zero, directions=2.5
    was Python's TypeError, NaN kinks were ignored: each is now one ValueError line naming what is accepted."""
    with pytest.raises(ValueError, match=message):
        check_grad(lambda v: float(np.sum(v**2)), lambda v: 2 * v, x, **options)


def test_empty_kinks_are_no_kinks_and_a_tolerance_must_be_one():
    f, g, x = (lambda v: float(np.sum(v**2))), (lambda v: 2 * v), np.array([0.5, -1.5])
    assert check_grad(f, g, x, kinks=[]) == check_grad(f, g, x)  # was numpy's "zero-size array to reduction operation"
    with pytest.raises(TypeError, match=r"^check_grad: tolerance must be a symdl\.testing\.Tolerance\(rtol, atol\), got int$"):
        check_grad(f, g, x, tolerance=5)  # was AttributeError: 'int' object has no attribute 'rtol'


def test_a_nan_subgradient_or_nan_one_sided_derivatives_fail_and_bad_steps_are_refused():
    """NaN compares False both ways, so a NaN value passed as inside [left, right]: it is outside now."""
    from symdl.testing import one_sided_differences

    assert failure(assert_subgradient, relu, np.array([np.nan]), np.zeros(1))[0] == (
        "not a subgradient at x = 0.0: value nan is outside the one-sided derivatives")
    assert failure(assert_subgradient, lambda z: relu(z) * np.nan, np.array([0.5]), np.zeros(1))[3] == (
        " DESIRED (between the one-sided ones): [nan, nan]")
    with pytest.raises(ValueError, match=r"^assert_subgradient: x\[0\] = nan; accepted: a point of finite numbers$"):
        assert_subgradient(relu, np.zeros(1), np.array([np.nan]))
    for h in (0.0, -1e-3, np.inf):  # h < 0 swapped the left and right derivatives, h = 0 divided by zero
        with pytest.raises(ValueError, match=r"^one_sided_differences: h must be finite numbers > 0"):
            one_sided_differences(np.abs, np.zeros(1), np.array([h]))


def test_a_nan_difference_in_one_coordinate_fails_beside_finite_ones():
    """NaN > x is False, so a coordinate whose difference was NaN never became the worst one: the check passed on
    the finite coordinate before it. A NaN case is the worst now, in check_grad and in assert_grad_close."""
    f = lambda v: float(v[0] ** 2 + (v[1] if v[1] == 0.25 else np.nan))  # noqa: E731 — NaN once v[1] moves
    g = lambda v: np.array([2 * v[0], 1.0])  # noqa: E731
    report = check_grad(f, g, np.array([1.0, 0.25]), mode="coordinates")
    assert not report.passed and report.worst == "coordinate (1,)" and np.isnan(report.numeric)
    with pytest.raises(AssertionError, match=r"^Gradient check failed \(coordinates, 2 checked"):
        assert_grad_close(f, g, np.array([1.0, 0.25]), mode="coordinates")


@pytest.mark.parametrize(("f", "value", "x", "message"), [
    (lambda z: float(np.sum(relu(z))), 0.5, np.zeros(2),
     r"^assert_subgradient: f\(x\) has shape \(\), x has shape \(2,\); f must be element-wise \(one value per element of x\)$"),
    (relu, np.full(3, 0.5), np.zeros(2),
     r"^assert_subgradient: value has shape \(3,\), x has shape \(2,\); accepted: a number or an array broadcastable to x's shape$"),
    (relu, 0.5, np.zeros(0), r"^assert_subgradient: x is empty; accepted: a float array of at least one element$"),
])
def test_assert_subgradient_refuses_a_wrong_shape_or_an_empty_point_in_one_line(f, value, x, message):
    """f returning the sum of its values passed (the sum's one-sided slopes, [0, 2] here, held 0.5 for each element),
    a value of another shape raised numpy's broadcast error, and an empty x passed with nothing checked."""
    with pytest.raises(ValueError, match=message):
        assert_subgradient(f, value, x)


def test_one_sided_differences_refuses_a_function_that_is_not_element_wise_and_a_step_of_another_shape():
    from symdl.testing import one_sided_differences

    with pytest.raises(ValueError, match=r"^one_sided_differences: f\(x\) has shape \(\), x has shape \(2,\)"):
        one_sided_differences(lambda z: float(np.sum(z)), np.zeros(2))
    with pytest.raises(ValueError, match=r"^one_sided_differences: h has shape \(3,\), x has shape \(2,\)"):
        one_sided_differences(np.abs, np.zeros(2), np.full(3, 1e-3))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Tolerance(-1.0, 0.0), r"^Tolerance: rtol must be a finite number ≥ 0, got -1\.0$"),
    (lambda: Tolerance(1e-6, float("nan")), r"^Tolerance: atol must be a finite number ≥ 0, got nan$"),
    (lambda: Tolerance("1e-6", 0.0), r"^Tolerance: rtol must be a finite number ≥ 0, got '1e-6'$"),
])
def test_a_tolerance_is_two_finite_numbers_at_least_zero(make, message):
    """rtol=nan was refused by check_grad but Tolerance(nan, …) was taken, failing every check (negative ones too)."""
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(("options", "message"), [
    ({"seed": -1}, r"^check_grad: seed: expected a non-negative integer seed"),
    ({"seed": "a"}, r"^check_grad: seed: expected a non-negative integer seed"),
    ({"richardson": "no"}, r"^check_grad: richardson must be True or False, got 'no'$"),
])
def test_check_grad_refuses_a_bad_seed_or_a_richardson_that_is_not_a_bool(options, message):
    """seed=-1 was numpy's bare "expected non-negative integer"; richardson='no' counted as True."""
    with pytest.raises(ValueError, match=message):
        check_grad(lambda v: float(np.sum(v**2)), lambda v: 2 * v, np.ones(2), **options)


@pytest.mark.parametrize(("args", "index", "error", "message"), [
    ([np.array([1, 2])], 0, TypeError, r"^central_difference: args\[0\] must be a float array, got dtype int64$"),
    ([], 0, ValueError, r"^central_difference: index 0 is not an argument; 0 given$"),
    ([np.array([0.5])], 1, ValueError, r"^central_difference: index 1 is not an argument; 1 given$"),
])
def test_central_difference_refuses_an_integer_point_or_a_missing_argument(args, index, error, message):
    """An integer x was numpy's "data type <class 'numpy.int64'> not inexact", no argument an IndexError."""
    from symdl.testing import central_difference

    with pytest.raises(error, match=message):
        central_difference(np.sin, args, index)
