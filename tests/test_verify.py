"""verify_rule: every built-in element-wise rule passes; deliberately broken rules fail the right check."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symdl.rulebook.definition import Definition
from symdl.rulebook.registry import rule, rules
from symdl.rulebook.rule import Rule
from symdl.symbolic.functions import sigmoid, softplus
from symdl.verify import FD_TOLERANCE, RuleReport, verify_rule

z = sp.Symbol("z", real=True)
g = sp.Symbol("g", real=True)

ELEMENTWISE = [
    name for name, kind in rules().items()
    if kind in ("activation", "loss", "penalty") and isinstance(rule(name), Rule)
]


def make_rule(name: str, definition: Definition) -> Rule:
    return Rule(name, "activation", definition, {}, {}, "pytorch", "a deliberately broken rule")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_builtin_rule_passes(name):
    report = verify_rule(rule(name), points=50)
    assert isinstance(report, RuleReport)
    assert report.name == name
    assert report.proofs and report.proven, report.proofs
    assert report.kinks_ok
    assert report.fd_error <= FD_TOLERANCE
    assert report.accuracy64 <= 1e-13
    assert report.accuracy32 <= 1e-5
    assert report.stable, report.unstable
    assert report.passed


def test_non_default_parameters_pass_too():
    for r in (rule("huber", delta=0.25), rule("leaky_relu", alpha=0.3), rule("elu", alpha=2.0), rule("l1", lam=3.0)):
        report = verify_rule(r, points=50)
        assert report.passed, (r, report)


def test_other_kink_conventions_pass_too():
    for name, convention in (("relu", "right"), ("hard_tanh", "average"), ("mae", "left")):
        report = verify_rule(rule(name, kink_convention=convention), points=30)
        assert report.kinks_ok and report.passed, (name, convention, report)


def test_sigmoid_built_by_hand_passes():
    """The control for the broken rules below: the correct definition passes."""
    good = make_rule(
        "good_sigmoid",
        Definition(expr=sigmoid(z), inputs=(z,), textbook=g * (1 - g), output=g,
                   stable_derivative=sigmoid(z) * sigmoid(-z)),
    )
    assert verify_rule(good, points=50).passed


def test_wrong_textbook_derivative_fails_the_proof():
    broken = make_rule("sigmoid_textbook_g", Definition(expr=sigmoid(z), inputs=(z,), textbook=g, output=g))
    report = verify_rule(broken, points=50)
    assert report.proofs["derivative - textbook"] is False
    assert not report.proven
    assert not report.passed


def test_stable_derivative_off_by_a_factor_two_fails_proof_fd_and_accuracy():
    broken = make_rule(
        "sigmoid_twice",
        Definition(expr=sigmoid(z), inputs=(z,), textbook=g * (1 - g), output=g,
                   stable_derivative=2 * sigmoid(z) * sigmoid(-z)),
    )
    report = verify_rule(broken, points=50)
    assert report.proofs["derivative - textbook"] is True
    assert report.proofs["stable derivative - derivative"] is False
    assert report.fd_error > 0.01  # the generated derivative is twice the slope of the generated forward
    assert report.accuracy64 > 0.5
    assert not report.passed


def test_wrong_stable_forward_fails_proof_and_accuracy():
    broken = make_rule(
        "softplus_shifted",
        Definition(expr=softplus(z), inputs=(z,), textbook=sigmoid(z), stable_expr=softplus(z) + sp.Rational(1, 10**6)),
    )
    report = verify_rule(broken, points=50)
    assert report.proofs["stable forward - expr"] is False
    assert report.accuracy64 > 1e-10
    assert not report.passed


def test_naive_stable_form_fails_the_stability_check():
    """Proven equal, accurate on [-40, 40], but overflows at z ≈ 710 (float64) and 89 (float32)."""
    naive = make_rule(
        "naive_softplus",
        Definition(expr=softplus(z), inputs=(z,), textbook=sigmoid(z), stable_expr=sp.log(1 + sp.exp(z)),
                   stable_derivative=sp.exp(z) / (1 + sp.exp(z))),
    )
    report = verify_rule(naive, points=50)
    assert report.proven
    assert not report.stable
    assert any("float32" in problem for problem in report.unstable)
    assert any("float64" in problem for problem in report.unstable)
    assert not report.passed


def test_kink_value_outside_the_subgradient_fails():
    relu_expr = sp.Piecewise((0, z <= 0), (z, True))
    broken = make_rule(
        "relu_slope_two_at_zero",
        Definition(expr=relu_expr, inputs=(z,), textbook=sp.Piecewise((0, z < 0), (1, True)),
                   pytorch_kinks={sp.Integer(0): sp.Integer(2)}),
    )
    report = verify_rule(broken, points=50)
    assert report.proven  # the identities hold away from the kink
    assert not report.kinks_ok
    assert not report.passed


def test_report_fields_for_a_passing_rule_are_measurements():
    report = verify_rule(rule("sigmoid"), points=50)
    # Real measurements, not placeholders: sigmoid's float32 code is not exact.
    assert 0.0 < report.accuracy32 <= 1e-5
    assert 0.0 < report.fd_error <= FD_TOLERANCE
    assert report.unstable == []


def test_verify_rule_is_reproducible():
    first = verify_rule(rule("softplus"), points=20, seed=3)
    second = verify_rule(rule("softplus"), points=20, seed=3)
    assert (first.fd_error, first.accuracy64, first.accuracy32) == (second.fd_error, second.accuracy64,
                                                                   second.accuracy32)


def test_deliberately_broken_numbers_are_in_scale():
    """A factor-2 derivative must show an fd error near 1 relative (|2d - d| / max(1, |2d|) with d ≤ 1/4)."""
    broken = make_rule(
        "sigmoid_twice_again",
        Definition(expr=sigmoid(z), inputs=(z,), textbook=g * (1 - g), output=g,
                   stable_derivative=2 * sigmoid(z) * sigmoid(-z)),
    )
    report = verify_rule(broken, points=200, seed=1)
    # max over z of σ'(z) = 1/4 at z = 0: the error |2σ' − σ'| / max(1, 2σ') peaks near 0.25
    assert 0.1 < report.fd_error <= 0.25 + 1e-6
    assert np.isfinite(report.accuracy64)


def test_formulas_that_overflow_or_leave_the_reals_fail_without_hanging_or_warning():
    """exp(exp(exp(z))) once sent mpmath after exp(exp(exp(40))) forever; log(z) raised mpmath's TypeError."""
    import subprocess
    import sys

    script = (
        "import warnings, symdl\n"
        "warnings.simplefilter('error')\n"
        "for text in ('exp(exp(exp(z)))', 'log(z)', 'sqrt(z)'):\n"
        "    report = symdl.verify_rule(symdl.formula_rule(text))\n"
        "    print(text, report.passed, report.stable)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines == ["exp(exp(exp(z))) False False", "log(z) False False", "sqrt(z) False False"], lines
