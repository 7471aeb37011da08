"""symdl.testing.strategies: points land where they are promised, for every element-wise rule."""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
import symdl.testing.strategies as strategies
from symdl import testing
from symdl.rulebook.rule import Rule
from symdl.symbolic.proof import breakpoints
from symdl.testing import central_difference
from symdl.testing.strategies import at_kinks, away_from_kinks, float_arrays


def _breakpoint_kernels(r: Rule) -> list:
    """Each breakpoint of the rule and of its derivative (parameters bound) as a kernel of the inputs."""
    found: list = []
    for e in (r.bind(r.expr), r.bind(r.derivative())):
        found += [p for p in breakpoints(e, r.wrt) if p not in found]
    return [symdl.compile_kernel(p + 0 * r.wrt, r.inputs, f"breakpoint_{i}") for i, p in enumerate(found)]


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


@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_network_specs_and_batches_fit_together(data):
    spec = data.draw(strategies.network_specs())
    assert 2 <= len(spec["layers"]) <= 5 and all(1 <= w <= 16 for w in spec["layers"])
    assert symdl.rules()[spec["activation"]] == "activation" and symdl.rules()[spec["loss"]] == "loss"
    X, Y = data.draw(strategies.batches(spec["layers"]))
    assert X.shape[1] == spec["layers"][0] and Y.shape[1] == spec["layers"][-1] and len(X) == len(Y)


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(deadline=None, max_examples=10)
@given(data=st.data())
def test_check_grad_along_random_directions_for_every_rule(name, data):
    """Σ g(x) over several points away from kinks: its gradient is the generated derivative, element by element."""
    r = symdl.rule(name)
    points = away_from_kinks(r)
    draws = [data.draw(points) for _ in range(4)]
    x = np.array([d[0] for d in draws])
    others = [np.array([d[i] for d in draws]) for i in range(1, len(r.inputs))]
    forward = symdl.compile_kernel(r.numeric_forward_expr(), r.inputs, "elementwise")
    f = lambda v: float(np.sum(forward(v, *others)))  # noqa: E731
    grad = r.numeric_derivative()(x, *others)
    if _breakpoint_kernels(r):
        # Steps must stay inside the kink-free margin (1e-3): small steps, one coordinate at a time. f returns its
        # terms: their sum can cancel (selu's terms reach 1.76 each), and the rounding floor then uses Σ|terms|.
        terms = lambda v: forward(v, *others)  # noqa: E731
        testing.assert_grad_close(terms, grad, x, mode="coordinates", step=1e-6, richardson=False)
    else:
        testing.assert_grad_close(f, grad, x)


def test_check_grad_on_the_vector_rules():
    rng = np.random.default_rng(0)
    z, v = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    softmax = symdl.rule("softmax")
    forward, vjp = softmax.numeric(), softmax.numeric_derivative()
    testing.assert_grad_close(lambda q: float(np.sum(v * forward(q))), lambda q: vjp(q, v), z)
    onehot = np.eye(5)[[0, 3, 1]]
    ce = symdl.rule("softmax_cross_entropy")
    testing.assert_grad_close(lambda a: float(np.sum(ce.numeric()(a, onehot))), lambda a: ce.numeric_derivative()(a, onehot), z)
    rbf = symdl.rule("rbf")
    x, W, s, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), np.array([1.5, 0.8]), rng.normal(size=(3, 2))
    h = rbf.numeric()
    testing.assert_grad_close(lambda q: float(np.sum(w * h(x, q, s))), lambda q: rbf.numeric_derivative("W")(x, q, s, w), W)
    testing.assert_grad_close(lambda q: float(np.sum(w * h(q, W, s))), lambda q: rbf.numeric_derivative("x")(q, W, s, w), x)


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if _breakpoint_kernels(symdl.rule(n))])
@settings(deadline=None, max_examples=30)
@given(data=st.data())
def test_points_keep_their_margin_from_every_breakpoint_even_at_the_range_ends(name, data):
    r = symdl.rule(name)
    x, *others = data.draw(away_from_kinks(r, low=-40.0, high=40.0))
    for kernel in _breakpoint_kernels(r):
        p = float(kernel(0.0, *others))
        assert abs(x - p) >= 1e-3 * max(1.0, abs(p)) * (1 - 1e-12)


@settings(deadline=None, max_examples=50)
@given(data=st.data())
def test_a_breakpoint_at_the_range_end_is_avoided(data):
    """huber with y = −39 has a breakpoint at a = −40, the lower end of the range (found by bench_checker)."""
    a, y = data.draw(away_from_kinks(symdl.rule("huber"), others=[-39.0]))
    assert y == -39.0 and abs(a + 40.0) >= 0.04 * (1 - 1e-12)
