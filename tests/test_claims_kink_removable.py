"""A kink at a removable point of the rest of f: sin(z)/z + relu(z) at 0, and a removable pole beside a kink.

SymPy's f' = cos(z)/z − sin(z)/z² + relu'(z) is nan at 0, so the one-sided values
(each branch at the point) were nan, the kink at 0 was not listed and a claim
that differs from f' only at 0 was refuted. The hand-known one-sided derivatives
(0 + 0 from below, 0 + 1 from above; 1 at the pole z = 1 of sin(z − 1)/(z − 1))
are the references here.
"""

from __future__ import annotations

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.claims import check_derivative, parse_derivative

_SINC_PRIME = "cos(z)/z - sin(z)/z**2"


def test_the_relu_kink_at_the_removable_point_of_sin_z_over_z_is_listed_with_its_one_sided_derivatives():
    r = symdl.formula_rule("sin(z)/z + relu(z)")
    (kink,) = r.kinks
    assert (kink.at, kink.left, kink.right, kink.value) == (0, 0, 1, 0)
    assert r.bind(r.derivative()).subs(r.wrt, 0) == 0  # the convention's value, not nan


@settings(max_examples=4, deadline=None)
@given(at_zero=st.integers(-5, 5), wrong_below=st.integers(1, 50))
def test_a_claim_differing_only_at_the_kink_is_proven_and_one_wrong_beside_it_is_refuted(at_zero, wrong_below):
    r = symdl.formula_rule("sin(z)/z + relu(z)")
    z = r.wrt
    only_at_0 = check_derivative(r, parse_derivative(r, f"where(z == 0, {at_zero}, {_SINC_PRIME} + where(z > 0, 1, 0))"))
    assert only_at_0 and only_at_0.counterexample is None, only_at_0.proof.method
    assert "the kink 0 excluded" in only_at_0.proof.method
    edge = sp.Rational(1, wrong_below)  # relu' switched at 1/n instead of 0: wrong on (0, 1/n)
    wrong = check_derivative(r, parse_derivative(r, f"{_SINC_PRIME} + where(z > {edge}, 1, 0)"))
    assert not wrong
    point = wrong.counterexample[z]
    assert 0 < point <= edge


def test_a_fixed_removable_pole_beside_a_kink_is_compared_with_its_limit_not_left_undecided():
    r = symdl.formula_rule("sin(z - 1)/(z - 1) + relu(z)")
    z = r.wrt
    sinc_prime = "cos(z - 1)/(z - 1) - sin(z - 1)/(z - 1)**2"
    right = check_derivative(r, parse_derivative(r, f"{sinc_prime} + where(z > 0, 1, 0)"))
    assert right, right.proof.method
    assert "at z = 1 without a value, its limit from both sides the derivative's, 1" in right.proof.method
    filled = check_derivative(r, parse_derivative(r, f"where(z == 1, 1, {sinc_prime} + where(z > 0, 1, 0))"))
    assert filled, filled.proof.method
    wrong = check_derivative(r, parse_derivative(r, f"where(z == 1, 0, {sinc_prime} + where(z > 0, 1, 0))"))
    assert not wrong and wrong.counterexample == {z: 1}
