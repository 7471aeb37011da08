"""Rule.derivative at a removable point that moves with a parameter or input, or sits at a pole: the limit, as
check_derivative has it (was SymPy's value: 0 for softplus(z − c) written out at z = c, nan for sin(z − a)/(z − a))."""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.claims import check_derivative

SOFTPLUS_SHIFTED = "log(1 + exp(-abs(z - c))) + max(0, z - c)"  # C∞, f'(c) = σ(0) = 1/2


def _symbol(r: symdl.Rule, name: str) -> sp.Symbol:
    return next(s for s in r.expr.free_symbols if s.name == name)


@settings(max_examples=5, deadline=None)
@given(st.sampled_from([sp.Rational(1, 2), sp.Integer(-3), sp.Rational(5, 4), sp.Rational(-7, 8), sp.Integer(0)]))
def test_the_derivative_at_a_bound_moving_point_is_the_limit_in_the_expression_and_the_printed_code(c):
    r = symdl.formula_rule(SOFTPLUS_SHIFTED, params={"c": c})
    z = r.wrt
    assert r.bind(r.derivative()).subs(z, c) == sp.S.Half
    assert r.numeric_derivative()(np.array([float(c)])).tolist() == [0.5]  # was [0.0]
    assert check_derivative(r, r.derivative())  # the rule's own derivative is right by its own check: was refuted at c


def test_the_derivative_at_an_unbound_moving_point_and_with_another_input_is_the_limit():
    r = symdl.formula_rule(SOFTPLUS_SHIFTED, params={"c": None})
    z, c = r.wrt, _symbol(r, "c")
    assert r.derivative().subs(z, c) == sp.S.Half and r.removable == ((c, sp.S.Half, 0),)
    assert check_derivative(r, r.derivative())
    scaled = symdl.formula_rule(f"y*({SOFTPLUS_SHIFTED})", params={"c": None}, symbols=["y"])
    y = scaled.variable("y")
    assert scaled.derivative().subs(z, c) == y / 2 and check_derivative(scaled, scaled.derivative())


def test_the_derivative_at_a_removable_pole_that_moves_is_the_limit_not_nan():
    r = symdl.formula_rule("sin(z - a)/(z - a)", params={"a": 2})
    with np.errstate(divide="ignore", invalid="ignore"):  # the other branch is evaluated too, and discarded
        values = r.numeric_derivative()(np.array([2.0, 1.0]))
    assert values[0] == 0.0 and np.isclose(values[1], np.sin(1.0) - np.cos(1.0))  # u = −1; was nan at 2
    free = symdl.formula_rule("sin(z - a)/(z - a)", params={"a": None})
    assert free.derivative().subs(free.wrt, _symbol(free, "a")) == 0 and check_derivative(free, free.derivative())


def test_where_the_limit_is_not_found_the_derivative_keeps_sympys_value_and_the_claim_there_stays_undecided():
    r = symdl.formula_rule("log(1 + exp(-abs(y*(z - c)))) + max(0, y*(z - c))", params={"c": None}, symbols=["y"])
    assert r.removable == ()
    assert r.derivative().subs(r.wrt, _symbol(r, "c")) == 0  # SymPy's value; the limit y/2 is not found for every y
    check = check_derivative(r, r.derivative())
    assert not check and check.proof.method.startswith("undecided at z = c")


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([0.0, 1.0, -2.0, 0.5]))
def test_a_moving_pole_beside_a_kink_gives_the_limit_and_where_they_meet_the_kinks_value(a):
    # sin(z − a)/(z − a) + relu(z): at z = a the limit is 0 (a < 0) or 1 (a > 0); at a = 0 the pole meets relu's kink,
    # whose value (PyTorch's 0) the derivative returns. Before, the limit's nan at a = 0 wrapped the kink's value and
    # the kernel did not compile.
    r = symdl.formula_rule("sin(z - a)/(z - a) + relu(z)", params={"a": a})
    expected_at_a = 1.0 if a > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # numpy evaluates the pole branch it then discards
        assert r.numeric_derivative()(np.array([a])).tolist() == [expected_at_a]
    assert r.bind(r.derivative()).subs(r.wrt, a) == sp.nsimplify(expected_at_a)


def test_poles_are_looked_for_only_where_a_polynomial_base_vanishes(solveset_calls):
    # SymPy's solveset on 1/(σ(z) + 2σ(z/2) + 1.5e^{−2z}) (log of that sum, differentiated) ran for minutes: every
    # Rule.derivative asks for removable points, so a base that is no polynomial in z is not solved for a pole.
    import symdl.symbolic.regimes as regimes

    solved = solveset_calls
    regimes._real_roots_remembered.cache_clear()  # roots found by an earlier test are not asked again
    from symdl.symbolic.removable import moving_removable_points

    z, a = sp.symbols("z a", real=True)
    derivative = sp.diff(sp.log(sp.exp(z) / (1 + sp.exp(z)) + 2 * sp.exp(-2 * z)), z) + a / (z - a)
    moving_removable_points(derivative, z)
    assert solved and all(e.is_polynomial(z) for e in solved), [e for e in solved if not e.is_polynomial(z)]


@settings(max_examples=3, deadline=None)
@given(st.sampled_from([("z/(exp(z) - 1)", sp.Rational(-1, 2)),
                        ("z/(exp(2*z) - exp(z))", sp.Rational(-3, 2)), ("1/(exp(z) - 1)", None)]))
def test_a_removable_pole_where_a_polynomial_in_exponentials_vanishes_is_the_limit(case):
    # z/(eᶻ − 1)' = 1/(eᶻ − 1) − z·eᶻ/(eᶻ − 1)²: the base eᶻ − 1 is no polynomial in z, and its pole at 0 was not
    # looked for (nan there). z/(e²ᶻ − eᶻ) = e⁻ᶻ·z/(eᶻ − 1): u = eᶻ of degree 2. 1/(eᶻ − 1) has a true pole at 0:
    # no limit, SymPy's value stays.
    text, limit = case
    r = symdl.formula_rule(text)
    z = r.wrt
    if limit is None:
        assert r.removable == () and not r.derivative().subs(z, 0).is_finite
        return
    assert r.removable == ((0, limit, sp.nan),) and r.derivative().subs(z, 0) == limit
    with np.errstate(divide="ignore", invalid="ignore"):  # the other branch is evaluated too, and discarded
        assert r.numeric_derivative()(np.array([0.0, 0.5])).tolist()[0] == float(limit)
    assert check_derivative(r, r.derivative())
    wrong = sp.Piecewise((0, sp.Eq(z, 0)), (sp.diff(r.expr, z), True))  # right everywhere but at the pole
    check = check_derivative(r, wrong)
    assert not check and f"limit from both sides is {limit}" in check.proof.method


def test_poles_of_a_polynomial_in_exponentials_are_found_without_solveset(solveset_calls):
    from symdl.symbolic.removable import moving_removable_points

    solved = solveset_calls
    z = sp.Symbol("z", real=True)
    found, undecided = moving_removable_points(sp.diff(z / (sp.exp(z) - 1) + sp.log(1 + sp.exp(-z)), z), z)
    assert found == ((0, sp.Integer(-1), sp.nan),) and undecided == ()  # −1/2 − σ(0)
    assert all(not e.has(sp.exp) for e in solved), solved


def test_a_kink_beside_a_moving_pole_is_listed_with_the_parameter_unbound():
    # relu's kink at 0 has the sides (sin a − a·cos a)/a² and 1 + …: finite for every a but 0, where the pole meets
    # it, so SymPy cannot call them finite and the kink was dropped (no kinks at all).
    r = symdl.formula_rule("sin(z - a)/(z - a) + relu(z)", params={"a": None})
    a = _symbol(r, "a")
    (kink,) = r.kinks
    assert kink.at == 0 and sp.simplify(kink.right - kink.left) == 1
    assert sp.simplify(kink.left - (sp.sin(a) - a * sp.cos(a)) / a**2) == 0
    singular = symdl.formula_rule("sqrt(abs(z - a))", params={"a": None})
    assert singular.kinks == ()  # ±1/(2√|z − a|) at a: infinite for every a, no kink


@settings(max_examples=8, deadline=None)
@given(st.floats(min_value=-3, max_value=3, allow_nan=False), st.sampled_from([0.0, 1e-3, -0.5, 2.0]))
def test_the_derivative_by_another_input_at_a_removable_pole_is_the_limit(a, u):
    # ∂/∂a of sin(z − a)/(z − a) is (sin u − u·cos u)/u², u = z − a: SymPy's expression is nan at u = 0, the limit 0.
    r = _by_a()
    with np.errstate(divide="ignore", invalid="ignore"):  # the pole branch is evaluated too, and discarded
        got = r.numeric_derivative("a")(np.array([a + u]), np.array([a]))
    u = (a + u) - a  # the difference the kernel sees
    expected = 0.0 if u == 0 else (np.sin(u) - u * np.cos(u)) / u**2
    assert np.isclose(got[0], expected, rtol=1e-6, atol=1e-6) and (u != 0 or got[0] == 0.0)


def _by_a() -> symdl.Rule:
    return symdl.formula_rule("sin(z - a)/(z - a)", symbols=["a"])


def test_the_derivative_by_another_input_is_proven_and_a_claim_wrong_at_the_pole_refuted():
    r = _by_a()
    z, a = r.wrt, r.variable("a")
    derived = r.derivative(a)
    assert derived.subs(z, a) == 0 and r.derivative(z).subs(z, a) == 0
    assert check_derivative(r, derived, a)
    wrong = sp.Piecewise((1, sp.Eq(a, z)), (sp.diff(r.expr, a), True))
    assert not check_derivative(r, wrong, a)
