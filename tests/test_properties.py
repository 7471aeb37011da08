"""Boundary continuity (symdl.rulebook.continuity) and the `symdl check` command."""

import dataclasses
import json

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.rulebook.continuity import boundary_properties
from symdl.symbolic.readable import FACTOR_SLACK, readable

KERAS_VARIANT = "where(abs(e) < d, e**2/2, d*abs(e) - d*2*0.5)"
KERAS_HUBER = "where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)"


def test_the_keras_variant_jumps_by_d_times_d_minus_2_over_2():
    report = boundary_properties(symdl.formula_rule(KERAS_VARIANT, wrt="e", params={"d": None}))
    assert not report.continuous and report.derivative_continuous
    d = sp.Symbol("d", real=True)
    jumps = {str(b.at): b for b in report.boundaries if b.what == "value" and not b.continuous}
    assert set(jumps) == {"d", "-d"}
    assert sp.simplify(jumps["d"].jump - d * (d - 2) / 2) == 0
    assert jumps["d"].vanishes_for == {"d": [0, 2]}


@pytest.mark.parametrize(("value", "continuous"), [(2, True), (1, False), (1.5, False)])
def test_the_variant_is_continuous_only_at_d_2(value, continuous):
    report = boundary_properties(symdl.formula_rule(KERAS_VARIANT, wrt="e", params={"d": value}))
    assert report.continuous is continuous


def test_the_correct_keras_huber_and_every_rule_are_continuous():
    assert boundary_properties(symdl.formula_rule(KERAS_HUBER, wrt="e", params={"d": None})).continuous
    for name in symdl.rules():
        r = symdl.rule(name)
        if isinstance(r, symdl.Rule):
            report = boundary_properties(r)
            assert report.continuous, name
            assert report.derivative_continuous is (not r.kinks), name


def test_check_fails_the_variant_with_the_jump_and_exit_1(capsys):
    assert main(["check", KERAS_VARIANT, "--wrt", "e", "--param", "d"]) == 1
    out = capsys.readouterr().out
    assert "value JUMPS at e = d" in out and "zero only for d = 0, 2" in out
    assert "numeric checks skipped: give values to d" in out


def test_check_passes_the_real_huber_and_the_variant_at_d_2(capsys):
    assert main(["check", "huber", "--param", "delta=1.5"]) == 0
    assert main(["check", KERAS_VARIANT, "--wrt", "e", "--param", "d=2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("PASS")


def test_check_flags_the_naive_softplus_as_typed_and_names_the_stable_form(capsys):
    """The code prints the rewrite pass's softplus(z), so the check passes; the text as typed still overflows."""
    assert main(["check", "log(exp(z) + 1)"]) == 0
    out = capsys.readouterr().out
    assert "as typed, log(exp(z) + 1) is unstable" in out and "overflow" in out
    assert "generated code uses softplus(z), proven equal (rewrite softplus)" in out
    assert "'softplus' is the same function" in out


def test_check_says_nothing_of_rewrites_when_none_applies(capsys):
    assert main(["check", "z**2"]) == 0
    out = capsys.readouterr().out
    assert "as typed" not in out and "generated code uses" not in out


def test_check_json(capsys):
    assert main(["check", KERAS_VARIANT, "--wrt", "e", "--param", "d", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False and result["continuous"] is False and result["numeric"] is None
    assert {"of": "value", "at": "d", "left": "d**2/2", "right": "d*(d - 1)", "jump": "d*(d - 2)/2",
            "vanishes_for": {"d": ["0", "2"]}, "declared": False} in result["boundaries"]


def test_check_refuses_vector_rules_in_one_line(capsys):
    assert main(["check", "softmax"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("name", [n for n in symdl.rules() if isinstance(symdl.rule(n), symdl.Rule)])
def test_check_passes_every_rule(name, capsys):
    # No time limit: the verdict is under test here, not the budget (tests/test_budget.py), and a loaded
    # machine can take gelu's check past the default 30 s.
    assert main(["check", name, "--time-limit", "0"]) == 0, capsys.readouterr().out


def test_hardshrink_jumps_by_its_definition_and_the_same_function_typed_fails(capsys):
    """hardshrink declares its jumps at ±λ; the same function typed as a formula declares nothing and fails."""
    report = boundary_properties(symdl.rule("hardshrink", lambd=0.75))
    jumps = [b for b in report.boundaries if b.what == "value" and not b.continuous]
    assert {str(b.at) for b in jumps} == {"3/4", "-3/4"} and all(b.declared for b in jumps)
    assert report.continuous
    assert main(["check", "hardshrink"]) == 0
    assert "jump 1/2 (by hardshrink's definition)" in capsys.readouterr().out
    assert main(["check", "where(abs(z) > 0.5, z, 0)"]) == 1
    assert "by " not in capsys.readouterr().out.split("JUMPS", 1)[1].splitlines()[0]


def test_a_declared_jump_point_does_not_excuse_a_jump_elsewhere():
    """threshold declares θ only: a value jump moved to another point is not declared."""
    r = symdl.rule("threshold", threshold=1.0, value=0.0)
    assert boundary_properties(r).continuous
    definition = dataclasses.replace(r.definition, declared_jumps=(sp.Integer(2),))
    moved = symdl.Rule(r.name, r.kind, definition, r.param_symbols, r.params, r.kink_convention, r.summary)
    report = boundary_properties(moved)
    assert not report.continuous and not any(b.declared for b in report.boundaries)


def test_check_names_a_parameterised_rule_at_its_defaults(capsys):
    """Squareplus typed by hand cancels for z ≪ 0 (float32 accuracy fails); the hint names squareplus with b = 4."""
    assert main(["check", "(z + sqrt(z**2 + 4))/2"]) == 1
    out = capsys.readouterr().out
    assert "symdl's rule 'squareplus' at b = 4 is the same function" in out
    assert "symdl derive squareplus --param b=4 --format python" in out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=st.integers(3, 40))
def test_check_prints_a_softplus_cutoffs_derivative_jump_as_one_fraction(t, capsys):
    """softplus cut to z at z = t (torch's threshold): f' jumps by 1 − eᵗ/(1 + eᵗ) = 1/(1 + eᵗ), not factor's
    product over e^(t/k) (1/((1 + e⁴)(e¹⁶ − e¹² + e⁸ − e⁴ + 1)) at t = 20)."""
    text = f"where(z < {t}, log(1 + exp(z)), z)"
    jump, = [b for b in boundary_properties(symdl.formula_rule(text)).boundaries if b.what == "derivative"]
    assert jump.jump == 1 / (1 + sp.exp(t))                      # structurally: this form, not an equal one
    assert sp.simplify(jump.jump - (jump.right - jump.left)) == 0
    capsys.readouterr()
    assert main(["check", text]) == 1
    value = float(1 / (1 + sp.exp(t)))
    assert f"derivative JUMPS at z = {t}: exp({t})/(1 + exp({t})) -> 1, jump 1/(1 + exp({t})) (≈ {value:.3g})" in capsys.readouterr().out


@settings(max_examples=20, deadline=None)
@given(a=st.integers(-5, 5), b=st.integers(-5, 5).filter(bool), k=st.integers(1, 30))
def test_readable_is_the_same_value_and_never_longer_than_factor(a, b, k):
    d = sp.Symbol("d", real=True)
    for e in (d * (d - a) / b, 1 - sp.exp(k) / (1 + sp.exp(k)) + a, sp.cosh(1) ** 2 * b - sp.exp(2) / 4):
        shown = readable(e)
        assert sp.simplify(shown - e) == 0
        assert sp.count_ops(shown) <= sp.count_ops(sp.factor(e)) + FACTOR_SLACK


@pytest.mark.parametrize(("text", "next_failure"), [
    ("where(z > 0, z + 1, z)", None),
    ("where(z > 0, log(z**3) + 1, z)", "unstable: f (float32)"),
])
def test_check_prints_a_value_jump_once_and_the_next_failure_after_the_numeric_row(text, next_failure, capsys):
    assert main(["check", text]) == 1
    lines = capsys.readouterr().out.splitlines()
    # The JUMPS line above the numeric row, not a detail line under it again.
    assert sum("value jumps at z = 0" in line.lower() for line in lines) == 1, lines
    row = next(i for i, line in enumerate(lines) if line.startswith("  numeric: "))
    assert "JUMPS" in lines[row] and any(line.startswith("  value JUMPS at z = 0: 0 -> ") for line in lines[:row])
    detail = lines[row + 1]
    if next_failure is None:
        assert detail == "FAIL", lines
    else:
        assert detail.startswith(f"  {text}: {next_failure}"), lines
