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
from symdl.symbolic.removable import kinks_of_limit, moving_removable_points

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


def _moving_sinc(k: int) -> tuple[symdl.Rule, sp.Symbol, sp.Symbol]:
    r = symdl.formula_rule(f"sin(z - a)/(z - a) + relu(z - ({k}))", params={"a": None})
    return r, r.wrt, next(s for s in r.expr.free_symbols if s.name == "a")


@settings(max_examples=3, deadline=None)
@given(k=st.integers(-2, 2))
def test_a_removable_pole_moving_with_a_parameter_beside_a_kink_has_its_limit_case_by_case(k):
    # sin(u)/u, u = z − a: its derivative → 0 at z = a; relu(z − k)' beside it is 0 for a < k, 1 for a > k, and at
    # a = k the pole sits on the kink (0 from below, 1 from above): was "undecided at z = a".
    r, z, a = _moving_sinc(k)
    ((at, limit, _),), undecided = moving_removable_points(r.bind(r.derivative()), z)
    assert at == a and undecided == ()
    assert limit == sp.Piecewise((0, a < k), (sp.nan, sp.Eq(a, k)), (1, True))
    assert kinks_of_limit(limit) == [k]


@settings(max_examples=3, deadline=None)
@given(k=st.integers(-2, 2), at_kink=st.sampled_from(["0", "1", "7"]))
def test_a_claim_at_the_moving_removable_point_is_proven_when_it_is_the_limit_and_refuted_when_not(k, at_kink):
    r, z, a = _moving_sinc(k)
    raw = f"cos(z - a)/(z - a) - sin(z - a)/(z - a)**2 + where(z > {k}, 1, 0)"
    without_value = check_derivative(r, parse_derivative(r, raw))
    assert without_value, without_value.proof.method
    assert f"its limit from both sides the derivative's, 0 for a < {k}, a kink at a = {k}, 1 for a > {k}" in without_value.proof.method
    # at a = k (z = a = k) the value is a convention, as at any kink: every value there is accepted
    filled = f"where(z == a, where(a > {k}, 1, where(a < {k}, 0, {at_kink})), {raw})"
    right = check_derivative(r, parse_derivative(r, filled))
    assert right, right.proof.method
    for value, sign in (("0", 1), ("1", -1)):  # 0 is wrong for a > k, 1 for a < k
        wrong = check_derivative(r, parse_derivative(r, f"where(z == a, {value}, {raw})"))
        assert not wrong and wrong.counterexample is not None, wrong.proof.method
        point = wrong.counterexample
        assert point[z] == point[a] and sp.sign(point[a] - k) == sign
        assert float(wrong.values_at_counterexample()[1]) == (1.0 if sign > 0 else 0.0)


def test_a_moving_removable_pole_whose_limit_is_not_found_stays_undecided_in_one_line():
    # two other symbols (a and c): the regimes of a point in two of them are not cut here
    r = symdl.formula_rule("sin(z - a)/(z - a) + relu(z - c)", params={"a": None, "c": None})
    check = check_derivative(r, parse_derivative(r, "cos(z - a)/(z - a) - sin(z - a)/(z - a)**2 + where(z > c, 1, 0)"))
    assert not check and check.counterexample is None
    # z = c is relu's kink (its sides finite for a ≠ c), excluded as a convention: only z = a is undecided
    assert [k.at.name for k in r.kinks] == ["c"]
    assert check.proof.method.startswith("undecided at z = a: the claim equals the derivative elsewhere")
    assert "\n" not in check.proof.method


def test_the_moving_removable_points_of_a_rule_are_found_once_for_all_its_claims(monkeypatch):
    """check_derivative compares every claim with the same derivative: its points and their SymPy limits (seconds each)
    are found for the first claim only, and the verdicts stay those of a fresh search."""
    import symdl.symbolic.removable as removable

    r = symdl.formula_rule("sin(z - a)/(z - a) + z/7", params={"a": None})  # no other test's derivative
    limits = []
    one_sided = removable._one_sided_limit
    monkeypatch.setattr(removable, "_one_sided_limit", lambda *args: limits.append(args) or one_sided(*args))
    raw = f"{_SINC_PRIME.replace('z', '(z - a)')} + 1/7"
    right = check_derivative(r, parse_derivative(r, raw))
    searched = len(limits)
    wrong = check_derivative(r, parse_derivative(r, f"where(z == a, 7, {raw})"))
    assert searched > 0 and len(limits) == searched
    assert right, right.proof.method
    assert not wrong and wrong.counterexample is not None, wrong.proof.method
