"""The CLI on grammar-generated formulas: exit 0/1/2, one error line on 2, no traceback, no file left on failure.

Bounded here (small formulas, few examples, a deadline per example);
``python bench/fuzz_cli.py`` runs thousands (counts in docs/testing.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cli_fuzz_driver import Outcome, problems, run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symdl.testing.formula_strategies import EXTREME_CONSTANTS, formula_texts

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=12, deadline=timedelta(seconds=20), suppress_health_check=[HealthCheck.too_slow])


def assert_holds(outcome: Outcome) -> None:
    assert problems(outcome) == [], (outcome.command, outcome.formula, outcome.err)


#: The --time-limit of the fuzz runs, and what a run may take beyond it (the fork, passing the result back, a busy CI).
LIMIT, SLACK = 4.0, 4.0


@FUZZ
@given(st.sampled_from(["derive", "check", "codegen"]), formula_texts(max_leaves=4))
def test_derive_check_codegen_hold_their_guarantees(command, text):
    outcome = run(command, text, time_limit=LIMIT)
    assert_holds(outcome)
    assert outcome.seconds < LIMIT + SLACK, (command, text, outcome.seconds)


@settings(FUZZ, max_examples=2)
@given(formula_texts(max_leaves=3))
def test_report_holds_its_guarantees(text):
    assert_holds(run("report", text))


@pytest.mark.parametrize("constant", EXTREME_CONSTANTS)
@pytest.mark.parametrize("command", ["check", "codegen"])
def test_every_extreme_constant_times_z(command, constant):
    assert_holds(run(command, f"({constant})*z"))


def test_the_checks_catch_what_they_should():
    """problems() itself: a traceback, two lines on exit 2, a file left on failure and a strange exit are caught."""
    good = Outcome("check", "z", 2, "", "symdl: error: x\n", 0.0, [])
    assert problems(good) == []
    assert problems(Outcome("check", "z", 2, "", "symdl: error: x\nmore\n", 0.0, []))
    assert problems(Outcome("check", "z", 2, "", "Traceback (most recent call last):\n", 0.0, []))
    assert problems(Outcome("codegen", "z", 2, "", "symdl: error: x\n", 0.0, ["f.py"]))
    assert problems(Outcome("check", "z", -1, "", "", 0.0, []))
    assert problems(Outcome("check", "z", 0, "", "warning\n", 0.0, []))


@pytest.mark.parametrize("argv", [
    ["check", "exp(-1e300)*z"],
    ["codegen", "1e309*z", "-o", "{tmp}/f.py"],
    ["derive", "(z if (z < 1e-320) else 10**100)"],
])
def test_a_few_subprocess_runs(tmp_path, argv):
    argv = [a.format(tmp=tmp_path) for a in argv]
    done = subprocess.run([sys.executable, "-m", "symdl", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    outcome = Outcome(argv[0], argv[1], done.returncode, done.stdout, done.stderr, 0.0, sorted(os.listdir(tmp_path)))
    assert_holds(outcome)


@FUZZ
@given(st.one_of(st.text(max_size=20), st.sampled_from(["relu ", "sigmoid\x00", "--points", "-o", "Relu", "é", ""])))
def test_verify_of_unknown_names_is_one_error_line(name):
    import symdl

    assume(name not in symdl.rules())
    assert_holds(run("verify", name))
