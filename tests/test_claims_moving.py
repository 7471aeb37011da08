"""check_derivative at a removable point that moves with an input or parameter, or sits at a pole of f''s expression.

The softplus log(1 + e^(−|u|)) + max(0, u) with u = z − c is C∞ with f'(c) = 1/2,
but SymPy's f' gives 0 at z = c (max' and sign(0) = 0). With c unbound, or an
input, the point z = c moved with it, no limit was taken there, the right claim
σ(z − c) was refuted and a claim 0 at z = c was proven. The hand-known values
(1/2, y/2, 1, 0) are the references here.
"""

from __future__ import annotations

import mpmath
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.claims import check_derivative, parse_derivative
from symdl.symbolic.calculus import diff_away_from_jumps
from symdl.symbolic.removable import moving_removable_points


def _softplus(shift: str, **kw) -> symdl.Rule:
    return symdl.formula_rule(f"log(1 + exp(-abs(z - ({shift})))) + max(0, z - ({shift}))", **kw)


def _differs_from(claimed: sp.Expr, point: dict, true: sp.Expr) -> bool:
    """claimed at the point is not ``true`` there, at 60 digits (mpmath, not symdl)."""
    with mpmath.workdps(60):
        return sp.N(claimed.xreplace(point), 60) != sp.N(true.xreplace(point), 60)


@settings(max_examples=4, deadline=None)
@given(k=st.integers(-3, 3), moved_by=st.sampled_from(["param", "input"]))
def test_the_right_claim_at_a_moving_removable_point_is_proven_and_one_wrong_only_there_is_refuted(k, moved_by):
    r = _softplus(f"c + ({k})", params={"c": None}) if moved_by == "param" else _softplus(f"c + ({k})", symbols=["c"])
    z, c = r.wrt, next(s for s in r.expr.free_symbols if s.name == "c")
    right = check_derivative(r, parse_derivative(r, f"1/(1 + exp(c + ({k}) - z))"))
    assert right, right.proof.method
    assert f"at z = {c + k} equal to the derivative's limit 1/2 from both sides" in right.proof.method, right.proof.method
    for wrong in (f"where(z == c + ({k}), 0, 1/(1 + exp(c + ({k}) - z)))",  # SymPy's value there: was proven
                  f"where(z == c + ({k}), 1/2 + 10**-30, 1/(1 + exp(c + ({k}) - z)))",  # off by 10⁻³⁰ at the point only
                  f"where(abs(z - c - ({k})) < 1/1000, 1/2 - (z - c - ({k})), 1/(1 + exp(c + ({k}) - z)))"):  # near it
        check = check_derivative(r, parse_derivative(r, wrong))
        assert not check and check.counterexample is not None, (wrong, check.proof.method)
        point = check.counterexample
        assert set(point) == {z, c}
        if "abs" not in wrong:
            assert point[z] == point[c] + k  # on the moving point
            assert _differs_from(check.claimed, point, sp.Rational(1, 2))
        else:
            assert abs(point[z] - point[c] - k) < sp.Rational(1, 1000)


def test_a_limit_that_depends_on_another_input_is_taken_for_every_value_of_it():
    # y·softplus(z − c): f' → y/2 at z = c for every y; the claim 0 there (SymPy's value) was proven.
    r = symdl.formula_rule("y*(log(1 + exp(-abs(z - c))) + max(0, z - c))", params={"c": None}, symbols=["y"])
    z, y = r.wrt, r.variable("y")
    c = next(s for s in r.expr.free_symbols if s.name == "c")
    assert moving_removable_points(diff_away_from_jumps(r.expr, z), z) == (((c, y / 2, 0),), ())  # SymPy's f'
    assert r.derivative().subs(z, c) == y / 2 and r.removable == ((c, y / 2, 0),)  # the rule's f' is the limit there
    assert check_derivative(r, parse_derivative(r, "y/(1 + exp(c - z))"))
    wrong = check_derivative(r, parse_derivative(r, "where(z == c, 0, y/(1 + exp(c - z)))"))
    assert not wrong and wrong.counterexample[z] == wrong.counterexample[c] and wrong.counterexample[y] != 0
    assert _differs_from(wrong.claimed, wrong.counterexample, y / 2)


def test_a_removable_pole_that_moves_with_a_parameter_is_compared_with_the_limit():
    # sin(u)/u, u = z − a: f' = cos(u)/u − sin(u)/u² has no value at z = a, its limit there is 0 from both sides.
    r = symdl.formula_rule("sin(z - a)/(z - a)", params={"a": None})
    z = r.wrt
    a = next(s for s in r.expr.free_symbols if s.name == "a")
    raw = "cos(z - a)/(z - a) - sin(z - a)/(z - a)**2"
    assert check_derivative(r, parse_derivative(r, f"where(z == a, 0, {raw})"))  # the continuous extension: was refuted
    assert "without a value" in check_derivative(r, parse_derivative(r, raw)).proof.method  # SymPy's own form, as before
    wrong = check_derivative(r, parse_derivative(r, f"where(z == a, 1/10**30, {raw})"))
    assert not wrong and wrong.counterexample[z] == wrong.counterexample[a]
    assert wrong.values_at_counterexample()[1] == 0
    # (z² − a²)/(z − a) is z + a: its derivative is 1 at z = a too, where the expression has no value.
    line = symdl.formula_rule("(z**2 - a**2)/(z - a)", params={"a": None})
    assert check_derivative(line, parse_derivative(line, "1"))
    off = check_derivative(line, parse_derivative(line, "where(z == a, 0, 1)"))
    assert not off and off.counterexample[line.wrt] == off.counterexample[a] and off.values_at_counterexample()[1] == sp.Float(1, 17)
    # A pole at a fixed point too: sin(z − 1)/(z − 1)' → 0 at z = 1.
    fixed = symdl.formula_rule("sin(z - 1)/(z - 1)")
    assert check_derivative(fixed, parse_derivative(fixed, "where(z == 1, 0, cos(z - 1)/(z - 1) - sin(z - 1)/(z - 1)**2)"))
    assert not check_derivative(fixed, parse_derivative(fixed, "where(z == 1, 1, cos(z - 1)/(z - 1) - sin(z - 1)/(z - 1)**2)"))


def test_where_the_limit_cannot_be_found_the_claim_is_undecided_not_refuted_or_proven():
    # softplus(y·(z − c)): |y·t| keeps a branch on y's sign, so f''s limit at z = c is not found; right or wrong there
    # (SymPy's value 0 was proven), the claim is undecided; wrong elsewhere it is still refuted.
    r = symdl.formula_rule("log(1 + exp(-abs(y*(z - c)))) + max(0, y*(z - c))", params={"c": None}, symbols=["y"])
    c = next(s for s in r.expr.free_symbols if s.name == "c")
    assert moving_removable_points(r.derivative(), r.wrt) == ((), (c,))
    for claim in ("y/(1 + exp(-y*(z - c)))", "where(z == c, 0, y/(1 + exp(-y*(z - c))))"):
        check = check_derivative(r, parse_derivative(r, claim))
        assert not check and check.counterexample is None
        assert check.proof.method.startswith("undecided at z = c: the claim equals the derivative elsewhere"), check.proof.method
    elsewhere = check_derivative(r, parse_derivative(r, "y/(1 + exp(-y*(z - c))) + 1"))
    assert not elsewhere and elsewhere.counterexample is not None and elsewhere.proof.method.startswith("case analysis")


def test_limits_that_are_no_number_for_every_value_are_not_taken():
    z, a, c = sp.symbols("z a c", real=True)
    # |z − c|/(|z − c| + a) at z = c ± t is t/(t + a): → 0 for a ≠ 0 but 1 at a = 0 (SymPy's limit takes a generic).
    removable, undecided = moving_removable_points(sp.Abs(z - c) / (sp.Abs(z - c) + a), z)
    assert removable == () and c in undecided
    assert moving_removable_points(1 / (z - a), z) == ((), ())  # a true pole: no limit to extend by
    assert moving_removable_points(sp.Heaviside(z - a), z) == ((), ())  # a jump: limits 0 and 1
    assert moving_removable_points(a * sp.Abs(z - c) / (z - c), z) == ((), ())  # ±a: a jump for every a but 0
