"""Sums of exponentials inside sums, signed sums under a negative power, and max(z/(1 + |z|), c): finite and
warning-free values and gradients for |z| ≤ 1000 in float32 and float64 on numpy, JAX and PyTorch (numpy errors
raise in every test, tests/conftest.py; warnings are errors here).

Each family overflowed as typed: log(2eᶻ + 4 + e⁻ᶻ + 1/(eᶻ + 2 + e⁻ᶻ)) (SymPy's form of
log(e^{log(2 + e^{log S} + e^{−log S})} + eᶻ), S = 2 + eᶻ + e⁻ᶻ; found by bench/stability_sweep.py) was log(inf) at
z = 1000, 1/(eᶻ + e⁻ᶻ − 3/2) was 1/inf with an overflow warning, and max(z/(1 + |z|), c)'s printed condition divided
by 1 − z at z = 1.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_stability import (
    BACKENDS,
    DTYPES,
    POINTS,
    _finite_without_warnings,
    _proven_finite_and_accurate,
)

import symdl
from symdl.symbolic.rewrite import applied_rewrites

#: |z| ≤ 1000: the points that break naive code, ±1 (where 1 − |z| is 0) and four drawn ones (always four, as in
#: test_stability: one array shape, so JAX compiles each operation once for all examples).
_points = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=4, max_size=4).map(
    lambda xs: np.concatenate([POINTS, [1.0, -1.0, 0.5, -0.5], xs]))
_coefficient = st.sampled_from(("1", "2", "0.5", "3"))
_exponent = st.sampled_from(("z", "-z", "2*z", "z/2", "-2*z"))
_exp_term = st.builds(lambda c, u: f"{c}*exp({u})", _coefficient, _exponent)

# --- a power of a positive sum inside such a sum: log_sum_exp_nested ------------------------------------------

#: The sweep's formulas, and smaller ones of the same kind: each a log of a sum holding e^{±log S} of a sum S.
NESTED = (
    "log(exp(log(2 + exp(log(2 + exp(z) + exp(-(z)))) + exp(-(log(2 + exp(z) + exp(-(z))))))) + exp(z))",
    "log(exp(z) + 2 + exp(-log(exp(z) + exp(-z) + 1)))",
    "log(exp(2*z) + 3/(exp(z) + exp(-z)))",
    "log(1 + sqrt(1 + exp(2*z)))",
)


@pytest.mark.parametrize("text", NESTED)
def test_logs_of_sums_holding_powers_of_sums_are_proven_finite_and_accurate(text):
    r = symdl.formula_rule(text)
    assert "log_sum_exp_nested" in applied_rewrites(r.expr), text
    _proven_finite_and_accurate(r, text)


#: A positive sum S of three terms (exponentials growing on either side and a number: no two-term pattern takes it).
_inner = st.builds(lambda c1, u, c2, v, c: f"{c1}*exp({u}) + {c2}*exp({v}) + {c}", _coefficient,
                   st.sampled_from(("z", "2*z", "z/2")), _coefficient, st.sampled_from(("-z", "-2*z", "-z/2")), _coefficient)


@given(outer=st.lists(_exp_term, min_size=1, max_size=3), c=_coefficient, inner=_inner,
       k=st.sampled_from(("-1", "-2", "2", "1/2", "-1/2")), x=_points,
       backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_logs_of_sums_holding_a_power_of_a_positive_sum_stay_finite_and_warning_free(outer, c, inner, k, x, backend,
                                                                                     dtype):
    """log(Σ cᵢe^{uᵢ} + c·e^{k·log S}): SymPy turns e^{k·log S} into Sᵏ, read as e^{k·(M_S + log s_S)}."""
    text = f"log({' + '.join(outer)} + {c}*exp(({k})*log({inner})))"
    r = symdl.formula_rule(text)
    assert "log_sum_exp_nested" in applied_rewrites(r.expr), text
    _finite_without_warnings(backend, r, x.astype(dtype))


# --- signed sums under a negative power: exp_sum_signed_reciprocal, exp_sum_signed_ratio -----------------------

SIGNED = ("1/(exp(z) + exp(-z) - 1.5)", "exp(z)/(exp(z) + exp(-z) - 1.5)", "exp(-z)/(exp(z) + exp(-z) - 1.5)**2",
          "1/(exp(2*z) - exp(z) + 1)")


@pytest.mark.parametrize("text", SIGNED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_negative_powers_of_signed_sums_are_proven_and_finite(text, dtype):
    """Finite only: the derivatives are differences near z = 0 ((e^{z−M} − e^{−z−M})/…), as log_sum_exp_signed's."""
    r = symdl.formula_rule(text)
    assert {"exp_sum_signed_reciprocal", "exp_sum_signed_ratio"} & set(applied_rewrites(r.expr)), text
    assert all(r.prove().values()), {k: p.method for k, p in r.prove().items() if not p}
    for backend in BACKENDS:
        _finite_without_warnings(backend, r, POINTS.astype(dtype))


_rate = st.sampled_from((1, 2, 3, 0.5))


@given(c1=_coefficient, a=_rate, c2=_coefficient, b=_rate, fraction=st.sampled_from((0.25, 0.5, 0.9, 0.999)),
       outer=st.sampled_from(("1/({s})", "({s})**-2", "z/({s})", "exp({a}*z)/({s})", "exp(-{b}*z)/({s})**3")),
       x=_points, backend=st.sampled_from(sorted(BACKENDS)), dtype=st.sampled_from(DTYPES))
def test_negative_powers_of_sums_less_a_constant_below_their_minimum_stay_finite_and_warning_free(
        c1, a, c2, b, fraction, outer, x, backend, dtype):
    """(c₁e^{az} + c₂e^{−bz} − k)ᵖ, p < 0, with 0 < k < the minimum c₁(1 + a/b)(b·c₂/(a·c₁))^{a/(a+b)}: divided
    through by the largest exponential, the shifted sum lies in [δ, c₁ + c₂] with δ > 0 proven (Sturm's count)."""
    low = float(c1) * (1 + a / b) * (b * float(c2) / (a * float(c1))) ** (a / (a + b))
    k = np.floor(fraction * low * 1e4) / 1e4
    text = outer.format(s=f"{c1}*exp({a}*z) + {c2}*exp(-{b}*z) - {k}", a=a, b=b)
    r = symdl.formula_rule(text)
    assert {"exp_sum_signed_reciprocal", "exp_sum_signed_ratio"} & set(applied_rewrites(r.expr)), text
    _finite_without_warnings(backend, r, x.astype(dtype))


# --- max(z/(1 + |z|), c): conditions compare the arguments as typed ----------------------------------------------


@given(c=st.floats(-2, 2, allow_nan=False).map(lambda c: round(c, 3)) | st.sampled_from((0.0, 0.5, -0.5, 1.0, 27.0)),
       which=st.sampled_from(("max", "min")), x=_points, backend=st.sampled_from(sorted(BACKENDS)),
       dtype=st.sampled_from(DTYPES))
def test_max_of_softsign_and_a_constant_is_finite_warning_free_and_right(c, which, x, backend, dtype):
    """max(z/(1 + |z|), c): |z| rewritten inside the condition made it z/(1 − z) ≤ c for z < 0, which numpy evaluated
    (and divided by 0) at z = 1 too; the value and derivative against a hand-written reference."""
    r = symdl.formula_rule(f"{which}(z/(1 + abs(z)), {c})")
    x = x.astype(dtype)
    value, grad = _finite_without_warnings(backend, r, x)
    soft = x.astype(np.float64) / (1 + np.abs(x.astype(np.float64)))
    want = np.maximum(soft, c) if which == "max" else np.minimum(soft, c)
    # XLA on the CPU flushes subnormal results to 0 (z/(1 + |z|) at z = 3.4e-39 in float32 is 0 from JAX): below the
    # smallest normal number, JAX's value may be 0; numpy and torch keep the subnormal and are held to rtol alone
    flushed = np.finfo(dtype).tiny if backend == "jax" else 0
    np.testing.assert_allclose(value, want, rtol=4 * np.finfo(dtype).eps, atol=flushed)
    away = np.abs(soft - c) > 1e-3  # off the kink, the derivative is the chosen branch's
    chosen = (soft > c) if which == "max" else (soft < c)
    size = 1 + np.abs(x.astype(np.float64))
    slope = np.where(chosen, 1 / size**2, 0.0)
    # printed as the quotient rule 1/(1 + |z|) − |z|/(1 + |z|)², which cancels: ε·(1 + |z|) relative, not ε
    error = np.abs(grad.astype(np.float64) - slope) / (np.abs(slope) + (slope == 0))
    assert (error[away] <= 8 * np.finfo(dtype).eps * size[away]).all(), (x[away], grad[away], slope[away])


def test_a_constant_root_that_cse_pulls_out_prints_as_a_float_in_torch():
    """cse pulls √3 out of √(3eᶻ + 3e⁻ᶻ + 3) here; torch.sqrt takes no Python number, so it must print as 1.732…
    (found by the hypothesis test above: TypeError 'sqrt(): argument 'input' must be Tensor, not int')."""
    text = "log(3*exp(z/2) + 3*exp(z/2) + 3*exp((1/2)*log(3*exp(z) + 3*exp(-z) + 3)))"
    r = symdl.formula_rule(text)
    for dtype in DTYPES:
        _finite_without_warnings("torch", r, POINTS.astype(dtype))
