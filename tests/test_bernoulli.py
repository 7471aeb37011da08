"""B(u) = u/(eᵘ − 1) (the rewrite ``bernoulli``, symdl.symbolic.bernoulli): finite, warning-free and accurate values
and derivatives for |z| ≤ 1000 in float32 and float64 on every backend, the removable point z = 0 included.

As typed, the float32 derivative of z/(eᶻ − 1) was 0 at z = 1e-8 (exact −1/2 + z/6 − …) and 4e-4 off at z = 1e-4,
the difference 1/(eᶻ − 1) − z·eᶻ/(eᶻ − 1)² of two numbers of size 1/z; and expm1 overflowed from z ≈ 89 in float32.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from test_stability import _finite_without_warnings
from test_stability_products import _finite_and_accurate

import symdl
from symdl.codegen.kernel import compile_kernel
from symdl.symbolic.bernoulli import LANGEVIN_SERIES_END, bernoulli_ratio
from symdl.symbolic.proof import elementary, prove_zero
from symdl.symbolic.rewrite import applied_rewrites
from symdl.symbolic.special import bernoulli_fn, one_plus_langevin
from symdl.testing import relative_error

z = sp.Symbol("z", real=True)
TEXT = "z/(exp(z) - 1)"


def _exact(x: float, derivative: bool) -> float:
    """B(x) or B'(x) in mpmath: B'(x) = (expm1 x − x·eˣ)/expm1(x)², the limits 1 and −1/2 at 0 (the numerator
    cancels to −x²/2: 60 digits beyond the 2·|log₁₀ x| it loses)."""
    x = float(x)
    with mpmath.workdps(60 + (2 * int(-np.log10(abs(x))) if 0 < abs(x) < 1 else 0)):
        t = mpmath.mpf(x)
        if t == 0:
            return -0.5 if derivative else 1.0
        e = mpmath.expm1(t)
        return float((e - t * mpmath.exp(t)) / e**2 if derivative else t / e)


def _max_error(got: np.ndarray, x: np.ndarray, derivative: bool) -> float:
    want = np.array([_exact(v, derivative) for v in x])
    return float(relative_error(got, want).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_derivative_near_the_removable_point_keeps_every_digit(dtype):
    r = symdl.formula_rule(TEXT)
    x = np.array([0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-4, -1e-4, 1e-3, -1e-3, 0.1, -0.1], dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    assert _max_error(r.numeric_derivative()(x), x, True) <= 4 * eps
    assert _max_error(r.numeric()(x), x, False) <= 4 * eps
    assert r.numeric_derivative()(dtype(0)) == dtype(-0.5) and r.numeric()(dtype(0)) == 1


def test_the_rule_prints_b_and_proves_its_forms():
    r = symdl.formula_rule(TEXT)
    assert applied_rewrites(r.expr) == ("bernoulli",)
    assert all(r.prove().values())


def test_value_and_gradient_are_finite_and_accurate_in_numpy_and_torch():
    r = symdl.formula_rule(TEXT)
    _finite_and_accurate(r, TEXT, [(b, d) for b in ("numpy", "torch") for d in (np.float32, np.float64)])
    for backend in ("numpy", "torch"):
        for dtype in (np.float32, np.float64):
            value, grad = _finite_without_warnings(backend, r, np.array([0.0, 1e-8], dtype=dtype))
            assert value[0] == 1 and grad[0] == -0.5, (backend, dtype, value, grad)
            assert relative_error(grad[1:], np.array([_exact(1e-8, True)])) <= 2 * np.finfo(dtype).eps, (backend, grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_jax_export_prints_the_same_forms(dtype):
    # jit: one XLA compilation (eager JAX compiles each of the series' operations apart, seconds per call)
    jax = pytest.importorskip("jax")
    f = symdl.export.to_jax(symdl.formula_rule(TEXT))
    x = np.array([0.0, 1e-30, 1e-8, -1e-4, 1e-3, 0.7, -3.0, 20.0, 88.0, -709.0, 1000.0, -1000.0], dtype=dtype)
    with jax.enable_x64(dtype == np.float64):
        value = np.asarray(jax.jit(f)(x))
        grad = np.asarray(jax.jit(jax.grad(lambda a: f(a).sum()))(x))
    assert value.dtype == dtype and grad.dtype == dtype
    for got, derivative in ((value, False), (grad, True)):
        want = np.array([_exact(v, derivative) for v in x])
        normal = np.abs(want) >= np.finfo(dtype).tiny / np.finfo(dtype).eps
        assert relative_error(got, want)[normal].max() <= 8 * np.finfo(dtype).eps, (derivative, got, want)


_KERNELS = {"value": compile_kernel(bernoulli_fn(z), (z,), "b"), "derivative": compile_kernel(sp.diff(bernoulli_fn(z), z), (z,), "b_d")}


@given(
    st.one_of(st.floats(-1000, 1000), st.floats(-1, 1), st.floats(-1e-6, 1e-6), st.sampled_from([0.0, 0.5, -0.5, 1.0, -1.0])),
    st.sampled_from([np.float32, np.float64]),
)
def test_printed_b_and_its_derivative_match_mpmath(x, dtype):
    # Both sides of M's series end (|z/2| = 1/2), tiny and subnormal inputs, ±1000: within a few ulps everywhere.
    point = np.array([x], dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    assert _max_error(_KERNELS["value"].function(point), point, False) <= 4 * eps
    assert _max_error(_KERNELS["derivative"].function(point), point, True) <= 6 * eps


def test_m_is_one_plus_the_langevin_function_and_its_series_ends_where_the_difference_stops_cancelling():
    x = sp.Symbol("x", real=True)
    assert prove_zero(elementary(one_plus_langevin(x)) - (1 + sp.coth(x) - 1 / x).rewrite(sp.exp), x)
    assert not prove_zero(elementary(one_plus_langevin(x)) - (1 + sp.coth(x) + 1 / x).rewrite(sp.exp), x)
    assert one_plus_langevin(0) == 1
    kernel = compile_kernel(one_plus_langevin(x), (x,), "m").function
    end = float(LANGEVIN_SERIES_END)
    points = np.array([0.0, 1e-3, end * (1 - 1e-15), end, -end, 0.7, -0.7, 30.0, -30.0, 500.0, -500.0])
    with mpmath.workdps(60):
        want = np.array([1.0] + [float(1 + mpmath.coth(mpmath.mpf(p)) - 1 / mpmath.mpf(p)) for p in points[1:]])
    assert relative_error(kernel(points), want).max() <= 4 * np.finfo(np.float64).eps


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("2*z/(exp(2*z) - 1)", bernoulli_fn(2 * z)),
        ("z**2/(exp(z) - 1)", z * bernoulli_fn(z)),
        ("z/(1 - exp(z))", -bernoulli_fn(z)),
        ("z**2/(exp(z) - 1)**2", bernoulli_fn(z) ** 2),
        ("3*z/(exp(z/2) - 1)", 6 * bernoulli_fn(z / 2)),
    ],
)
def test_the_pattern_is_found_in_the_forms_sympy_leaves(text, form):
    assert symdl.formula_rule(text).definition.stable_expr == form


def test_a_ratio_whose_rest_divides_by_u_is_left_to_expm1():
    # 1/(eᶻ − 1) = B(z)/z would trade the pole for 0/0 at z = 0.
    assert bernoulli_ratio(1 / (sp.exp(z) - 1)) is None
    assert bernoulli_ratio(sp.Mul(z, 1 / (sp.exp(z) - 1), 1 / sp.sin(z), evaluate=False)) is None
