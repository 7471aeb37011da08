"""Rule.kinks and Rule.jumps with floor, ceiling and round: finitely many kinks between the jumps, the jumps apart."""

from __future__ import annotations

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.definition import Jumps, Kink
from symdl.symbolic.rounding import ceiling, floor, round

z = sp.Symbol("z", real=True)
#: f' = ⌊z⌋: f is continuous and its derivative jumps by 1 at every integer.
STAIRCASE_INTEGRAL = "z*floor(z) - floor(z)*(floor(z) + 1)/2"


def test_a_kink_between_the_jumps_of_a_floor_is_listed_with_its_one_sided_values():
    r = symdl.formula_rule("abs(z - 1/3) + z*floor(z)")
    assert r.kinks == (Kink(sp.Rational(1, 3), sp.Integer(-1), sp.Integer(1), sp.Integer(0)),)
    assert r.jumps == Jumps((floor(z),))


def test_a_derivative_that_is_a_floor_has_no_listed_kink_and_its_floor_as_the_jumps():
    r = symdl.formula_rule(STAIRCASE_INTEGRAL)
    assert r.derivative() == floor(z)
    assert r.kinks == ()
    assert r.jumps.functions == (floor(z),) and r.jumps


def test_a_kink_where_the_floor_jumps_too_is_one_of_the_jumps_not_a_kink():
    # at 0 both |z| and ⌊z⌋ switch: f' goes from −2 to 1, not from −1 to 1 as the branches of |z| alone would say
    assert symdl.formula_rule("abs(z) + z*floor(z)").kinks == ()


def test_round_jumps_at_half_integers_and_floor_at_integers():
    # max(0, z − 5/2) switches at 5/2: between two jumps of ⌊z⌋ (f' from 0 to ⌊5/2⌋ = 2), on a jump of round
    assert symdl.formula_rule("Max(0, z - 5/2)*floor(z)").kinks == (Kink(sp.Rational(5, 2), 0, 2, 0),)
    r = symdl.formula_rule("Max(0, z - 5/2)*round(z)")
    assert r.kinks == () and r.jumps.functions == (round(z),)


def test_kinks_that_move_with_the_floor_are_named_in_the_jumps():
    r = symdl.formula_rule("abs(z - floor(z) - 1/2)")
    assert r.jumps == Jumps((floor(z),), (floor(z) + sp.S.Half,))
    assert "z = floor(z) + 1/2" in r.kink_steps()[-1].note


def test_a_kink_that_moves_with_another_input_is_listed_at_a_generic_value_of_it():
    y = sp.Symbol("y", real=True)
    r = symdl.formula_rule("abs(z - y) + ceil(z)*z", symbols=["y"])
    assert r.kinks == (Kink(y, ceiling(y) - 1, ceiling(y) + 1, ceiling(y)),)


def test_a_rule_without_floor_ceiling_or_round_has_no_jumps():
    assert not symdl.rule("relu").jumps and symdl.rule("relu").jumps == Jumps()


@settings(max_examples=8, deadline=None)
@given(st.fractions(-5, 5, max_denominator=7).filter(lambda c: c.denominator != 1))
def test_a_kink_off_the_integers_is_found_with_the_floor_s_value_on_both_sides(c):
    at = sp.Rational(c.numerator, c.denominator)
    r = symdl.formula_rule("abs(z - c) + z*floor(z)", params={"c": at})
    n = sp.floor(at)
    assert r.kinks == (Kink(at, n - 1, n + 1, n),)  # sign(0) + ⌊c⌋, SymPy's value, PyTorch's too
    assert float(r.numeric_derivative()(float(at))) == float(n) or at != float(at)


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([sp.Rational(1, 2), sp.Integer(2), sp.Rational(-7, 3), sp.Rational(13, 11)]))
def test_a_kink_that_moves_with_a_parameter_returns_sympys_value_at_the_bound_parameter(c):
    # sign(0) = 0 at z = c (PyTorch's abs too), not sign(c₀ − c) read at some other c₀ (was −1 below 13/11, 1 above)
    r = symdl.formula_rule("abs(z - c)", params={"c": c})
    assert r.kinks == (Kink(c, -1, 1, 0),)
    assert float(r.numeric_derivative()(float(c))) == 0.0 or float(c) != c
