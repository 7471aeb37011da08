"""away_from_kinks and floats_away_from_kinks keep away from the jumps of floor, ceiling and round too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.testing import check_grad
from symdl.testing.strategies import away_from_kinks, floats_away_from_kinks

STAIRCASE_INTEGRAL = "z*floor(z) - floor(z)*(floor(z) + 1)/2"  # f' = ⌊z⌋: a kink at every integer


def _clear_of(x: float, jumps: list[float], margin: float) -> bool:
    """x at least margin·max(1, |p|) from each p (a hair less: the strategy's ends are rounded floats)."""
    return all(abs(x - p) >= margin * max(1.0, abs(p)) * (1 - 1e-9) for p in jumps)


def _near(u: float, half: bool, slope: float, offset: float) -> list[float]:
    """x of the two integers (half-integers) of u = slope·x + offset nearest to u: the jumps beside x."""
    shift = 0.5 if half else 0.0
    below = math.floor(u - shift) + shift
    return [(below - offset) / slope, (below + 1 - offset) / slope]


FLOOR_Z = symdl.formula_rule("z*floor(z)")


@settings(max_examples=60, deadline=None)
@given(away_from_kinks(FLOOR_Z, -5.0, 5.0, margin=1e-3))
def test_points_keep_away_from_every_integer_for_floor_of_the_variable(values):
    (x,) = values
    assert -5.0 <= x <= 5.0 and _clear_of(x, _near(x, False, 1.0, 0.0), 1e-3)


ROUND_AFFINE = symdl.formula_rule("z*round(2*z - y)", symbols=["y"])


@settings(max_examples=60, deadline=None)
@given(away_from_kinks(ROUND_AFFINE, -4.0, 4.0, margin=1e-3))
def test_points_keep_away_from_the_jumps_of_round_of_an_affine_argument_at_the_drawn_other_input(values):
    x, y = values
    assert _clear_of(x, _near(2 * x - y, True, 2.0, -y), 1e-3)


MOVING = symdl.formula_rule("abs(z - floor(z) - 1/2)")  # f' jumps at every n + 1/2 (a moving kink), f' at every n


@settings(max_examples=60, deadline=None)
@given(away_from_kinks(MOVING, -6.0, 6.0, margin=1e-3))
def test_points_keep_away_from_kinks_that_move_with_the_floor(values):
    (x,) = values
    assert _clear_of(x, [*_near(x, False, 1.0, 0.0), *_near(x, True, 1.0, 0.0)], 1e-3)


@settings(max_examples=40, deadline=None)
@given(floats_away_from_kinks(symdl.formula_rule("z*ceil(z/3)"), -20.0, 20.0, margin=1e-3, dtype=np.float32))
def test_float32_elements_keep_away_from_the_jumps_of_a_ceiling(x):
    assert np.float32(x) == x and _clear_of(x, _near(x / 3, False, 1 / 3, 0.0), 1e-3)


STAIRCASE = symdl.formula_rule(STAIRCASE_INTEGRAL)


@settings(max_examples=40, deadline=None)
@given(away_from_kinks(STAIRCASE, -30.0, 30.0, margin=1e-2))
def test_finite_differences_agree_with_the_derivative_at_the_points_drawn(values):
    x = np.array(values)
    f, df = STAIRCASE.numeric(), STAIRCASE.numeric_derivative()
    assert check_grad(lambda v: float(f(v[0])), lambda v: np.array([df(v[0])]), x).passed


@settings(max_examples=30, deadline=None)
@given(away_from_kinks(symdl.formula_rule("abs(z - 1/3) + z*floor(z)"), 0.0, 1.0, margin=0.1))
def test_a_kink_between_the_jumps_is_kept_away_from_too(values):
    (x,) = values
    assert 0.1 <= x <= 1 / 3 - 0.1 or 1 / 3 + 0.1 <= x <= 0.9


def test_jumps_of_an_argument_not_affine_in_the_variable_are_one_value_error():
    with pytest.raises(ValueError, match=r"^away_from_kinks: the jumps of floor\(z\*\*2\) in z are not listed: "
                                         r"its argument is not affine in z$"):
        away_from_kinks(symdl.formula_rule("floor(z**2)"))


def test_too_many_jumps_in_the_range_are_one_value_error_and_a_narrower_range_is_drawn_from():
    r = symdl.formula_rule("z*floor(10000*z)")
    with pytest.raises(ValueError, match=r"more than 10000 jumps .* narrow the range$"):
        floats_away_from_kinks(r)

    @settings(max_examples=20, deadline=None)
    @given(floats_away_from_kinks(r, 0.0, 0.5, margin=1e-6))
    def narrow(x):
        assert 0.0 <= x <= 0.5 and abs(10000 * x - round(10000 * x)) >= 1e-2 * (1 - 1e-6)

    narrow()


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 7))
def test_a_periodic_kink_set_is_refused_in_one_line_not_with_a_traceback_of_the_proof_engine(n):
    with pytest.raises(ValueError, match=r"^floats_away_from_kinks: the kinks of .* are not known: "):
        floats_away_from_kinks(symdl.formula_rule(f"where(sin({n}*z) > 0, z, 0)"))
