"""Identities between forms with a pole (symdl.symbolic.poles.prove_equal): equal where both are finite, and at a
breakpoint where one side has no finite value, the other has none either, never skipped."""

import dataclasses

import pytest
import sympy as sp

import symdl
from symdl.rulebook.rule import Rule
from symdl.symbolic.poles import poles, prove_equal
from symdl.symbolic.proof import prove_zero

z = sp.Symbol("z", real=True)
c = sp.Symbol("c", real=True)
SIGNED = sp.Piecewise((1 / z, z > 0), (-1 / z, True))  # 1/|z| written by cases: zoo at 0, as 1/|z| is


def test_a_pole_of_both_sides_is_compared_not_refused():
    assert not prove_zero(1 / sp.Abs(z) - SIGNED, z)  # nan at 0: the difference alone cannot show it
    proof = prove_equal(1 / sp.Abs(z), SIGNED, z)
    assert proof.holds and proof.method.endswith("; at the pole 0 neither side is finite (equal on both sides of it)")
    assert poles(1 / sp.Abs(z), SIGNED, z) == [0]


@pytest.mark.parametrize("value", [sp.Integer(0), sp.Integer(1), sp.Rational(-1, 2)])
def test_a_form_with_a_finite_value_at_the_pole_is_refuted(value):
    wrong = sp.Piecewise((1 / z, z > 0), (value, sp.Eq(z, 0)), (-1 / z, True))
    assert prove_zero(1 / sp.Abs(z) - wrong, z, exclude=[sp.Integer(0)])  # equal off the pole: only 0 tells them apart
    assert poles(1 / sp.Abs(z), wrong, z) == []
    for lhs, rhs in ((1 / sp.Abs(z), wrong), (wrong, 1 / sp.Abs(z))):  # either side finite there
        proof = prove_equal(lhs, rhs, z)
        assert not proof and proof.method == "case analysis: nonzero at z = 0"


def test_different_signed_infinities_at_a_pole_are_refuted():
    def at_zero(value: sp.Expr) -> sp.Expr:
        return sp.Piecewise((value, sp.Eq(z, 0)), (1 / sp.Abs(z), True))

    assert prove_equal(at_zero(sp.oo), at_zero(sp.oo), z)
    proof = prove_equal(at_zero(sp.oo), at_zero(-sp.oo), z)
    assert not proof and proof.method == "at the pole z = 0 one side is oo, the other -oo"
    assert not prove_equal(at_zero(sp.oo), 1 / sp.Abs(z), z)  # zoo has no sign: not shown to be +oo


def test_a_pole_that_moves_with_a_parameter_is_compared_in_every_regime():
    moved = SIGNED.subs(z, z - c)
    assert prove_equal(1 / sp.Abs(z - c), moved, z)
    wrong = sp.Piecewise((1 / (z - c), z > c), (1, sp.Eq(z, c)), (-1 / (z - c), True))
    assert not prove_equal(1 / sp.Abs(z - c), wrong, z)


def _with_stable_form(r: Rule, stable: sp.Expr) -> Rule:
    definition = dataclasses.replace(r.definition, stable_expr=stable)
    return Rule(r.name, r.kind, definition, r.param_symbols, r.params, "pytorch", r.summary)


def test_rule_proofs_compare_a_stable_form_at_the_pole_of_f():
    r = symdl.formula_rule("1/abs(z)")
    w = r.wrt
    right = _with_stable_form(r, SIGNED.subs(z, w)).prove()["stable forward - expr"]
    assert right and "at the pole 0 neither side is finite" in right.method
    wrong = sp.Piecewise((1 / w, w > 0), (0, sp.Eq(w, 0)), (-1 / w, True))
    assert not _with_stable_form(r, wrong).prove()["stable forward - expr"]


@pytest.mark.parametrize("value", [sp.Integer(0), sp.Integer(-10**6), sp.oo])
def test_a_stable_form_of_log_z_squared_wrong_only_at_its_pole_is_refuted(value):
    r = symdl.formula_rule("log(z**2)")
    w = r.wrt
    assert r.definition.stable_expr == 2 * sp.log(sp.Abs(w)) and all(r.prove().values())
    wrong = sp.Piecewise((value, sp.Eq(w, 0)), (2 * sp.log(sp.Abs(w)), True))
    assert prove_zero(wrong - r.expr, w, exclude=[sp.Integer(0)])  # equal off the pole
    assert not _with_stable_form(r, wrong).prove()["stable forward - expr"]


@pytest.mark.parametrize(
    "bounded",
    [
        sp.exp(-1 / z**2),  # → 0 from both sides; SymPy's value at 0 is nan (1/0 is zoo), a float's is exp(−inf) = 0
        sp.tanh(1 / z),  # → ±1; SymPy nan at 0, a float's tanh(±inf) = ±1
        sp.exp(1 / z),  # → 0 from the left, ∞ from the right: not infinite on both sides
        sp.exp(-1 / sp.Abs(z)),  # the breakpoint from |z| itself
    ],
)
def test_a_breakpoint_where_sympy_has_no_value_but_the_limits_are_finite_is_no_pole(bounded):
    # bounded + [z = 0] differs from bounded at 0 only, where SymPy's value of both is nan: the printed code gives
    # exp(-1/0.0**2) = 0 and 0 + 1 = 1 there. Neither side has a pole; the value at 0 must be checked, and fails.
    bumped = bounded + sp.Piecewise((0, sp.Ne(z, 0)), (1, True))
    assert prove_zero(bumped - bounded, z, exclude=[sp.Integer(0)])  # equal everywhere else
    assert poles(bumped, bounded, z) == []
    proof = prove_equal(bumped, bounded, z)
    assert not proof and proof.method == "case analysis: nonzero at z = 0", proof.method


def test_a_pole_is_infinite_from_both_sides_in_every_parameter_regime():
    # For c > 0 the branch near z = 0 is exp(−1/z²) (bounded), for c ≤ 0 it is 1/|z| (a pole): the bump at 0 is
    # only allowed where 0 is a pole, so the identity fails for c > 0.
    near = sp.Piecewise((sp.exp(-1 / z**2), c > 0), (1 / sp.Abs(z), True))
    bumped = near + sp.Piecewise((0, sp.Ne(z, 0)), (1, True))
    assert poles(bumped, near, z) == []
    assert not prove_equal(bumped, near, z)
    assert poles(1 / sp.Abs(z) + sp.Piecewise((0, sp.Ne(z, 0)), (1, True)), 1 / sp.Abs(z), z) == [0]  # a pole: kept
