"""Products where one factor overflows as another underflows (found by bench/stability_sweep.py): finite and accurate
values and gradients for |z| ≤ 1000 in float32 and float64 (numpy errors raise in every test, tests/conftest.py;
warnings are errors here).

log(1 + σ(z)/(σ(z) + e^{e^{z/2}})) was NaN in the JAX and PyTorch exports at z ≥ 709 in float32 (e^{z/2} is inf
there, e^{z/2 − M} inf − inf, and the derivative inf·0).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from test_stability import BACKENDS, POINTS, _finite_without_warnings, _reference

import symdl
from symdl.symbolic.branches import GuardedChoice, guard_branches, prove_guarded
from symdl.symbolic.proof import prove_zero
from symdl.symbolic.rewrite import applied_rewrites, stable_conditions
from symdl.testing import relative_error


def _reference_or_nan(expr, var, x: np.ndarray) -> np.ndarray:
    """:func:`test_stability._reference` at each point, NaN where mpmath cannot give a float (e^{−e^{2000}}'s
    exponent at z = −1000); those points are not compared."""
    out = []
    for v in x:
        try:
            out.append(_reference(expr, var, np.array([v]))[0])
        except (OverflowError, ValueError, ZeroDivisionError):
            out.append(np.nan)
    return np.array(out)


def _finite_and_accurate(r, text: str, cases: list[tuple[str, type]], cancels: float = 0.0) -> None:
    """Value and derivative finite, warning-free and within 10·rtol of 1200-digit mpmath at :data:`POINTS` for each
    (backend, dtype) of ``cases`` (relative error where the true value is far from underflow; the derivative's only
    for |z| ≥ ``cancels``, where it is not a difference of two terms that cancel)."""
    exact = {"value": r.bind(r.expr), "derivative": r.bind(r.derivative())}
    references = {d: {what: _reference_or_nan(e, r.wrt, POINTS.astype(d)) for what, e in exact.items()} for _, d in cases}
    for backend, dtype in cases:
        rtol = 1e-5 if dtype == np.float32 else 1e-13
        x = POINTS.astype(dtype)
        got = dict(zip(("value", "derivative"), _finite_without_warnings(backend, r, x)))
        for what, value in got.items():
            want = references[dtype][what]
            normal = np.abs(want) >= np.finfo(dtype).tiny / np.finfo(dtype).eps
            if what == "derivative":
                normal &= np.abs(x) >= cancels
            errors = relative_error(value.astype(np.float64), want)[normal]
            assert errors.max(initial=0.0) <= 10 * rtol, (text, backend, what, dtype, errors.max())


# --- a ratio of two terms, one of them e^{e^{w}}: sigmoid_of_term_ratio, exp_sigmoid_sum -----------------------

#: The sweep's formula. numpy float32 is left out: there e^{z/2} itself overflows at z ≥ 178 (an overflow warning that
#: no exact form avoids, since the exact value needs e^{z/2}); the exports compute inf without a warning.
TERM_RATIO = "log(1 + sigmoid(z)/(sigmoid(z) + exp(exp(z/2))))"


def test_a_ratio_of_a_sigmoid_and_a_doubly_exponential_sum_is_finite_and_accurate():
    r = symdl.formula_rule(TERM_RATIO)
    assert {"sigmoid_of_term_ratio", "log1p"} <= set(applied_rewrites(r.expr))
    assert all(r.prove().values())
    cases = [(b, d) for b in BACKENDS for d in (np.float32, np.float64) if (b, d) != ("numpy", np.float32)]
    # the derivative is (σ(−z) − e^{z/2}/2)·…, 0 at z = 0 and a difference of two halves near it
    _finite_and_accurate(r, TERM_RATIO, cases, cancels=1.0)


# --- a product of exponentials, one of them e^{±e^{v}}: exp_of_exp_product -----------------------------------

#: The sweep's formula: its derivative is −(2/√π)·e^{−z}·e^{−e^{−2z}}·e^{−erfc(e^{−z})}, inf·0 at z ≤ −88.72 in float32
#: as typed. numpy is left out: e^{−2z} itself overflows at z ≤ −44.4 in float32 and −354.9 in float64 (a warning no
#: exact form avoids, since e^{−e^{−2z}} needs it); the exports compute inf without a warning.
EXP_OF_EXP = "exp(-(erfc(exp(-(z)))))"


def test_a_product_with_a_doubly_exponential_factor_is_one_exponential_finite_and_accurate():
    r = symdl.formula_rule(EXP_OF_EXP)
    assert all(r.prove().values())
    _finite_and_accurate(r, EXP_OF_EXP, [(b, d) for b in ("torch", "jax") for d in (np.float32, np.float64)])


# --- branch conditions that are not linear: exp_comparison and the double where of guard_branches ---------------

#: The sweep's formula: min's branch conditions compare eᶻσ(z) (overflows at z = 89 in float32, 710 in float64) with 3
#: and with 2z, and numpy evaluates every condition and branch of a ``where``.
NONLINEAR_MIN = "min(min(2*z, 3), exp(z)*sigmoid(z))"


def test_a_min_whose_conditions_overflow_is_finite_and_accurate_in_numpy():
    """The first condition's eᵘ ≥ 3 prints as u ≥ log 3 (exp_comparison); the second condition and the last branch see z
    guarded by the earlier conditions (where(E, s, z), s a point where none holds), so nothing overflows. The exports
    are not timed here: their printing takes SymPy minutes on this formula at the shared VM's load."""
    r = symdl.formula_rule(NONLINEAR_MIN)
    # (the derivative's proof is undecided, as before, and so is prove_guarded here: 2z = eᶻσ(z) has no closed-form root
    # for SymPy; the guard's proof is the next test's)
    assert r.prove()["stable forward - expr"]
    assert "exp_comparison" not in applied_rewrites(r.expr)  # printing's: the rule's forms keep eᶻσ(z) ≥ 3
    assert stable_conditions(r.numeric_forward_expr()) != r.numeric_forward_expr()
    _finite_and_accurate(r, NONLINEAR_MIN, [("numpy", np.float32), ("numpy", np.float64)])


def test_a_guard_of_a_nonlinear_condition_is_equal_where_the_branch_is_reached():
    """guard_branches on a Piecewise with nonlinear conditions: proven equal; the guards are where(E, s, z)."""
    z = sp.Symbol("z", real=True)
    pw = sp.Piecewise((0, z**2 >= 100), (1 / (z - 20), sp.exp(z) >= 3), (sp.log(z + 50), True))
    guarded = guard_branches(pw)
    assert guarded.atoms(GuardedChoice) and guarded != pw
    assert all(prove_guarded(pw).values())
    # the guard's condition negated (the safe point used where the branch is reached): refuted
    flipped = guarded.replace(lambda e: isinstance(e, GuardedChoice),
                              lambda e: GuardedChoice(e.args[0], sp.Not(e.args[1]), e.args[2]))
    as_piecewise = flipped.replace(lambda e: isinstance(e, GuardedChoice), lambda e: e.rewrite(sp.Piecewise))
    assert not prove_zero(as_piecewise - pw, z)
