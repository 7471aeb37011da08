"""Named SymPy functions (sigmoid, softplus, log cosh): derivatives, stable forms, numerics, LaTeX.

Every expected value here comes from an independent source: derivative and
definition formulas written out in this file, mpmath at high precision, or
finite differences of the generated code.
"""

from __future__ import annotations

import doctest
import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symdl.symbolic.functions
import symdl.testing
from symdl.codegen.kernel import compile_kernel
from symdl.symbolic.functions import NAMED_FUNCTIONS, log_cosh, sigmoid, softplus
from symdl.symbolic.proof import prove_zero

x = sp.Symbol("x", real=True)

# Independent definitions: the function at 'dps' digits, and its derivative in elementary SymPy terms.
MPMATH_REFERENCE = {
    "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
    "softplus": lambda t: mpmath.log(1 + mpmath.exp(t)),
    "log_cosh": lambda t: mpmath.log(mpmath.cosh(t)),
    "Phi": lambda t: mpmath.ncdf(t),
}
TEXTBOOK_DERIVATIVE = {
    "sigmoid": sp.exp(-x) / (1 + sp.exp(-x)) ** 2,
    "softplus": 1 / (1 + sp.exp(-x)),
    "log_cosh": sp.sinh(x) / sp.cosh(x),
    "Phi": sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi),
}
LATEX_MACRO = {"Phi": r"\Phi", "sigmoid": r"\sigma", "softplus": r"\operatorname{softplus}", "log_cosh": r"\log\cosh"}
NAMES = [name for name in NAMED_FUNCTIONS if name in MPMATH_REFERENCE]
TINY64 = float(np.finfo(np.float64).tiny)
TINY32 = float(np.finfo(np.float32).tiny)


def _dps(value: float) -> int:
    """Digits enough for log cosh's cancellation (cosh x − 1 ≈ x²/2) even for subnormal x."""
    if value == 0 or abs(value) >= 1:
        return 60
    return 60 + 2 * int(math.ceil(-math.log10(abs(value))))


def reference(name: str, value: float) -> float:
    with mpmath.workdps(_dps(value)):
        return float(MPMATH_REFERENCE[name](mpmath.mpf(float(value))))


@functools.lru_cache(maxsize=None)
def kernel(name: str):
    return compile_kernel(NAMED_FUNCTIONS[name](x), [x], name)


@functools.lru_cache(maxsize=None)
def derivative_kernel(name: str):
    return compile_kernel(sp.diff(NAMED_FUNCTIONS[name](x), x), [x], f"d_{name}")


def test_every_named_function_has_an_independent_reference():
    assert set(NAMED_FUNCTIONS) == set(MPMATH_REFERENCE), "add a reference for each new named function"
    assert {"sigmoid", "softplus", "log_cosh"} <= set(NAMED_FUNCTIONS)
    assert NAMED_FUNCTIONS["sigmoid"] is sigmoid
    assert NAMED_FUNCTIONS["softplus"] is softplus
    assert NAMED_FUNCTIONS["log_cosh"] is log_cosh


# --- symbolic ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_derivative_of_definition_equals_fdiff(name):
    f = NAMED_FUNCTIONS[name]
    assert prove_zero(sp.diff(f.definition(x), x) - f(x).fdiff(), x)


@pytest.mark.parametrize("name", NAMES)
def test_sympy_derivative_equals_textbook_formula(name):
    f = NAMED_FUNCTIONS[name]
    assert prove_zero(sp.diff(f(x), x) - TEXTBOOK_DERIVATIVE[name], x)


@pytest.mark.parametrize("name", NAMES)
def test_chain_rule_goes_through_fdiff(name):
    f = NAMED_FUNCTIONS[name]
    inner = x**2
    expected = TEXTBOOK_DERIVATIVE[name].subs(x, inner) * 2 * x
    assert prove_zero(sp.diff(f(inner), x) - expected, x)


@pytest.mark.parametrize("name", NAMES)
def test_stable_form_equals_definition(name):
    """The numpy-printed stable form is exactly the definition (for every real x)."""
    f = NAMED_FUNCTIONS[name]
    proof = prove_zero(f.stable(x) - f.definition(x), x)
    assert proof, f"{name}: stable form not proven equal to the definition: {proof.method}"


@pytest.mark.parametrize("name", NAMES)
def test_rewrite_to_exp_is_the_definition(name):
    f = NAMED_FUNCTIONS[name]
    rewritten = f(x).rewrite(sp.exp)
    assert not rewritten.has(f)
    assert prove_zero(rewritten - f.definition(x), x)


def test_wrong_derivatives_are_not_proven():
    # σ' ≠ σ, softplus' ≠ softplus, (log cosh)' ≠ sinh: the proofs above can fail.
    assert not prove_zero(sp.diff(sigmoid.definition(x), x) - sigmoid(x), x)
    assert not prove_zero(sp.diff(softplus.definition(x), x) - softplus(x), x)
    assert not prove_zero(sp.diff(log_cosh.definition(x), x) - sp.sinh(x), x)


def test_sigmoid_at_zero_is_exactly_one_half():
    assert sigmoid(sp.Integer(0)) == sp.Rational(1, 2)


@pytest.mark.parametrize("name", NAMES)
def test_evalf_matches_mpmath(name):
    value = sp.Rational(7, 3)
    got = sp.N(NAMED_FUNCTIONS[name](value), 30)
    with mpmath.workdps(40):
        expected = MPMATH_REFERENCE[name](mpmath.mpf(7) / 3)
        assert abs(mpmath.mpf(str(got)) - expected) < mpmath.mpf(10) ** -28 * abs(expected)


@pytest.mark.parametrize("name", NAMES)
def test_real_for_real_argument(name):
    assert NAMED_FUNCTIONS[name](x).is_real is True


@pytest.mark.parametrize("name", NAMES)
def test_latex_uses_the_expected_macro(name):
    f = NAMED_FUNCTIONS[name]
    text = sp.latex(f(x))
    assert LATEX_MACRO[name] in text
    assert r"\left(x\right)" in text
    squared = sp.latex(f(x) ** 2)
    assert LATEX_MACRO[name] in squared and "^{2}" in squared
    # The power applies to the whole function, not to its argument.
    assert squared.index(LATEX_MACRO[name]) < squared.index("^{2}")
    assert squared.rindex(r"\right)") < squared.index("^{2}")


def test_log_cosh_power_is_parenthesised():
    # "\log\cosh(x)^2" would read as log(cosh(x)²); the square must wrap the whole log cosh.
    text = sp.latex(log_cosh(x) ** 2)
    assert text.startswith(r"\left(") and text.endswith("^{2}")


def test_doctests_of_functions_module():
    result = doctest.testmod(symdl.symbolic.functions, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_doctests_of_testing_module():
    result = doctest.testmod(symdl.testing, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# --- numeric: generated stable code ---------------------------------------


@pytest.mark.parametrize("name", NAMES)
@given(value=st.floats(-40, 40, allow_nan=False, allow_infinity=False))
def test_stable_kernel_matches_mpmath_float64(name, value):
    got = kernel(name)(np.float64(value))
    expected = reference(name, value)
    # Relative to the result, floored at the smallest normal float (subnormal results carry fewer digits).
    assert abs(float(got) - expected) <= 1e-13 * max(abs(expected), TINY64), (value, float(got), expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0.0, 5e-324, -1e-300, 1e-20, -1e-8, 1e-3, 19.999999, 20.0, -20.000001, 36.5, -40.0])
def test_stable_kernel_matches_mpmath_at_hard_points(name, value):
    got = float(kernel(name)(np.float64(value)))
    expected = reference(name, value)
    assert abs(got - expected) <= 1e-13 * max(abs(expected), TINY64), (value, got, expected)


@pytest.mark.parametrize("name", NAMES)
@given(value=st.floats(-40, 40, allow_nan=False, allow_infinity=False, width=32))
def test_stable_kernel_matches_mpmath_float32(name, value):
    got = kernel(name)(np.float32(value))
    assert got.dtype == np.float32
    expected = reference(name, value)
    assert abs(float(got) - expected) <= 1e-5 * max(abs(expected), TINY32), (value, float(got), expected)


@pytest.mark.parametrize("name", NAMES)
@given(value=st.floats(-30, 30, allow_nan=False, allow_infinity=False))
def test_derivative_kernel_matches_central_difference(name, value):
    value = np.float64(value)
    fd = symdl.testing.central_difference(kernel(name), [value])
    exact = derivative_kernel(name)(value)
    assert abs(fd - exact) <= 1e-7 * max(1.0, abs(exact))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(value=st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=32))
def test_finite_and_warning_free_on_wide_range(name, dtype, value):
    # conftest turns overflow/invalid/divide into FloatingPointError, so a warning fails here.
    values = np.array([value, -value, 1000.0, -1000.0], dtype=dtype)
    for k in (kernel(name), derivative_kernel(name)):
        out = k(values)
        assert out.dtype == dtype
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_respect_known_bounds_at_extremes(dtype):
    values = np.array([-1000, -710, -89, -1, 0, 1, 89, 710, 1000], dtype=dtype)
    s = kernel("sigmoid")(values)
    assert np.all((s >= 0) & (s <= 1))
    assert s[0] == 0 or s[0] < 1e-30
    assert s[-1] == 1
    sp_ = kernel("softplus")(values)
    assert np.all(sp_ >= 0)
    assert np.all(sp_ >= values)
    assert sp_[-1] == dtype(1000)
    lc = kernel("log_cosh")(values)
    assert np.all(lc >= 0)
    np.testing.assert_allclose(lc[[0, -1]], 1000 - math.log(2), rtol=1e-6)
