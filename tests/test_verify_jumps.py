"""verify_rule and `symdl verify` fail a rule whose value jumps where it does not declare it, naming the point and both limits."""

from __future__ import annotations

import json

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.report.check_display import failure_details, report_row
from symdl.rulebook import registry
from symdl.rulebook.definition import Definition
from symdl.verify.cache import report_data, report_from_data

WRONG_HUBER = "where(abs(a - y) < d, (a - y)**2/2, d*abs(a - y) - d*2*0.5)"   # jumps by ±d(d − 2)/2 at |a − y| = d
HUBER = "where(abs(e) <= d, e**2/2, d*abs(e) - d**2/2)"


@settings(max_examples=5, deadline=None)
@given(d=st.integers(1, 12).filter(lambda n: n != 4).map(lambda n: n / 2))
def test_the_notebooks_wrong_huber_fails_verification_with_both_limits(d):
    r = symdl.formula_rule(WRONG_HUBER, wrt="a", symbols=["y"], params={"d": d})
    report = symdl.verify_rule(r, points=20)
    assert not report.passed and report.proven and report.stable and report_row(report)[2] == "JUMPS"
    low, high = report.value_jumps
    # at a = y − d: the outer branch d·|e| − d gives d² − d from the left, the inner e²/2 gives d²/2 from the right
    inner, outer = sp.nsimplify(d) ** 2 / 2, sp.nsimplify(d) ** 2 - sp.nsimplify(d)
    for line, at, left, right in ((low, f"y - {sp.nsimplify(d)}", outer, inner), (high, f"y + {sp.nsimplify(d)}", inner, outer)):
        assert line.startswith(f"value jumps at a = {at}: ")
        shown_left, shown_right = line.split(": ", 1)[1].split(" (jump")[0].split(" from the left, ")
        assert sp.nsimplify(sp.sympify(shown_left)) == left                 # the test's own exact arithmetic
        assert sp.nsimplify(sp.sympify(shown_right.removesuffix(" from the right"))) == right
        assert line.endswith("a Network refuses it as a loss or penalty, and as an activation its gradient never sees the jump")
    assert failure_details(report) == [f"{r.name}: {low}", f"{r.name}: {high}"]


@settings(max_examples=5, deadline=None)
@given(d=st.floats(0.25, 4.0))
def test_the_continuous_huber_and_the_wrong_one_at_d_2_pass(d):
    assert symdl.verify_rule(symdl.formula_rule(HUBER, wrt="e", params={"d": d}), points=20).passed
    assert symdl.verify_rule(symdl.formula_rule(WRONG_HUBER, wrt="a", symbols=["y"], params={"d": 2.0}), points=20).passed


def test_a_step_activation_fails_as_a_jump_not_silently():
    report = symdl.verify_rule(symdl.formula_rule("where(z > 0, 1, 0)"), points=20)
    assert report.kinks_ok and report.fd_error == 0 and not report.passed       # every numeric check is blind to it
    assert report.value_jumps[0].startswith("value jumps at z = 0: 0 from the left, 1 from the right (jump 1); ")
    assert "value jumps at z = 0" in str(report) and "JUMPS" in str(report)


def test_a_jump_between_irrational_values_shows_them_to_twelve_digits():
    report = symdl.verify_rule(symdl.formula_rule("where(z < 20, log(1 + exp(z)), z)"), points=20)
    assert report.value_jumps[0].startswith(
        "value jumps at z = 20: log(1 + exp(20)) (≈ 20.0000000021) from the left, 20 from the right "
        "(jump 20 - log(1 + exp(20)) (≈ -2.06e-09)); ")


def _user_rule(jumps: bool, declared: bool) -> Definition:
    z, g = sp.Symbol("z", real=True), sp.Symbol("g", real=True)
    expr = sp.Piecewise((z + 1, z > 0), (z, True)) if jumps else sp.Piecewise((z**2, z > 0), (0, True))
    textbook = sp.Integer(1) if jumps else sp.Piecewise((2 * z, z > 0), (0, True))
    return Definition(expr=expr, inputs=(z,), textbook=textbook, output=g, declared_jumps=(sp.Integer(0),) if declared else ())


@pytest.mark.parametrize(("kind", "jumps", "declared", "why"), [
    ("penalty", True, False, "a penalty must be continuous: its gradient never sees a jump"),
    ("activation", True, False,
     "its gradient never sees the jump; a rule that jumps on purpose declares it (Definition.declared_jumps, as hardshrink does)"),
    ("activation", True, True, None),
    ("penalty", False, False, None),
])
def test_symdl_verify_rows_of_a_users_rule(kind, jumps, declared, why, monkeypatch, capsys):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the test's rule leaves with the test
    registry.register("user_step_for_jump_test", kind)(lambda: _user_rule(jumps, declared))
    code = main(["verify", "user_step_for_jump_test", "--points", "20", "--no-cache", "-j", "1"])
    out = capsys.readouterr().out
    if why is None:
        assert code == 0 and "value jumps" not in out, out
        return
    assert code == 1
    assert (f"user_step_for_jump_test: value jumps at z = 0: 0 from the left, 1 from the right (jump 1); {why}"
            in out.splitlines()), out
    assert main(["verify", "user_step_for_jump_test", "--points", "20", "--no-cache", "-j", "1", "--json"]) == 1
    row, = json.loads(capsys.readouterr().out)
    assert row["value_jumps"] and row["value_jumps"][0].endswith(why) and not row["passed"]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.sampled_from(["where(z > 0, 1, 0)", "where(z > 1, z, 0)", "abs(z)"]))
def test_a_cached_report_keeps_its_jumps(text):
    report = symdl.verify_rule(symdl.formula_rule(text), points=10)
    again = report_from_data(json.loads(json.dumps(report_data(report))))
    assert again == report and again.passed is report.passed


def test_the_reports_checks_show_a_jump_as_a_failed_check_and_none_for_a_continuous_rule():
    from symdl.report.checks import verify_checks

    step = symdl.verify_rule(symdl.formula_rule("where(z > 0, 1, 0)"), points=20)
    failed = [c for c in verify_checks(step, {}, True, 20) if not c.passed]
    assert [(c.what, c.detail) for c in failed] == [("the value does not jump at a boundary the rule does not declare", step.value_jumps[0])]
    relu = symdl.verify_rule(symdl.rule("relu"), points=20)
    assert not any("jump" in c.what for c in verify_checks(relu, {}, True, 20, kinks=True))
