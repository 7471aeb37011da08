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
from symdl.symbolic.removable import removable_points

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
