"""prove_zero: proves true identities (smooth and piecewise) and refuses false ones.

A prover that says "yes" to everything would pass the first half; the second
half (false identities that differ on one interval only, at one breakpoint
only, or only for some parameter values) is what makes the first half mean
something.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from symdl.symbolic.functions import log_cosh, sigmoid, softplus
from symdl.symbolic.proof import (
    Proof,
    breakpoints,
    elementary,
    one_sided_values,
    prove_zero,
    resolve_branches,
)

x = sp.Symbol("x", real=True)
d = sp.Symbol("d", positive=True)  # a Huber-style threshold
c = sp.Symbol("c", real=True)  # a parameter of unknown sign


def huber(e, delta):
    """Written here independently of symdl.rulebook.losses."""
    return sp.Piecewise((e**2 / 2, sp.Abs(e) <= delta), (delta * (sp.Abs(e) - delta / 2), True))


# --- true identities -------------------------------------------------------

TRUE_SMOOTH = {
    "sigmoid symmetry": sigmoid(x) + sigmoid(-x) - 1,
    "tanh via sigmoid": sp.tanh(x) - (2 * sigmoid(2 * x) - 1),
    "softplus difference": softplus(x) - softplus(-x) - x,
    "sigmoid derivative": sp.diff(sigmoid(x), x) - sigmoid(x) * sigmoid(-x),
    "logaddexp": logaddexp(0, x) - sp.log(1 + sp.exp(x)),
    "log1p and expm1": log1p(expm1(x)) - x,
    "log cosh derivative": sp.diff(sp.log(sp.cosh(x)), x) - sp.tanh(x),
    # Real, though SymPy cannot tell the sign of 1 − 1/(1 + e⁻ˣ) until it is over one denominator.
    "log of sigmoid products": sp.log((1 - sigmoid(x)) * sigmoid(x)) + softplus(x) + softplus(-x),
}

TRUE_PIECEWISE = {
    "max plus min": sp.Max(0, x) + sp.Min(0, x) - x,
    "abs is x sign x": sp.Abs(x) - x * sp.sign(x),
    "abs as piecewise": sp.Abs(x) - sp.Piecewise((-x, x < 0), (x, True)),
    "hard tanh two ways": sp.Max(-1, sp.Min(1, x)) - sp.Piecewise((-1, x <= -1), (1, x >= 1), (x, True)),
    "relu squared": sp.Max(0, x) ** 2 - x * sp.Max(0, x),
    "huber derivative is clip": sp.diff(huber(x, d), x) - sp.Max(-d, sp.Min(d, x)),
    "huber via min": huber(x, d) - (sp.Min(sp.Abs(x), d) * (2 * sp.Abs(x) - sp.Min(sp.Abs(x), d)) / 2),
    "two absolute values": sp.Abs(x - d) + sp.Abs(x + d) - 2 * sp.Max(sp.Abs(x), d),
    "shifted breakpoints": sp.Max(x, 3) + sp.Min(x, 3) - x - 3,
}


@pytest.mark.parametrize("label", list(TRUE_SMOOTH))
def test_proves_true_smooth_identities(label):
    proof = prove_zero(TRUE_SMOOTH[label], x)
    assert isinstance(proof, Proof)
    assert proof.holds and bool(proof), proof.method


@pytest.mark.parametrize("label", list(TRUE_PIECEWISE))
def test_proves_true_piecewise_identities(label):
    proof = prove_zero(TRUE_PIECEWISE[label], x)
    assert proof, proof.method
    assert "case analysis" in proof.method
    assert proof.cases >= 2


# --- false identities ------------------------------------------------------

FALSE = {
    "log branch cut": sp.log(x**2) - 2 * sp.log(x),
    "log branch cut beside exp": sp.log(sp.exp(x) * x**2) - x - 2 * sp.log(x),
    "sigmoid antisymmetry": sigmoid(x) - sigmoid(-x),
    "log of sigmoid products, one softplus sign wrong": sp.log((1 - sigmoid(x)) * sigmoid(x)) + softplus(x) + softplus(x),
    "softplus is not identity": softplus(x) - x,
    "off by one breakpoint": sp.Max(0, x) - sp.Max(0, x - 1),
    "off by one branch": sp.Piecewise((0, x <= 0), (x, x < 2), (2, True)) - sp.Min(sp.Max(0, x), 3),
    "wrong sign in one interval": sp.Abs(x) - sp.Piecewise((-x, x < -2), (x, x < 0), (x, True)),
    "wrong sign far out": sp.Abs(x) - sp.Piecewise((x, x > 5), (-x, x < 0), (x, True)) + sp.Piecewise(
        (2 * x, x > 7), (0, True)
    ),
    "huber derivative wrong below -d": sp.Max(-d, sp.Min(d, x)) - sp.Piecewise((x, sp.Abs(x) <= d), (d, True)),
    "huber linear part off by d/2": huber(x, d) - sp.Piecewise((x**2 / 2, sp.Abs(x) <= d), (d * sp.Abs(x), True)),
    "wrong only at the breakpoint": sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True)),
    "wrong only at a breakpoint (sign)": sp.sign(x) - sp.Piecewise((-1, x < 0), (1, True)),
    "wrong only at a shifted breakpoint": sp.Piecewise((x, sp.Ne(x, 2)), (5, True)) - x,
}


@pytest.mark.parametrize("label", list(FALSE))
def test_refuses_false_identities(label):
    proof = prove_zero(FALSE[label], x)
    assert not proof, f"'proved' a false identity: {proof.method}"
    assert proof.holds is False


def test_breakpoint_only_difference_is_accepted_when_that_point_is_excluded():
    expr = sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True))
    assert not prove_zero(expr, x)
    proof = prove_zero(expr, x, exclude=[sp.Integer(0)])
    assert proof
    assert "exclude" in proof.method
    # Excluding a different point does not help.
    assert not prove_zero(expr, x, exclude=[sp.Integer(1)])


def test_parameter_of_unknown_sign_is_not_assumed_positive():
    """|c| − c is zero only for c ≥ 0; c is merely real, so this is not an identity."""
    proof = prove_zero(sp.Abs(c) - c + 0 * x, x)
    assert not proof, f"'proved' |c| - c == 0 for every real c: {proof.method}"


def test_branch_depending_on_the_parameter_of_unknown_sign():
    """max(x, c) = max(x, |c|) only when c ≥ 0 (at c = −1, x = 0 they are 0 and 1)."""
    expr = sp.Max(x, c) - sp.Max(x, sp.Abs(c))
    assert expr.subs({c: -1, x: 0}) != 0
    proof = prove_zero(expr, x)
    assert not proof, f"'proved' an identity false for c < 0: {proof.method}"


def test_branch_depending_on_the_size_of_a_positive_parameter():
    """max(d, 1) = d holds for d ≥ 1 only; d is merely positive."""
    expr = sp.Max(d, 1) - d
    assert expr.subs(d, sp.Rational(1, 2)) != 0
    proof = prove_zero(expr, x)
    assert not proof, f"'proved' an identity false for d < 1: {proof.method}"


def test_periodic_conditions_are_not_truncated_to_one_period():
    """|sin x| − sin(x)·sign(x)·sign(π − x) is 0 on (−π, 2π) but 2 sin x on (2π, 3π)."""
    expr = sp.Abs(sp.sin(x)) - sp.sin(x) * sp.sign(x) * sp.sign(sp.pi - x)
    assert expr.subs(x, 5 * sp.pi / 2) == 2
    proof = prove_zero(expr, x)
    assert not proof, f"'proved' an identity false at x = 5π/2: {proof.method}"


@settings(deadline=None, max_examples=15)
@given(shift=st.fractions(-20, 20, max_denominator=50))
def test_true_identity_proves_wherever_the_breakpoint_is(shift):
    s = sp.Rational(shift.numerator, shift.denominator)
    assert prove_zero(sp.Max(0, x - s) + sp.Min(0, x - s) - (x - s), x)
    assert prove_zero(sp.Abs(x - s) - (x - s) * sp.sign(x - s), x)


@settings(deadline=None, max_examples=15)
@given(
    shift=st.fractions(-20, 20, max_denominator=50),
    gap=st.fractions(Fraction(1, 1000), 10, max_denominator=1000),
)
def test_moved_breakpoint_is_refused(shift, gap):
    s = sp.Rational(shift.numerator, shift.denominator)
    g = sp.Rational(gap.numerator, gap.denominator)
    assert not prove_zero(sp.Max(0, x - s) - sp.Max(0, x - s - g), x)
    # Equal everywhere except at one point x = s.
    assert not prove_zero(sp.Piecewise((1, x <= s), (0, True)) - sp.Piecewise((1, x < s), (0, True)), x)


# --- breakpoints -----------------------------------------------------------


def _as_set(points):
    return {sp.nsimplify(p) if p.is_number else p for p in points}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (sp.Abs(x - 3), {sp.Integer(3)}),
        (sp.sign(2 * x + 1), {sp.Rational(-1, 2)}),
        (sp.Max(x, 1), {sp.Integer(1)}),
        (sp.Min(x, -2) + sp.Max(x, 5), {sp.Integer(-2), sp.Integer(5)}),
        (sp.Piecewise((x, x**2 < 4), (0, True)), {sp.Integer(-2), sp.Integer(2)}),
        (sp.Piecewise((-1, x <= -1), (1, x >= 1), (x, True)), {sp.Integer(-1), sp.Integer(1)}),
        (sp.Piecewise((1, x**2 + 1 > 0), (0, True)), set()),
        (sigmoid(x) + sp.exp(x), set()),
        (sp.Heaviside(x - 7), {sp.Integer(7)}),
    ],
)
def test_breakpoints_are_the_roots(expr, expected):
    found = breakpoints(expr, x)
    assert _as_set(found) == expected
    assert len(found) == len(set(found)), "duplicates"


def test_breakpoints_in_terms_of_a_parameter():
    # Abs(x) in the linear branch adds the candidate 0; a superset of the true switch points is fine.
    assert {d, -d} <= set(breakpoints(huber(x, d), x)) <= {d, -d, 0}
    y = sp.Symbol("y", real=True)
    assert {y + d, y - d} <= set(breakpoints(huber(x - y, d), x)) <= {y + d, y - d, y}


# --- branch resolution and one-sided values --------------------------------


def test_resolve_branches_picks_the_branch_holding_at_the_point():
    pw = sp.Piecewise((-1, x <= -1), (1, x >= 1), (x, True))
    assert resolve_branches(pw, {x: sp.Integer(-3)}) == -1
    assert resolve_branches(pw, {x: sp.Integer(3)}) == 1
    assert resolve_branches(pw, {x: sp.Rational(1, 2)}) == x
    assert resolve_branches(sp.Abs(x), {x: sp.Integer(-2)}) == -x
    assert resolve_branches(sp.Max(0, x) + sp.Min(0, x), {x: sp.Integer(-2)}) == x
    assert resolve_branches(sp.sign(x), {x: sp.Integer(0)}) == 0


def test_elementary_removes_named_functions_and_numpy_nodes():
    expr = sigmoid(x) + softplus(x) + log_cosh(x) + logaddexp(0, x) + log1p(x) + expm1(x)
    flat = elementary(expr)
    for node in (sigmoid, softplus, log_cosh, logaddexp, log1p, expm1):
        assert not flat.has(node)
    assert sp.simplify(flat.subs(x, 0) - (sp.Rational(1, 2) + 2 * sp.log(2))) == 0


RELU = sp.Max(0, x)
HARD_TANH = sp.Piecewise((-1, x <= -1), (1, x >= 1), (x, True))


@pytest.mark.parametrize(
    ("derivative", "point", "expected"),
    [
        (sp.diff(RELU, x), 0, (0, 1)),
        (sp.diff(sp.Piecewise((0, x <= 0), (x, True)), x), 0, (0, 1)),
        (sp.diff(sp.Abs(x), x), 0, (-1, 1)),
        (sp.diff(HARD_TANH, x), 1, (1, 0)),
        (sp.diff(HARD_TANH, x), -1, (0, 1)),
        (sp.diff(sp.Piecewise((sp.Rational(1, 10) * x, x <= 0), (x, True)), x), 0, (sp.Rational(1, 10), 1)),
        (sp.diff(sp.Piecewise((sp.exp(x) - 1, x <= 0), (2 * x, True)), x), 0, (1, 2)),
    ],
)
def test_one_sided_values(derivative, point, expected):
    left, right = one_sided_values(derivative, x, sp.Integer(point))
    assert sp.simplify(left - expected[0]) == 0
    assert sp.simplify(right - expected[1]) == 0


def test_one_sided_values_with_a_parameter():
    left, right = one_sided_values(sp.diff(huber(x, d), x), x, d)
    assert sp.simplify(left - d) == 0 and sp.simplify(right - d) == 0  # continuous first derivative
    second = sp.diff(huber(x, d), x, 2)
    left, right = one_sided_values(second, x, d)
    assert (left, right) == (1, 0)
