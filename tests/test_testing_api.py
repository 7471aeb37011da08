"""symdl.testing as numpy and hypothesis users call it: element strategies for ``arrays(elements=...)``, seeds as numpy takes them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import symdl
from symdl.arguments import generator
from symdl.testing import central_difference
from symdl.testing.strategies import (
    finite_floats,
    floats_at_kinks,
    floats_away_from_kinks,
)

RELU6 = symdl.rule("relu6")
MAE = symdl.rule("mae")


@settings(deadline=None, max_examples=20)
@given(arrays(np.float64, (3, 5), elements=floats_away_from_kinks(RELU6)))
def test_arrays_away_from_kinks_agree_with_finite_differences_everywhere(x):
    assert np.all(np.abs(x) >= 1e-3) and np.all(np.abs(x - 6.0) >= 6e-3) and np.all(np.abs(x) <= 40)
    forward, derivative = RELU6.numeric(), RELU6.numeric_derivative()
    fd = central_difference(forward, [x])
    np.testing.assert_allclose(derivative(x), fd, rtol=1e-6, atol=1e-9)


@settings(deadline=None, max_examples=20)
@given(arrays(np.float32, 6, elements=floats_away_from_kinks(MAE, others=[0.25], dtype=np.float32)))
def test_float32_arrays_with_a_fixed_target_keep_the_margin(a):
    assert a.dtype == np.float32
    assert np.all(np.abs(a.astype(np.float64) - 0.25) >= 1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(deadline=None, max_examples=20)
@given(data=st.data())
def test_arrays_at_kinks_are_at_or_one_step_beside_a_kink(dtype, data):
    x = data.draw(arrays(dtype, 8, elements=floats_at_kinks(RELU6, dtype=dtype)))
    kinks = [dtype(0.0), dtype(6.0)]
    for value in x:
        assert any(value == k or np.nextafter(k, value) == value for k in kinks)


@settings(deadline=None, max_examples=20)
@given(arrays(np.float32, (2, 3), elements=finite_floats(np.float32, low=-0.1, high=0.1)))
def test_finite_floats_respect_bounds_that_float32_cannot_hold(x):
    assert np.all(np.abs(x) <= 0.1) and np.all(np.isfinite(x))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: floats_away_from_kinks(MAE), r"further inputs \(y\); give their values as others"),
    (lambda: floats_at_kinks(MAE, others=[1.0, 2.0]), "expected 1 value"),
    (lambda: floats_at_kinks(symdl.rule("sigmoid")), "no kinks"),
    (lambda: finite_floats(np.int32), "expected float64 or float32"),
    (lambda: finite_floats(np.float32, low=0.1, high=0.1), "no float32 lies in"),
])
def test_element_strategies_refuse_bad_input_in_one_line(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- seeds as numpy takes them ------------------------------------------------------------


def test_generator_takes_what_default_rng_takes():
    rng = np.random.default_rng(3)
    assert generator(rng) is rng
    expected = np.random.default_rng(7).standard_normal(4)
    for seed in (7, np.int64(7), np.random.SeedSequence(7)):
        np.testing.assert_array_equal(generator(seed).standard_normal(4), expected)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None, np.random.RandomState(0)])
def test_generator_refuses_anything_else_in_one_line(bad):
    with pytest.raises(ValueError, match="seed: expected a non-negative integer seed, a numpy.random.Generator or a "
                                         "numpy.random.SeedSequence, got"):
        generator(bad)


@pytest.mark.parametrize("seed", [np.random.default_rng(5), np.random.SeedSequence(5)])
def test_network_init_takes_a_generator_or_seed_sequence(seed):
    net = symdl.Network([3, 4, 2]).compile()
    expected = net.init(5)
    params = net.init(seed=seed)
    assert params.keys() == expected.keys()
    for key in params:
        np.testing.assert_array_equal(params[key], expected[key])


def test_graph_init_takes_a_generator_or_seed_sequence():
    from symdl.graph import Dense, Input, Model

    x = Input(2)
    compiled = Model(x, Dense(2)(Dense(3, activation="tanh")(x))).compile()
    expected = compiled.init(9)
    for seed in (np.random.default_rng(9), np.random.SeedSequence(9)):
        params = compiled.init(seed)
        assert all(np.array_equal(params[k], expected[k]) for k in expected)
    with pytest.raises(ValueError, match="seed: expected a non-negative integer seed"):
        compiled.init(-3)


def test_bounds_given_where_the_dtype_goes_are_one_clear_line():
    with pytest.raises(TypeError, match=r"^dtype: expected np.float64 or np.float32, got the number -3; .*finite_floats\(np.float64, low, high\)$"):
        finite_floats(-3, 3)
    with pytest.raises(TypeError, match="got the number 0.5"):
        floats_at_kinks(RELU6, dtype=0.5)
