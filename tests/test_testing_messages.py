"""symdl.testing as numpy.testing: rtol=/atol= keywords, multi-line failures naming the worst coordinate, hidden frames."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.testing import (
    assert_grad_close,
    assert_network_grad_close,
    assert_subgradient,
    check_grad,
)
from symdl.testing.gradcheck import TOLERANCES, Tolerance, _tolerance


def _quadratic(x):
    return float(np.sum(x**2))


@settings(max_examples=25)
@given(n=st.integers(3, 12), bad=st.data(), error=st.floats(1e-3, 10.0))
def test_a_failure_names_the_worst_coordinate_with_actual_and_desired(n, bad, error):
    x = np.linspace(-1.0, 1.5, n)
    k = bad.draw(st.integers(0, n - 1))
    grad = 2 * x
    grad[k] += error  # one wrong coordinate
    with pytest.raises(AssertionError) as caught:
        assert_grad_close(_quadratic, grad, x)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("Gradient check failed (directions, 20 checked")
    located = lines[lines.index(f"Checked one by one ({n} coordinates):") + 1:]
    assert located[0] == f"Worst coordinate ({k},)"
    actual = float(re.fullmatch(r" ACTUAL \(analytic\): +(\S+)", located[1]).group(1))
    desired = float(re.fullmatch(r" DESIRED \(finite difference\): +(\S+)", located[2]).group(1))
    assert actual == grad[k] and desired == pytest.approx(2 * x[k], abs=1e-8)


def test_coordinates_mode_and_networks_fail_in_the_same_form():
    x = np.array([0.5, -2.0])
    with pytest.raises(AssertionError, match=r"\(coordinates, 2 checked.*\nWorst coordinate \(1,\)\n ACTUAL \(analytic\): +-3\n"):
        assert_grad_close(_quadratic, np.array([1.0, -3.0]), x, mode="coordinates")
    net = symdl.Network([2, 3, 1]).compile()
    params = net.init(0)
    X, Y = np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([[0.5], [-0.5]])
    report = assert_network_grad_close(net, params, X, Y, rtol=1e-6, atol=1e-10)
    assert report.tolerance == Tolerance(1e-6, 1e-10)
    broken = {k: v.copy() for k, v in params.items()}
    original = net.loss_and_grad

    class Wrong:  # the compiled network with one gradient entry off
        def __getattr__(self, name):
            return getattr(net, name)

        def loss_and_grad(self, p, X, Y):
            loss, grads = original(p, X, Y)
            return loss, {**grads, "b2": grads["b2"] + 0.5}

    with pytest.raises(AssertionError, match=r"^Gradient check failed \(directions.*\nWorst direction \d+\n ACTUAL"):
        assert_network_grad_close(Wrong(), broken, X, Y)


def test_rtol_and_atol_keywords_replace_the_dtype_defaults():
    x = np.array([1.0, 2.0])
    slightly = 2 * x * (1 + 1e-4)  # wrong by 1e-4 relative: fails float64's rtol 1e-6, passes rtol=1e-3
    with pytest.raises(AssertionError):
        assert_grad_close(_quadratic, slightly, x)
    report = assert_grad_close(_quadratic, slightly, x, rtol=1e-3)
    assert report.tolerance == Tolerance(1e-3, TOLERANCES[np.dtype(np.float64)].atol)
    assert check_grad(_quadratic, slightly, x, atol=1.0).passed  # atol alone covers it
    assert _tolerance("f", np.dtype(np.float16), None, 1e-2, 1e-3) == Tolerance(1e-2, 1e-3)  # no table entry: both given
    with pytest.raises(TypeError, match="no tolerance for dtype float16"):
        check_grad(lambda x: float(np.sum(x)), np.ones(2, np.float16), np.ones(2, np.float16), rtol=1e-2)
    with pytest.raises(ValueError, match="not both"):
        check_grad(_quadratic, 2 * x, x, tolerance=Tolerance(1, 1), rtol=1e-3)
    for bad in (-1.0, float("nan"), True, "1e-3"):
        with pytest.raises(ValueError, match="rtol must be a finite number"):
            check_grad(_quadratic, 2 * x, x, rtol=bad)


def test_subgradient_failure_names_the_worst_element():
    x = np.array([0.0, 0.0, 0.0])
    value = np.array([0.5, 1.2, 3.0])  # relu'(0) must lie in [0, 1]: elements 1 and 2 do not, 2 by far the most
    with pytest.raises(AssertionError) as caught:
        assert_subgradient(lambda z: np.maximum(z, 0), value, x)
    lines = str(caught.value).splitlines()
    assert lines[0] == "not a subgradient at x = 0.0: value 3.0 is outside the one-sided derivatives"
    assert lines[1] == "Worst element: x[2] (2 of 3 outside)"
    assert lines[2].split() == ["ACTUAL", "(value):", "3.0"]
    assert_subgradient(lambda z: np.maximum(z, 0), value[:2], x[:2], atol=0.5)  # 1.2 within [0, 1] + 0.5


def test_internal_frames_are_hidden_from_pytest():
    from symdl.testing import gradcheck, network_check, subgradient

    for function in (gradcheck.assert_grad_close, subgradient.assert_subgradient, network_check.assert_network_grad_close):
        assert "__tracebackhide__" in function.__code__.co_varnames
