"""check_grad / assert_grad_close: correct gradients pass, planted mistakes fail, reports say why."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl.testing import TOLERANCES, Tolerance, assert_grad_close, check_grad

RNG = np.random.default_rng(7)
A = RNG.normal(size=(12, 8))
B = RNG.normal(size=12)


def loss(w):
    return float(np.sum(np.tanh(A @ w + B) ** 2) + 0.5 * np.sum(w**2) + np.sum(w))


def grad(w):
    t = np.tanh(A @ w + B)
    return 2 * A.T @ (t * (1 - t**2)) + w + 1


MISTAKES = {
    "sign flip": lambda w: -grad(w),
    "factor two": lambda w: 2 * grad(w),
    "dropped term": lambda w: grad(w) - 1,  # the Σw term's gradient, nonzero at every point
    "σ(1−σ) ↔ σ confusion": lambda w: 2 * A.T @ np.tanh(A @ w + B) + w + 1,
    "wrong variable": lambda w: grad(w)[::-1].copy(),
}

points = arrays(np.float64, 8, elements=st.floats(-3, 3, allow_nan=False, allow_infinity=False))


@settings(deadline=None)
@given(points, st.sampled_from(["directions", "coordinates"]), st.booleans())
def test_a_correct_gradient_passes(w, mode, richardson):
    report = assert_grad_close(loss, grad, w, mode=mode, richardson=richardson)
    assert report.passed and report.checked == (20 if mode == "directions" else 8)


@settings(deadline=None)
@given(points, st.sampled_from(sorted(MISTAKES)), st.sampled_from(["directions", "coordinates"]))
def test_planted_mistakes_fail(w, mistake, mode):
    assert not check_grad(loss, MISTAKES[mistake], w, mode=mode).passed


def test_richardson_is_more_accurate_than_plain_central_differences():
    w = RNG.normal(size=8)
    plain = check_grad(loss, grad, w, richardson=False)
    extrapolated = check_grad(loss, grad, w, richardson=True)
    assert extrapolated.rel_error < plain.rel_error / 3
    assert extrapolated.evaluations == 4 * 20 and plain.evaluations == 2 * 20


def test_random_directions_cost_does_not_grow_with_parameters():
    big = RNG.normal(size=5000)
    report = check_grad(lambda v: float(v @ v), lambda v: 2 * v, big, directions=5)
    assert report.passed and report.evaluations == 20


def test_the_assertion_message_carries_the_whole_report():
    w = RNG.normal(size=8)
    with pytest.raises(AssertionError) as info:
        assert_grad_close(loss, MISTAKES["factor two"], w, mode="coordinates")
    message = str(info.value)
    for part in ("Gradient check failed", "coordinates", "Worst coordinate", "ACTUAL (analytic)", "DESIRED (finite difference)",
                 "rtol=1e-06", "step", "FD error estimate", "rounding floor"):
        assert part in message


def test_seeded_directions_are_reproducible():
    w = RNG.normal(size=8)
    first, second = (check_grad(loss, MISTAKES["dropped term"], w, seed=3) for _ in range(2))
    assert first == second


def test_float32_gets_the_smoke_tolerance():
    w = RNG.normal(size=8).astype(np.float32)
    report = assert_grad_close(lambda v: np.float32(loss(v.astype(np.float64))), grad, w)
    assert report.tolerance == TOLERANCES[np.dtype(np.float32)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "diagonal"}, ValueError, "accepted: 'directions', 'coordinates'"),
        ({"directions": 0}, ValueError, "directions must be"),
    ],
)
def test_bad_options_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_grad(loss, grad, RNG.normal(size=8), **kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="float array"):
        check_grad(loss, grad, np.arange(8))
    with pytest.raises(ValueError, match="shape"):
        check_grad(loss, lambda w: grad(w)[:4], RNG.normal(size=8))
    with pytest.raises(TypeError, match="no tolerance"):
        check_grad(loss, grad, RNG.normal(size=8).astype(np.float16))
    custom = check_grad(loss, grad, RNG.normal(size=8).astype(np.float16).astype(np.float64), tolerance=Tolerance(1e-3, 1e-6))
    assert custom.tolerance == Tolerance(1e-3, 1e-6)


# --- kinks: subgradients ------------------------------------------------------

import symdl  # noqa: E402
from symdl.rulebook.rule import Rule  # noqa: E402
from symdl.testing import assert_subgradient, one_sided_differences  # noqa: E402
from symdl.testing.strategies import at_kinks  # noqa: E402

KINKED = [n for n in symdl.rules() if isinstance(symdl.rule(n), Rule) and symdl.rule(n).kinks]


@pytest.mark.parametrize("convention", ["pytorch", "left", "right", "average"])
@pytest.mark.parametrize("name", KINKED)
@settings(deadline=None, max_examples=10)
@given(data=st.data())
def test_every_convention_returns_a_subgradient_at_every_kink(name, convention, data):
    r = symdl.rule(name, kink_convention=convention)
    x, *others = (np.array(v) for v in data.draw(at_kinks(r)))
    forward = symdl.compile_kernel(r.numeric_forward_expr(), r.inputs, "forward")
    assert_subgradient(lambda v: forward(v, *others), r.numeric_derivative()(x, *others), x)


def test_a_value_outside_the_one_sided_derivatives_is_refused():
    relu = symdl.rule("relu").numeric()
    left, right = one_sided_differences(relu, np.array([0.0, 2.0]))
    np.testing.assert_allclose(left, [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(right, [1.0, 1.0], atol=1e-12)
    assert_subgradient(relu, np.array([0.3, 1.0]), np.array([0.0, 2.0]))
    with pytest.raises(AssertionError, match="not a subgradient at x = 0.0: value 1.5"):
        assert_subgradient(relu, np.array([1.5, 1.0]), np.array([0.0, 2.0]))


def test_declared_kinks_shorten_the_step_so_no_evaluation_crosses_one():
    x = np.array([1e-4, -2e-4, 0.5, -3.0])
    relu_sum = lambda v: float(np.sum(np.maximum(v, 0)))  # noqa: E731
    relu_grad = lambda v: (v > 0).astype(float)  # noqa: E731
    assert not check_grad(relu_sum, relu_grad, x).passed  # the default step (≈2e-3) straddles 0
    report = assert_grad_close(relu_sum, relu_grad, x, kinks=[0.0])
    assert report.step <= 0.5e-4


def test_a_point_on_a_declared_kink_is_sent_to_assert_subgradient():
    with pytest.raises(ValueError, match="assert_subgradient"):
        check_grad(lambda v: float(np.sum(np.abs(v))), np.sign, np.array([1.0, 0.0]), kinks=[0.0])
