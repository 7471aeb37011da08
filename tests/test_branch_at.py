"""resolve_branches: the branch read outermost first is the formula the expression takes at the point."""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.symbolic.branch_at import PIECEWISE_ATOMS, resolve_branches, value_at

x = sp.Symbol("x", real=True)
a = sp.Symbol("a", real=True)

#: Piecewise nested in a value and in a condition, Min/Max of Abs, sign and Heaviside (1 at 0, as the case analysis
#: reads it) of compound arguments.
NESTED = (
    sp.Piecewise(
        (sp.Piecewise((x**2 - a, x > a), (sp.Abs(x - 2 * a), True)), sp.Max(x, a) > sp.Piecewise((1, a > 0), (-1, True))),
        (sp.Min(sp.Abs(x + a), 3 - x) * sp.sign(x - 1), x < 3),
        (sp.Heaviside(a - x, 1) + x, True),
    )
    + sp.Max(sp.Abs(2 * x - a), sp.Abs(a - 1))
    - sp.Heaviside(x * a - 1, 1) * sp.sign(a + 1)
)

rationals = st.fractions(min_value=-6, max_value=6, max_denominator=12).map(sp.Rational)


@settings(max_examples=60, deadline=None)
@given(rationals, rationals)
def test_the_resolved_branch_has_no_branch_and_the_expression_s_value(xv, av):
    at = {x: xv, a: av}
    branch = resolve_branches(NESTED, at)
    assert not branch.has(*PIECEWISE_ATOMS)
    assert branch.xreplace(at) == NESTED.xreplace(at)


@settings(max_examples=30, deadline=None)
@given(rationals, rationals)
def test_the_branch_holds_on_the_cell_around_an_irrational_point(xv, av):
    # x + √2/1000 and a + √3/1000 sit on no boundary of these rational conditions near the sample: the branch read
    # there is the expression's value at every point of that cell, here checked at a second point of it.
    at = {x: xv + sp.sqrt(2) / 1000, a: av + sp.sqrt(3) / 1000}
    near = {x: at[x] + sp.Rational(1, 10**9), a: at[a] - sp.Rational(1, 10**9)}
    branch = resolve_branches(NESTED, at)
    assert sp.simplify(branch.xreplace(near) - NESTED.xreplace(near)) == 0


def test_a_branch_not_taken_is_never_read():
    # The second pair's condition compares a value that is not real at x = −1; the first pair holds there.
    pw = sp.Piecewise((x, x < 0), (sp.sqrt(x), sp.sqrt(x) > 1), (0, True))
    assert resolve_branches(pw, {x: sp.Integer(-1)}) == x


def test_value_at_picks_the_branch_first_where_sympy_cannot_substitute():
    # SymPy orders both arms of the if-then-else: z/(z + 1) ≤ 27 at z = −1 is zoo ≤ 27, a TypeError. The arm taken
    # (z < 0: z/(1 − z) ≤ 27) holds, so the value is the first pair's, the other symbol kept.
    pw = sp.Piecewise((x + a, sp.ITE(x >= 0, x / (x + 1) <= 27, x / (1 - x) <= 27)), (0, True))
    with pytest.raises(TypeError):
        pw.subs(x, -1)
    assert value_at(pw, x, sp.Integer(-1), {a: sp.Integer(2)}) == a - 1
    assert value_at(pw, x, sp.Integer(3)) == a + 3  # SymPy's own substitution where it can


@settings(max_examples=40, deadline=None)
@given(rationals, rationals)
def test_value_at_is_the_expressions_value(xv, av):
    assert value_at(NESTED, x, xv).xreplace({a: av}) == NESTED.xreplace({x: xv, a: av})
