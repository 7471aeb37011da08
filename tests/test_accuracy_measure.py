"""The accuracy measure never cries wolf on a correct formula and still catches lost digits.

Relative error where the reference is a normal number, an absolute floor below, and the error an input
perturbation of INPUT_ULPS ulps explains forgiven (symdl.testing.relative_error).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl import testing
from symdl.codegen.kernel import compile_kernel
from symdl.rulebook.rule import formula_rule

z = sp.Symbol("z", real=True)

# Common activations as users type them (GELU-tanh is PyTorch's approximate='tanh' formula).
FORMULAS = {
    "gelu_tanh": "0.5*z*(1 + tanh(sqrt(2/pi)*(z + 0.044715*z**3)))",
    "mish": "z*tanh(log(1 + exp(z)))",
    "swish": "z*sigmoid(z)",
    "softsign": "z/(1 + abs(z))",
}
RULES = {name: formula_rule(text) for name, text in FORMULAS.items()}
RTOL = {np.float64: testing.ACCURACY_RTOL[np.dtype(np.float64)], np.float32: testing.ACCURACY_RTOL[np.dtype(np.float32)]}


def _worst(kernel, expr, x):
    # expr: the stable form (proven equal to the typed one); the typed 1 + tanh u at z = −29 needs 1,600+ digits.
    with np.errstate(all="ignore"):
        numeric = np.asarray(kernel(x))
    finite = np.isfinite(numeric)
    reference = testing.mpmath_reference(expr, [z], [x], where=finite)
    return float(np.max(testing.relative_error(numeric, reference, testing.input_sensitivity(kernel, [x]))[finite]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(FORMULAS))
@settings(max_examples=15, deadline=None)
@given(points=st.lists(st.floats(-40, 40), min_size=20, max_size=20))
def test_no_false_alarm_on_common_formulas(name, dtype, points):
    r = RULES[name]
    x = np.array(points, dtype=dtype)
    for kernel, expr in ((r.numeric(), r.numeric_forward_expr()), (r.numeric_derivative(), r.numeric_derivative_expr())):
        assert _worst(kernel, expr, x) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gelu_tanh_far_left_used_to_be_a_false_alarm(dtype):
    # Where e^{2u} is tiny, u's own rounding moves it by |2u|·ε: a relative error the plain measure counted.
    r = RULES["gelu_tanh"]
    x = np.linspace(-21, -8, 131).astype(dtype)
    kernel, expr = r.numeric(), r.numeric_forward_expr()
    with np.errstate(all="ignore"):
        numeric = np.asarray(kernel(x))
    reference = testing.mpmath_reference(expr, [z], [x])
    assert np.max(testing.relative_error(numeric, reference)) > RTOL[dtype] / 4  # the conditioning is real
    assert _worst(kernel, expr, x) <= RTOL[dtype]


# Hand-typed naive numpy (symdl's printer would rewrite these into expm1, log1p and σ).
NAIVE = {
    "0.5*z*(1 + tanh(z))": (lambda v: 0.5 * v * (1 + np.tanh(v)), -20.0),  # 1 + tanh u cancels: every digit lost
    "log(1 + z) - z": (lambda v: np.log(1 + v) - v, 1e-9),
    "exp(z) - 1 - z": (lambda v: np.exp(v) - 1 - v, 1e-6),
}


@pytest.mark.parametrize("text", sorted(NAIVE))
def test_lost_digits_are_still_caught(text):
    naive, at = NAIVE[text]
    expr = formula_rule(text).expr
    with np.errstate(all="ignore"):
        assert _worst(naive, expr, np.array([at])) > 1e-6  # the tolerance is 1e-13


def test_sensitivity_is_sum_of_x_times_slope():
    kernel = compile_kernel(z**3, [z], "cube")
    got = testing.input_sensitivity(kernel, [np.array([2.0, -1.0, 0.0])])
    np.testing.assert_allclose(got, [24.0, 3.0, 0.0], rtol=1e-6, atol=1e-300)


def test_sensitivity_forgives_only_the_input_rounding():
    eps = np.finfo(np.float64).eps
    sens = np.array([10.0])
    within = testing.relative_error(np.array([1.0 + 5 * eps * 10]), np.array([1.0]), sens)
    beyond = testing.relative_error(np.array([1.0 + 20 * eps * 10]), np.array([1.0]), sens)
    assert within[0] == 0.0
    assert beyond[0] > 0.0
