"""symdl.testing.strategies: points land where they are promised, for every element-wise rule."""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
import symdl.testing.strategies as strategies
from symdl.rules import Rule
from symdl.testing import central_difference
from symdl.testing.strategies import at_kinks, away_from_kinks, float_arrays

ELEMENTWISE = [n for n in symdl.rules() if isinstance(symdl.rule(n), Rule)]
WITH_KINKS = [n for n in ELEMENTWISE if symdl.rule(n).kinks]


def test_doctest():
    assert doctest.testmod(strategies).failed == 0


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_points_away_from_kinks_give_agreeing_finite_differences(name, data):
    r = symdl.rule(name)
    values = [np.array(v) for v in data.draw(away_from_kinks(r))]
    forward, derivative = r.numeric(), r.numeric_derivative()
    if r.definition.reduce_sum:
        forward = symdl.compile_kernel(r.numeric_forward_expr(), r.inputs, "elementwise")
    fd = central_difference(forward, values)
    exact = derivative(*values)
    assert abs(fd - exact) <= 1e-6 * max(1.0, abs(exact))


@pytest.mark.parametrize("name", WITH_KINKS)
@settings(deadline=None, max_examples=10)
@given(data=st.data())
def test_points_at_kinks_are_at_or_beside_a_kink(name, data):
    r = symdl.rule(name)
    x, *others = data.draw(at_kinks(r))
    kink_places = [float(symdl.compile_kernel(r.bind(k.at) + 0 * r.wrt, r.inputs, "at")(0.0, *others)) for k in r.kinks]
    assert any(x == p or np.nextafter(p, x) == x for p in kink_places)


@settings(deadline=None)
@given(float_arrays(np.float32, (3, 4)))
def test_float_arrays_have_the_dtype_and_stay_bounded(arr):
    assert arr.dtype == np.float32 and arr.shape == (3, 4)
    assert np.all(np.isfinite(arr)) and np.all(np.abs(arr) <= 1000)


def test_at_kinks_refuses_a_rule_without_kinks():
    with pytest.raises(ValueError, match="no kinks"):
        at_kinks(symdl.rule("sigmoid"))
