"""symdl check --derivative: a hand-derived derivative proven, or refuted at an exact point; prove_zero's counterexamples."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli.main import main
from symdl.rulebook.claims import check_derivative, parse_derivative
from symdl.symbolic.calculus import diff_away_from_jumps
from symdl.symbolic.proof import prove_zero
from symdl.symbolic.removable import moving_removable_points, removable_points

z = sp.Symbol("z", real=True)
a = sp.Symbol("a", real=True)


def _exactly_nonzero(expr: sp.Expr, point: dict) -> bool:
    """expr at the point, independently of symdl: mpmath at 60 digits, far from 0 (or not real)."""
    with mpmath.workdps(60):
        value = sp.lambdify(list(point), expr, "mpmath")(*[mpmath.mpf(sp.Rational(v).p) / sp.Rational(v).q for v in point.values()])
        return abs(value) > mpmath.mpf(10) ** -40


@pytest.mark.parametrize(
    "wrong",
    [
        sp.exp(z) - 1 - z,  # smooth
        sp.Piecewise((z, z > 0), (0, True)) - sp.Max(z, 1),  # wrong on an interval
        sp.Piecewise((1, z > 2), (0, True)) - sp.Piecewise((1, z >= 2), (0, True)),  # wrong at one point only
        a * sp.Piecewise((1, z > 0), (0, True)) - sp.Piecewise((a, z > 0), (1, True)),  # wrong for some parameters
        sp.log(z**2) - 2 * sp.log(z),  # not real for z < 0
    ],
)
def test_a_failed_proof_carries_an_exact_counterexample(wrong):
    proof = prove_zero(wrong, z)
    assert not proof and proof.counterexample is not None
    point = proof.counterexample
    assert set(point) == wrong.free_symbols and all(v.is_number for v in point.values())
    assert all(v.is_Rational for v in point.values())
    assert sp.N(wrong.xreplace(point), 50) != 0
    if wrong.is_real is not False and not wrong.has(sp.log):
        assert _exactly_nonzero(wrong, point)


def test_a_proof_that_holds_has_no_counterexample():
    proof = prove_zero(sp.Piecewise((z, z > 0), (0, True)) - sp.Max(z, 0), z)
    assert proof and proof.counterexample is None
    assert prove_zero(sp.sin(z) ** 2 + sp.cos(z) ** 2 - 1, z).counterexample is None


@given(st.integers(-20, 20).filter(bool), st.integers(1, 9))
def test_a_wrong_slope_is_refuted_where_it_is_wrong(num, den):
    # relu with the kink moved to num/den: the claim is wrong exactly between 0 and num/den
    k = sp.Rational(num, den)
    proof = prove_zero(sp.Piecewise((1, z > k), (0, True)) - sp.Piecewise((1, z > 0), (0, True)), z)
    assert not proof
    point = proof.counterexample[z]
    assert min(0, k) < point < max(0, k) or point == k or point == 0


def test_check_derivative_proves_and_refutes():
    r = symdl.formula_rule("log(1 + exp(z))")
    assert check_derivative(r, parse_derivative(r, "1/(1 + exp(-z))"))
    wrong = check_derivative(r, parse_derivative(r, "1/(1 + exp(z))"))
    assert not wrong
    mine, true = wrong.values_at_counterexample(30)
    assert abs(mine - true) > 1e-3
    relu = symdl.rule("relu")
    assert check_derivative(relu, parse_derivative(relu, "where(z > 0, 1, 0)"))  # the kink's value is a convention
    assert check_derivative(relu, parse_derivative(relu, "where(z >= 0, 1, 0)"))
    assert not check_derivative(relu, parse_derivative(relu, "where(z > 1, 1, 0)"))
    with pytest.raises(symdl.FormulaError):
        parse_derivative(r, "q + 1")
    with pytest.raises(TypeError):
        check_derivative(r, "1")  # type: ignore[arg-type]


def test_cli_proves_a_right_derivative(capsys):
    assert main(["check", "log(1 + exp(z))", "--derivative", "1/(1 + exp(-z))"]) == 0
    assert "PROVEN" in capsys.readouterr().out
    assert main(["check", "a*z**2", "--param", "a", "--derivative", "2*a*z"]) == 0
    assert main(["check", "elu", "--param", "alpha=2", "--derivative", "where(z > 0, 1, 2*exp(z))"]) == 0
    assert main(["check", "z*y", "--symbol", "z", "--wrt", "y", "--derivative", "z"]) == 0


def test_cli_refutes_a_wrong_derivative_with_an_exact_point(capsys):
    assert main(["check", "relu", "--derivative", "where(z > 1, 1, 0)"]) == 1
    text = capsys.readouterr().out
    assert "REFUTED at z = 1/2" in text and "yours gives 0, the derivative is 1 " in text and text.endswith("FAIL\n")
    assert main(["check", "mse", "--derivative", "2*(a - y)", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["proven"] is False and set(result["counterexample"]) == {"a", "y"}
    point = {sp.Symbol(k, real=True): sp.Rational(v) for k, v in result["counterexample"].items()}
    a_, y_ = sp.symbols("a y", real=True)
    assert (2 * (a_ - y_) - (a_ - y_)).xreplace(point) != 0


@pytest.mark.parametrize("bad", ["exp(", "q", "z +* 2", "__import__('os')"])
def test_cli_bad_derivative_text_is_one_line_and_exit_2(bad, capsys):
    assert main(["check", "z**2", "--derivative", bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symdl: error: --derivative") and "Traceback" not in err


# --- "this is the built-in X, printed stably" for several inputs ---------------------------------


def test_bce_written_by_hand_is_binary_cross_entropy_of_the_logit():
    from symdl.rulebook.registry import registered_equivalents

    r = symdl.formula_rule("-(y*log(a) + (1-y)*log(1-a))", wrt="a", symbols=("y",))
    (match,) = registered_equivalents(r)
    a_, y_ = r.inputs
    assert (match.name, match.arguments, match.through, match.changed) == ("binary_cross_entropy", (a_, y_), "logit", a_)
    # inputs named and ordered otherwise: matched by permutation
    swapped = symdl.formula_rule("-(t*log(p) + (1-t)*log(1-p))", wrt="t", symbols=("p",))
    (match,) = registered_equivalents(swapped)
    assert match.name == "binary_cross_entropy" and [s.name for s in match.arguments] == ["p", "t"]
    # a wrong BCE (y where 1 − y belongs) matches nothing
    wrong = symdl.formula_rule("-(y*log(a) + y*log(1-a))", wrt="a", symbols=("y",))
    assert registered_equivalents(wrong) == []


def test_two_input_losses_match_in_either_order():
    from symdl.rulebook.registry import registered_equivalents

    mse = symdl.formula_rule("(y - a)**2/2", wrt="y", symbols=("a",))
    assert [m.name for m in registered_equivalents(mse)] == ["mse"]
    assert [m.name for m in registered_equivalents(symdl.formula_rule("(y - a)**2", wrt="y", symbols=("a",)))] == []
    lse = symdl.formula_rule("log(exp(a - y) + exp(y - a)) - log(2)", wrt="a", symbols=("y",))
    assert "log_cosh" in [m.name for m in registered_equivalents(lse)]


def test_check_names_the_builtin_for_bce_written_by_hand(capsys):
    assert main(["check", "-(y*log(a) + (1-y)*log(1-a))", "--wrt", "a", "--symbol", "y"]) == 1
    text = capsys.readouterr().out
    assert "'binary_cross_entropy' computes this from the logit: with a = sigmoid(u) it is binary_cross_entropy(u, y)" in text



@settings(max_examples=5, deadline=None)
@given(c=st.integers(-3, 3))
def test_the_notebooks_stable_softplus_has_the_derivative_one_half_at_its_boundary(c):
    """log(1 + e^(−|u|)) + max(0, u), u = z − c, is softplus: C∞, f'(c) = 1/2 from both sides. SymPy's derivative
    (max' and sign(0) = 0) gives 0 at u = 0: the generated code returned 0 there, and the right claim σ(u) was refuted."""
    text = f"log(1 + exp(-abs(z - ({c})))) + max(0, z - ({c}))"
    r = symdl.formula_rule(text)
    z = r.wrt
    raw = diff_away_from_jumps(r.expr, z)
    assert removable_points(raw, z) == ((sp.Integer(c), sp.Rational(1, 2), sp.Integer(0)),)
    assert r.derivative().subs(z, c) == sp.Rational(1, 2)
    assert r.numeric_derivative()(np.array([float(c)]))[0] == 0.5
    assert check_derivative(r, 1 - 1 / (1 + sp.exp(z - c)))
    assert not check_derivative(r, sp.Piecewise((1 - 1 / (1 + sp.exp(z - c)), z > c), (0, True)))
    # another input's partial keeps SymPy's form; the claim is compared with the limit at the removable point
    other = symdl.formula_rule("z + " + text.replace("z", "u"), wrt="z", symbols=["u"])
    u = other.variable("u")
    partial = check_derivative(other, 1 - 1 / (1 + sp.exp(u - c)), "u")
    assert partial and partial.removable == ((sp.Integer(c), sp.Rational(1, 2), sp.Integer(0)),)
    wrong = check_derivative(other, sp.Piecewise((1 - 1 / (1 + sp.exp(u - c)), sp.Ne(u, c)), (0, True)), "u")
    assert not wrong and wrong.counterexample == {u: c}
    assert wrong.values_at_counterexample() == (0, sp.Float(0.5, 17))


def test_a_boundary_where_a_condition_has_a_pole_is_no_removable_point():
    # max(z/(1 + |z|), 27) is 27: its conditions hold z/(z + 1) ≤ 27, which SymPy cannot compare at z = −1 (zoo);
    # the derivative raised TypeError there ("Invalid comparison of non-real zoo"), found by bench/stability_sweep.py
    r = symdl.formula_rule("max((z)/(1 + abs(z)), (3)**3)")
    assert removable_points(diff_away_from_jumps(r.expr, r.wrt), r.wrt) == ()
    assert r.derivative().subs(r.wrt, 5) == 0
    assert r.numeric_derivative()(np.array([-3.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("shift", [-1, 0, 2])
def test_a_derivative_whose_untaken_arm_has_a_pole_is_proven_refuted_and_checked_from_the_cli(shift, capsys):
    # max(u/(1 + |u|), 27), u = z − s, is 27: its derivative 0 reads an if-then-else whose arm not taken at z = s − 1,
    # u/(1 − u) ≤ 27, is fine but whose other arm u/(u + 1) ≤ 27 is zoo ≤ 27 there; SymPy raised TypeError
    # ("Invalid comparison of non-real zoo") and check_derivative crashed (the CLI said so with exit 2).
    text = f"max((z - ({shift}))/(1 + abs(z - ({shift}))), 27)"
    r = symdl.formula_rule(text)
    pole = sp.Integer(shift - 1)
    assert moving_removable_points(diff_away_from_jumps(r.expr, r.wrt), r.wrt) == ((), ())
    assert check_derivative(r, sp.Integer(0))
    wrong = check_derivative(r, parse_derivative(r, f"where(z == {pole}, 1, 0)"))  # wrong only at the arm's pole
    assert not wrong and wrong.counterexample == {r.wrt: pole}
    assert wrong.values_at_counterexample() == (sp.Float(1, 17), 0)
    assert main(["check", text, "--derivative", "0"]) == 0
    assert "PROVEN" in capsys.readouterr().out
    assert main(["check", text, "--derivative", f"where(z == {pole}, 1, 0)", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counterexample"] == {"z": str(pole)} and report["values_at_counterexample"]["derivative"] == "0"


def test_cli_proves_the_notebooks_better_softplus(capsys):
    assert main(["check", "log(1 + exp(-abs(z))) + max(0, z)", "--derivative", "1 - 1/(1 + exp(z))"]) == 0
    assert "PROVEN: equal to symdl's Piecewise((1/2, Eq(z, 0))" in capsys.readouterr().out


def test_a_removable_point_that_moves_with_a_parameter_is_not_pinned_at_the_bound_value():
    # better softplus shifted by c: at c = 1 the removable point is z = 1, but the symbolic derivative holds for every c;
    # a branch Eq(z, 1) → 1/2 read at the bound value would be wrong at c = 3 (true f'(1) = σ(−2) there).
    r = symdl.formula_rule("log(1 + exp(-abs(z - c))) + max(0, z - c)", params={"c": 1.0})
    z, c = r.wrt, next(s for s in r.expr.free_symbols if s.name == "c")
    derived = r.derivative()
    true = 1 - 1 / (1 + sp.exp(z - c))
    for c_value, z_value in ((3, 1), (sp.Rational(1, 2), 1), (2, sp.Rational(-1, 3))):
        assert abs(sp.N((derived - true).subs({c: c_value}).subs({z: z_value}), 30)) < 1e-25, (c_value, z_value)


def test_the_method_names_a_removable_point_by_its_limit_and_a_kink_as_a_kink():
    other = symdl.formula_rule("z + log(1 + exp(-abs(u - 1))) + max(0, u - 1)", wrt="z", symbols=["u"])
    u = other.variable("u")
    partial = check_derivative(other, 1 - 1 / (1 + sp.exp(u - 1)), "u")
    assert partial.proof.method == (
        "case analysis on the 2 intervals cut by 1 breakpoint; at u = 1 equal to the derivative's limit 1/2 from both sides"
    )
    relu = symdl.formula_rule("max(0, z - 2)")
    proof = check_derivative(relu, parse_derivative(relu, "where(z > 2, 1, 0)")).proof
    assert proof.method == "case analysis on the 2 intervals cut by 1 breakpoint, the kink 2 excluded"
    assert not check_derivative(relu, parse_derivative(relu, "where(z > 1, 1, 0)"))


def test_a_claim_wrong_at_a_removable_point_only_for_some_other_input_is_refuted():
    # ∂/∂u at the removable point u = 1 is 1/2 for every z; a claim whose value there still depends on z (a branch
    # on z left after u = 1 is put in) was not compared at all, and the method said it equalled the limit there.
    other = symdl.formula_rule("z + log(1 + exp(-abs(u - 1))) + max(0, u - 1)", wrt="z", symbols=["u"])
    u, z = other.variable("u"), other.wrt
    right = 1 - 1 / (1 + sp.exp(u - 1))
    for wrong in (right + sp.Piecewise((1, sp.Eq(u, 1) & (z > 0)), (0, True)),
                  sp.Piecewise((right, sp.Ne(u, 1)), (sp.Piecewise((0, z > 0), (sp.Rational(1, 2), True)), True))):
        check = check_derivative(other, wrong, "u")
        assert not check and check.counterexample[u] == 1 and check.counterexample[z] > 0, check.proof.method
        claimed, true = check.values_at_counterexample()
        assert true == sp.Float(0.5, 17) and claimed != true
    # right at u = 1 for every z although written with a branch on z there: still proven
    same = sp.Piecewise((right, sp.Ne(u, 1)), (sp.Piecewise((sp.Rational(1, 2), z > 0), (sp.Rational(1, 2), True)), True))
    assert check_derivative(other, same, "u")


# --- a claim off by a constant, or on an open interval, is refuted at a point that names the variable -----------


def test_prove_zero_of_a_constant_names_a_value_of_the_variable():
    """1 − 0 has no free symbol; "≡ 0 for every real z" is refuted at a value of z (an empty point reads as none)."""
    proof = prove_zero(sp.Integer(1), z)
    assert not proof and set(proof.counterexample) == {z} and proof.counterexample[z].is_Rational
    proof = prove_zero(a, z)  # a parameter but not the variable: both are named
    assert not proof and set(proof.counterexample) == {a, z} and proof.counterexample[a] != 0
    assert prove_zero(sp.Integer(0), z) and prove_zero(sp.Integer(0), z).counterexample is None


def test_sign_with_the_straight_through_claim_one_is_refuted_at_a_point(capsys):
    sign = symdl.formula_rule("sign(z)")
    s = sign.wrt
    check = check_derivative(sign, parse_derivative(sign, "1"))
    assert not check
    point = check.counterexample
    assert set(point) == {s} and point[s].is_Rational and point[s] != 0  # away from sign's jump, where its slope is 0
    assert tuple(map(float, check.values_at_counterexample())) == (1.0, 0.0)
    assert check_derivative(sign, parse_derivative(sign, "0"))  # the right claim is still proven
    assert main(["check", "sign(z)", "--derivative", "1"]) == 1
    text = capsys.readouterr().out
    assert f"REFUTED at z = {point[s]}: yours gives 1, the derivative is 0 " in text and text.endswith("FAIL\n")
    assert main(["check", "sign(z)", "--derivative", "1", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["counterexample"] == {"z": str(point[s])}
    assert result["values_at_counterexample"] == {"claimed": "1.0000000000000000", "derivative": "0"}


def test_a_constant_difference_in_a_parameter_is_refuted_with_every_symbol_of_both_sides_given(capsys):
    """a + 1 − a is 1 for every a, but both sides are numbers only once a has a value (the CLI stopped with an
    internal error on a + 1 vs a: it compared a + 1.0 with 1e300)."""
    r = symdl.formula_rule("a*z", params={"a": None})
    a_ = next(s for s in r.expr.free_symbols if s.name == "a")
    check = check_derivative(r, parse_derivative(r, "a + 1"))
    assert not check and set(check.counterexample) == {r.wrt, a_}
    mine, true = check.values_at_counterexample(30)
    assert abs(mine - true - 1) < 1e-25 and abs(true - check.counterexample[a_]) < 1e-25
    assert main(["check", "a*z", "--param", "a", "--derivative", "a + 1"]) == 1
    text = capsys.readouterr().out
    assert "REFUTED at z = " in text and ", a = " in text and "internal error" not in text


_RULES = ("relu", "abs", "leaky_relu", "hard_tanh", "sign(z)", "z**3", "log(1 + exp(z))")


def _rule(name: str) -> symdl.Rule:
    return symdl.rule(name) if name in symdl.rules() else symdl.formula_rule(name)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(_RULES), c=st.integers(-5, 5).filter(bool), den=st.integers(1, 4))
def test_a_claim_off_by_a_constant_is_refuted_where_the_two_differ_by_it(name, c, den):
    r = _rule(name)
    shift = sp.Rational(c, den)
    check = check_derivative(r, r.derivative() + shift)
    assert not check and set(check.counterexample) == {r.wrt}
    assert check.counterexample[r.wrt] not in check.kinks
    mine, true = check.values_at_counterexample(30)
    assert abs(mine - true - shift) < 1e-25


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(_RULES), c=st.integers(-5, 5).filter(bool),
       ends=st.lists(st.integers(-12, 12), min_size=2, max_size=2, unique=True), den=st.integers(1, 5))
def test_a_claim_wrong_on_an_open_interval_only_is_refuted_inside_it(name, c, ends, den):
    r = _rule(name)
    lo, hi = sorted(sp.Rational(e, den) for e in ends)
    x = r.wrt
    check = check_derivative(r, r.derivative() + sp.Piecewise((c, (x > lo) & (x < hi)), (0, True)))
    assert not check
    point = check.counterexample[x]
    assert lo < point < hi and point not in check.kinks
    mine, true = check.values_at_counterexample(30)
    assert abs(mine - true - c) < 1e-25


@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu", "hard_tanh"])
def test_a_claim_that_differs_only_at_a_kink_is_still_proven(name):
    r = _rule(name)
    x = r.wrt
    assert r.kinks
    at_kinks = sp.Piecewise(*[(7, sp.Eq(x, k.at)) for k in r.kinks], (0, True))
    check = check_derivative(r, r.derivative() + at_kinks)
    assert check and check.counterexample is None and "excluded" in check.proof.method


def test_sign_has_no_kink_in_its_derivative_so_a_claim_different_at_0_is_refuted_there():
    """sign jumps at 0, but its derivative (0 on both sides) has no kink to exclude: compared at 0, as before."""
    sign = symdl.formula_rule("sign(z)")
    s = sign.wrt
    check = check_derivative(sign, sp.Piecewise((1, sp.Eq(s, 0)), (0, True)))
    assert not check and check.counterexample == {s: 0} and not check.kinks
